"""vramtui's per-device figures held to llama.cpp's RPC backend: `llama-fit-params --rpc`
against ggml-rpc-server processes on loopback prints the model, context and compute MiB of every
device and of the host, as llama.cpp schedules a layer split over GPUs. Every device's model and
context must match to the MiB, compute within 10 %, for dense, MoE, hybrid, MLA and sliding-window
models at several splits, contexts and settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.rpc.conftest import _SparseModels
from tests.rpc.oracle import RPC_ORACLE_VERSION, FitRow, fit_print
from vramtui.core.cluster.memory import ClusterBuffers, DeviceBuffers, cluster_buffers
from vramtui.core.estimate.settings import RuntimeSettings

MIB = 1 << 20
COMPUTE_TOLERANCE = 0.10

# (model, --tensor-split, context, extra llama.cpp flags, the same as RuntimeSettings changes)
CASES: list[tuple[str, str, int, list[str], dict[str, object]]] = [
    ("Qwen3-32B", "1,1", 16384, [], {}),
    ("Qwen3-32B", "0.3,1", 4096, [], {}),  # a split point exactly on a layer: float rounding
    ("Qwen3-32B", "1,1,1", 8192, ["-fa", "off"], {"flash_attn": "off"}),
    ("Qwen3-30B-A3B", "3,1", 32768, ["-ub", "1024"], {"ubatch_size": 1024}),
    ("Qwen3-30B-A3B", "1,2,1", 8192, ["-np", "4"], {"parallel": 4}),
    ("Qwen3-Next-80B-A3B", "1,1", 16384, [], {}),
    ("Granite-4.0-H-Micro", "1,1,1", 8192, [], {}),  # the last device holds no attention layer
    (
        "Qwen3-30B-A3B",
        "1,1",
        8192,
        ["-ctk", "q8_0", "-ctv", "q8_0"],
        {"cache_type_k": "q8_0", "cache_type_v": "q8_0"},
    ),
    ("GLM-4.7-Flash", "1,1", 8192, [], {}),
    ("Gemma-3-27B", "2,1", 16384, [], {}),
    ("gpt-oss-20b", "1,1,1", 4096, [], {}),
]


def _ours(
    spec_files: _SparseModels, name: str, ts: str, ctx: int, changes: dict[str, object]
) -> ClusterBuffers:
    spec, _ = spec_files[name]
    settings = RuntimeSettings(ctx_size=ctx).with_changes(**changes)
    return cluster_buffers(spec, settings, [float(v) for v in ts.split(",")])


def _compare(rows: list[FitRow], ours: ClusterBuffers) -> list[str]:
    """Every mismatch as a line (empty when the figures agree)."""
    mine: list[tuple[str, DeviceBuffers]] = [(f"RPC{i}", d) for i, d in enumerate(ours.devices)]
    mine.append(("Host", ours.host))
    assert len(rows) == len(mine), (rows, mine)
    bad = []
    for row, (label, d) in zip(rows, mine, strict=True):
        got = (d.weights // MIB, d.context // MIB, d.compute // MIB)
        if got[0] != row.model_mib or got[1] != row.context_mib:
            bad.append(
                f"{label}: model/context {got[:2]} vs llama.cpp {(row.model_mib, row.context_mib)}"
            )
        if abs(got[2] - row.compute_mib) > COMPUTE_TOLERANCE * row.compute_mib + 1:
            bad.append(f"{label}: compute {got[2]} vs llama.cpp {row.compute_mib} MiB")
    return bad


def _case_id(case: tuple[str, str, int, list[str], dict[str, object]]) -> str:
    name, ts, ctx, flags, _ = case
    return f"{name}-ts{ts}-c{ctx}{''.join(flags)}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_per_device_memory_matches_llama_cpp(
    rpc_endpoints: list[str],
    sparse_model_files: _SparseModels,
    case: tuple[str, str, int, list[str], dict[str, object]],
) -> None:
    name, ts, ctx, flags, changes = case
    _, path = sparse_model_files[name]
    n_dev = len(ts.split(","))
    rows = fit_print(path, rpc_endpoints[:n_dev], ["-ts", ts, "-c", str(ctx), *flags])
    ours = _ours(sparse_model_files, name, ts, ctx, changes)
    assert _compare(rows, ours) == []


def test_the_issue_example_exactly(
    rpc_endpoints: list[str], sparse_model_files: _SparseModels
) -> None:
    """Sparse Qwen3-32B at 16K, -ts 1,1: RPC0 9169 + 2112 + 380, RPC1 9254 + 1984 + 450,
    host 417 + 164 MiB (llama.cpp), and vramtui's split gives the same layers."""
    _, path = sparse_model_files["Qwen3-32B"]
    rows = fit_print(path, rpc_endpoints[:2], ["-ts", "1,1", "-c", "16384"])
    assert [(r.model_mib, r.context_mib, r.compute_mib) for r in rows] == [
        (9169, 2112, 380),
        (9254, 1984, 450),
        (417, 0, 164),
    ]
    ours = _ours(sparse_model_files, "Qwen3-32B", "1,1", 16384, {})
    assert ours.split.ranges == ((0, 33), (33, 64)) and ours.split.output_device == 1


