"""One RPC device is scheduled as a single GPU: `estimate_memory(backend="gpu")` (what the fit
uses on every single-GPU machine) holds to llama.cpp's own device and host buffers for it, the
compute buffers included (the output phase with a whole ubatch of logits; compute.py)."""

from __future__ import annotations

import pytest

from tests.rpc.conftest import _SparseModels
from tests.rpc.oracle import fit_print
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
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
    host_compute = bd.total(Place.HOST, BufferKind.COMPUTE) / MIB
    # The RPC host keeps one more F32[n_embd, ubatch] than a GPU's host buffer does (real
    # Vulkan logs: tests/data/gpu_compute_logs.toml), hence the wider bound here.
    assert abs(host_compute - host.compute_mib) <= 0.35 * host.compute_mib + 1, (host_compute, host)
