"""One RPC device is scheduled as a single GPU: `estimate_memory(backend="gpu")` (what the fit
uses on every single-GPU machine) holds to llama.cpp's own device and host buffers for it, the
compute buffers included (the output phase with a whole ubatch of logits; compute.py)."""

from __future__ import annotations

import pytest

from tests.oracle.longtail_models import LONGTAIL_MODELS
from tests.rpc.conftest import _SparseModels
from tests.rpc.oracle import fit_print
from tests.support.oracle_models import MODELS
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf
from vramtui.core.vocab import BufferKind, Place

MIB = 1 << 20

# (model, context, ubatch, flash attention)
CASES = [
    ("Qwen3-32B", 16384, 512, "on"),
    ("Qwen3-30B-A3B", 4096, 512, "on"),
    ("Qwen3-30B-A3B", 8192, 1024, "off"),
    ("GLM-4.7-Flash", 8192, 512, "on"),
    ("Gemma-3-27B", 16384, 512, "on"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-c{c[1]}-ub{c[2]}-fa{c[3]}" for c in CASES])
def test_single_gpu_buffers_match_llama_cpp(
    rpc_endpoints: list[str],
    sparse_model_files: _SparseModels,
    case: tuple[str, int, int, str],
) -> None:
    name, ctx, ub, fa = case
    spec, path = sparse_model_files[name]
    device, host = fit_print(
        path,
        rpc_endpoints[:1],
        ["-ngl", "999", "-c", str(ctx), "-ub", str(ub), "-fa", fa, "-np", "1"],
    )
    bd = estimate_memory(spec, RuntimeSettings(ctx_size=ctx, ubatch_size=ub, flash_attn=fa))
    assert bd.total(Place.DEVICE, BufferKind.WEIGHTS) // MIB == device.model_mib
    kv = bd.total(Place.DEVICE, BufferKind.KV_CACHE) + bd.total(
        Place.DEVICE, BufferKind.RECURRENT_STATE
    )
    assert kv // MIB == device.context_mib
    compute = bd.total(Place.DEVICE, BufferKind.COMPUTE) / MIB
    assert abs(compute - device.compute_mib) <= 0.10 * device.compute_mib + 1, (compute, device)
    # The host buffer is a range: the RPC host keeps one more F32[n_embd, ubatch] than a real
    # GPU's (tests/data/gpu_compute_logs.toml); llama.cpp's figure is its high end.
    low, high = bd.total_range(Place.HOST, BufferKind.COMPUTE)
    assert low == bd.total(Place.HOST, BufferKind.COMPUTE) < high
    # Without flash attention the V write indices are staged too (compute.v_idxs_bytes).
    assert abs(high / MIB - host.compute_mib) <= 1, (high / MIB, host)


# Host compute cases the dense/MoE table above lacks: a second (windowed or chunked) mask,
# gemma3n's per-layer inputs, qwen3vl's deepstack input width, hybrids' masks. Before: 8-38 %
# low (only the full mask, 3 x n_embd); each now within 1 MiB of llama.cpp's high end.
HOST_CASES = [
    ("Gemma-3-27B", 16384, 1024, "on"),
    ("gpt-oss-20b", 8192, 2048, "on"),
    ("Llama-4-Scout", 16384, 512, "on"),
    ("Gemma-3n-E4B", 4096, 1024, "on"),
    ("Gemma-3n-E2B", 4096, 512, "on"),
    ("Qwen3-VL-32B", 4096, 1024, "on"),
    ("Qwen3-Next-80B-A3B", 32768, 512, "on"),
    ("Granite-4.0-H-Micro", 4096, 512, "on"),
]


@pytest.mark.parametrize("case", HOST_CASES, ids=[f"{c[0]}-c{c[1]}-ub{c[2]}" for c in HOST_CASES])
def test_single_gpu_host_compute_matches_llama_cpp(
    rpc_endpoints: list[str],
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[str, int, int, str],
) -> None:
    name, ctx, ub, fa = case
    md, quant = {**MODELS, **LONGTAIL_MODELS}[name]
    spec = synthesize_spec(md, quant, name=name, source="rpc-oracle")
    path = write_sparse_gguf(tmp_path_factory.mktemp("host") / f"{name}.gguf", spec)
    _, host = fit_print(
        path,
        rpc_endpoints[:1],
        ["-ngl", "999", "-c", str(ctx), "-ub", str(ub), "-fa", fa, "-np", "1"],
    )
    bd = estimate_memory(spec, RuntimeSettings(ctx_size=ctx, ubatch_size=ub, flash_attn=fa))
    low, high = bd.total_range(Place.HOST, BufferKind.COMPUTE)
    assert abs(high / MIB - host.compute_mib) <= 1, (high / MIB, host)
    assert high - low == 4 * ub * spec_n_embd(spec)


def spec_n_embd(spec: ModelSpec) -> int:
    arch = spec.metadata["general.architecture"]
    value = spec.metadata[f"{arch}.embedding_length"]
    assert isinstance(value, int)
    return value