def test_float_rounding_moves_a_layer(
    rpc_endpoints: list[str], sparse_model_files: _SparseModels
) -> None:
    """At -ts 0.3,1 the split point 3/13 falls exactly on layer 15 of 65: llama.cpp's float
    arithmetic gives device 0 sixteen layers (double precision would give fifteen); the KV
    cache per layer (4096 cells x 8 KV heads x 128 x 2 x f16 = 16 MiB) shows which."""
    _, path = sparse_model_files["Qwen3-32B"]
    rows = fit_print(path, rpc_endpoints[:2], ["-ts", "0.3,1", "-c", "4096"])
    assert rows[0].context_mib == 16 * 16
    assert _ours(sparse_model_files, "Qwen3-32B", "0.3,1", 4096, {}).split.layers(0) == 16


def test_default_split_is_by_free_memory(
    rpc_endpoints: list[str], sparse_model_files: _SparseModels
) -> None:
    """Without -ts llama.cpp weighs devices by the free memory they report; two servers on one
    machine report (nearly) the same, which splits like -ts 1,1."""
    _, path = sparse_model_files["Llama-3.1-8B"]
    by_free = fit_print(path, rpc_endpoints[:2], ["-c", "4096"])
    even = fit_print(path, rpc_endpoints[:2], ["-ts", "1,1", "-c", "4096"])
    assert by_free == even


def test_makefile_pins_the_same_version() -> None:
    makefile = (Path(__file__).parents[2] / "Makefile").read_text(encoding="utf-8")
    pinned = re.search(r"^RPC_ORACLE_VERSION \?= (\S+)$", makefile, re.MULTILINE)
    assert pinned is not None and pinned.group(1) == RPC_ORACLE_VERSION


def test_cli_two_framework_nodes_match_llama_cpp(
    rpc_endpoints: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vramtui cluster` on two Framework-class 128 GB nodes with --tensor-split 1,1 against
    `llama-fit-params --rpc` on the same model: every node's weights and KV to the MiB, compute
    within 10 %, the head's CPU buffers beside llama.cpp's host row."""
    import json  # noqa: PLC0415

    from vramtui.cli.main import main  # noqa: PLC0415
    from vramtui.core.catalog.entries import open_catalog_model  # noqa: PLC0415
    from vramtui.core.gguf.writer import write_sparse_gguf  # noqa: PLC0415

    spec = open_catalog_model("qwen3-32b:Q4_K_M")
    assert spec is not None
    path = write_sparse_gguf(tmp_path / "qwen3-32b.gguf", spec)
    node = "framework-desktop-128gb:512M"
    code = main(
        [
            "cluster",
            str(path),
            "--node",
            node,
            "--node",
            node,
            "-ts",
            "1,1",
            "-c",
            "16384",
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    rows = fit_print(path, rpc_endpoints[:2], ["-ts", "1,1", "-c", "16384"])
    for node_json, row in zip(data["nodes"], rows[:2], strict=True):
        assert node_json["weights_bytes"] // MIB == row.model_mib
        assert node_json["kv_bytes"] // MIB == row.context_mib
        compute = node_json["compute_bytes"] // MIB
        assert abs(compute - row.compute_mib) <= COMPUTE_TOLERANCE * row.compute_mib
    head = data["nodes"][1]
    assert head["host_weights_bytes"] // MIB == rows[2].model_mib
    assert abs(head["host_compute_bytes"] // MIB - rows[2].compute_mib) <= 0.1 * rows[2].compute_mib
