"""The cluster plan against llama.cpp's RPC backend (memory per device) and against public
multi-node llama.cpp RPC results (speed).

Memory: every case of tests/rpc/test_rpc_oracle.py, vramtui's model / context / compute MiB per
device beside `llama-fit-params --rpc` over ggml-rpc-server processes on loopback (needs
`make rpc-oracle`; skipped with that hint otherwise).

Speed: decode and prefill over the wire beside published runs (llama-bench tg128 / pp512 unless
said). `RPC_COMMAND_S` (vramtui.core.cluster.speed) was fitted on the fit row; the check rows
were not used for any constant.
  fit    defilantech/LLMKube #1423: two DGX Sparks, Qwen-27B-class Q4_K_M, -ngl 99, ctx 8192,
         one node vs two over a direct cable (TCP 17.8 Gbit/s): decode 12.83 -> 12.42 tok/s,
         prefill 106.0 -> 73.4 tok/s. The ratio two/one isolates what the wire costs.
  check  kyuz0/amd-strix-halo-toolboxes benchmark/results-rpc/09-01-2026 (two Framework Desktops,
         128 GB, 50 GbE, ROCm 6.4.4, one rpc-server + llama-bench --rpc): MiniMax-M2 UD-Q6_K_XL
         (180.94 GiB) tg128 18.17, pp512 173.98; GLM-4.6 UD-Q4_K_XL (189.69 GiB) tg128 8.78,
         pp512 95.55.
Model shapes for rows without a catalog entry come from the models' config.json on Hugging Face
(MiniMaxAI/MiniMax-M2: 62 layers, hidden 3072, 48 heads / 8 KV of 128, 256 experts of 1536, top
8, vocab 200064; zai-org/GLM-4.6: 92 layers + 1 MTP, hidden 5120, 96 heads / 8 KV of 128,
160 experts of 1536 + 1 shared, top 8, 3 dense layers of 12288, vocab 151552), synthesized at
the nearest plain quantization (Q6_K, Q4_K_M): the sizes land within 5 % of the published files.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from vramtui.core.catalog.entries import catalog_metadata, open_catalog_model
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.cluster.build import Cluster, ClusterNode, evaluate_cluster
from vramtui.core.cluster.speed import cluster_speed
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import MetaValue, ModelSpec, SkippedArray
from vramtui.core.hardware.links import ETHERNET_RTT_S, LinkPreset, get_link
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.speed.predict import decode_seconds, prefill_seconds, speed_inputs

MIB = 2**20
DIRECT_CABLE = LinkPreset(
    "spark-cable",
    "DGX Spark direct cable (TCP)",
    17.8,
    ETHERNET_RTT_S,
    "17.8 Gbit/s over TCP measured in defilantech/LLMKube #1423",
)


def _vocab(n: int) -> SkippedArray:
    return SkippedArray(item_type=8, length=n)


def _minimax_m2(quant: str) -> ModelSpec:
    a = "qwen3moe"  # same tensor layout: per-head Q/K norms, routed experts only
    md: dict[str, MetaValue] = {
        "general.architecture": a,
        f"{a}.block_count": 62,
        f"{a}.context_length": 196608,
        f"{a}.embedding_length": 3072,
        f"{a}.feed_forward_length": 1536,
        f"{a}.attention.head_count": 48,
        f"{a}.attention.head_count_kv": 8,
        f"{a}.attention.key_length": 128,
        f"{a}.attention.value_length": 128,
        f"{a}.rope.dimension_count": 64,
        f"{a}.expert_count": 256,
        f"{a}.expert_used_count": 8,
        f"{a}.expert_feed_forward_length": 1536,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.tokens": _vocab(200064),
    }
    return synthesize_spec(md, quant, name=f"MiniMax-M2 ({quant} stand-in)", source="bench")


def _glm_46() -> ModelSpec:
    md = dict(catalog_metadata("glm-4.5-air") or {})
    a = "glm4moe"
    md.update(
        {
            f"{a}.block_count": 93,
            f"{a}.embedding_length": 5120,
            f"{a}.feed_forward_length": 12288,
            f"{a}.expert_count": 160,
            f"{a}.expert_feed_forward_length": 1536,
            f"{a}.leading_dense_block_count": 3,
            f"{a}.context_length": 202752,
        }
    )
    return synthesize_spec(md, "Q4_K_M", name="GLM-4.6 (Q4_K_M stand-in)", source="bench")


def _node(machine: str, **changes: Any) -> ClusterNode:
    return ClusterNode(MachineState.default_for(get_machine(machine), **changes))


def _single(spec: ModelSpec, node: ClusterNode, depth: int, prompt: int) -> tuple[float, float]:
    """One machine alone, every layer on its GPU: (decode, prefill) tok/s at `depth`."""
    st = node.state
    bd = estimate_memory(spec, RuntimeSettings(ctx_size=4096), backend="gpu")
    inp = speed_inputs(
        spec=spec, machine=st.machine, backend=st.resolved_backend, os=st.os, breakdown=bd
    )
    return 1 / decode_seconds(inp, depth), prompt / prefill_seconds(inp, prompt)


def _two(spec: ModelSpec, node: ClusterNode, link: LinkPreset) -> tuple[float, float]:
    """Two such machines, one rpc-server and the head, -ts 1,1: (tg128, pp512) tok/s."""
    cl = Cluster((node, node), link, (1.0, 1.0))
    res = evaluate_cluster(spec, RuntimeSettings(ctx_size=4096), cl, prompt_tokens=512)
    sp = cluster_speed(spec, res.settings, cl, res.buffers, prompt_tokens=512, decode_depth=64)
    return sp.decode_tokens_per_second, sp.prefill_tokens_per_second


def _speed_rows() -> list[tuple[str, str, float, float]]:
    """(row, what, ours, measured)."""
    rows: list[tuple[str, str, float, float]] = []
    spark = _node("nvidia-dgx-spark")
    qwen = open_catalog_model("qwen3-32b:Q4_K_M")  # a 27B-class dense stand-in
    assert qwen is not None
    one, two = _single(qwen, spark, 64, 512), _two(qwen, spark, DIRECT_CABLE)
    rows.append(("fit   LLMKube 2x Spark / 1x", "decode ratio", two[0] / one[0], 12.42 / 12.83))
    rows.append(("check LLMKube 2x Spark / 1x", "prefill ratio*", two[1] / one[1], 73.4 / 106.0))
    fw = _node(
        "framework-desktop-128gb", carve_out_bytes=512 * MIB, backend="rocm", gtt_bytes=120 * 2**30
    )
    mm6 = _minimax_m2("Q6_K")
    for name, spec, tg, pp in (
        ("MiniMax-M2 Q6", mm6, 18.17, 173.98),
        ("GLM-4.6 Q4", _glm_46(), 8.78, 95.55),
    ):
        ours = _two(spec, fw, get_link("50gbe"))
        rows.append((f"check kyuz0 2x Framework {name}", "tg128 tok/s", ours[0], tg))
        rows.append((f"check kyuz0 2x Framework {name}", "pp512 tok/s", ours[1], pp))
    # the same hardware and backend alone (kyuz0 benchmark/results, MiniMax-M2.7 UD-Q3_K_S,
    # 87.20 GiB, rocm6_4_4 fa1): how far the single-machine model is off on these rows
    mm3 = _minimax_m2("Q3_K_S")
    alone = _single(mm3, fw, 64, 512)
    rows.append(("ref   kyuz0 1x Framework MiniMax-M2 Q3_K_S", "tg128 tok/s", alone[0], 21.98))
    rows.append(("ref   kyuz0 1x Framework MiniMax-M2 Q3_K_S", "pp512 tok/s", alone[1], 238.97))
    two_mm = _two(mm6, fw, get_link("50gbe"))
    rows.append(
        ("check kyuz0 2x Q6 / 1x Q3_K_S", "tg128 ratio", two_mm[0] / alone[0], 18.17 / 21.98)
    )
    return rows


def _memory_table() -> None:
    from tests.rpc.oracle import BUILD_HINT, fit_print, oracle_available, rpc_servers  # noqa: PLC0415
    from tests.rpc.test_rpc_oracle import CASES  # noqa: PLC0415 - the tested cases
    from tests.support.oracle_models import MODELS  # noqa: PLC0415
    from vramtui.core.cluster.memory import cluster_buffers  # noqa: PLC0415
    from vramtui.core.gguf.writer import write_sparse_gguf  # noqa: PLC0415

    if not oracle_available():
        print(f"memory: skipped ({BUILD_HINT})")
        return
    print(
        f"{'case':<44} {'device':<6} {'model ours/llama':>17} {'context ours/llama':>19} "
        f"{'compute ours/llama':>19} {'delta':>7}"
    )
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp, rpc_servers(3) as endpoints:
        for name, ts, ctx, flags, changes in CASES:
            md, quant = MODELS[name]
            spec = synthesize_spec(md, quant, name=name, source="bench")
            path = write_sparse_gguf(Path(tmp) / f"{name}.gguf", spec)
            n = len(ts.split(","))
            rows = fit_print(path, endpoints[:n], ["-ts", ts, "-c", str(ctx), *flags])
            settings = RuntimeSettings(ctx_size=ctx).with_changes(**changes)
            cb = cluster_buffers(spec, settings, [float(v) for v in ts.split(",")])
            mine = [*cb.devices, cb.host]
            case = f"{name} -ts {ts} -c {ctx} {' '.join(flags)}"
            for row, d in zip(rows, mine, strict=True):
                comp = d.compute // MIB
                delta = (comp - row.compute_mib) / row.compute_mib if row.compute_mib else 0.0
                worst = max(worst, abs(delta))
                print(
                    f"{case:<44} {row.device[:6]:<6} {d.weights // MIB:>8}/{row.model_mib:<8} "
                    f"{d.context // MIB:>9}/{row.context_mib:<9} {comp:>9}/{row.compute_mib:<9} "
                    f"{delta:>+7.1%}"
                )
                case = ""
    print(f"worst compute delta: {worst:.1%} (model and context: equal to the MiB on every row)")


def main() -> None:
    _memory_table()
    print(f"\n{'row':<44} {'what':<14} {'ours':>8} {'measured':>9} {'ratio':>6}")
    for row, what, ours, measured in _speed_rows():
        print(f"{row:<44} {what:<14} {ours:>8.2f} {measured:>9.2f} {ours / measured:>6.2f}")
    print(
        "* LLMKube's prefill figures are short-prompt rates from their own harness (106 tok/s "
        "for a 27B model on a GB10 is far below its pp512), so the ratio mostly shows a fixed "
        "per-request cost the model does not have"
    )
