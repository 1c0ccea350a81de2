"""The 2026 architectures on one RPC device, scheduled as a single GPU: weights, KV cache,
device compute and the host compute buffer of `estimate_memory(backend="gpu")` held to
llama.cpp's own breakdown (`llama-fit-params --rpc`), each on small or sparse synthesized
models of the family's layout (tests/oracle/*models*.py)."""

from __future__ import annotations

import pytest

from tests.oracle.arch2026_models import ARCH2026_MODELS
from tests.oracle.hybrid_models import HYBRID_MODELS
from tests.oracle.k3m3_models import K3M3_MODELS
from tests.oracle.longtail_models import LONGTAIL_MODELS
from tests.oracle.mla_models import MLA_MODELS
from tests.rpc.oracle import fit_print
from tests.support.oracle_models import MODELS, _md
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import MetaValue, ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf
from vramtui.core.vocab import BufferKind, Place

MIB = 1 << 20
# Device compute within 5 % (+1 MiB for the rounding of llama.cpp's MiB figures); the host
# buffer's high end (the RPC oracle's figure, gpu_compute.py) within 1 MiB.
DEVICE_TOLERANCE = 0.05


def _small_qwen3vl(n_deepstack: int) -> dict[str, MetaValue]:
    """A Qwen3-VL layout cut down: 4 blocks 1,024 wide, a 65,536-token vocabulary so that the
    output phase (where the deepstack inputs are held) sets the peak, as in every Qwen3-VL."""
    return _md(
        "qwen3vl",
        65536,
        block_count=4,
        embedding_length=1024,
        attention__head_count=16,
        attention__head_count_kv=4,
        attention__key_length=128,
        attention__value_length=128,
        feed_forward_length=4096,
        context_length=32768,
        n_deepstack_layers=n_deepstack,
        rope__dimension_sections=(24, 20, 20, 0),
        attention__layer_norm_rms_epsilon=1e-6,
        rope__freq_base=5e6,
    )


_ALL = {
    **MODELS,
    **LONGTAIL_MODELS,
    **ARCH2026_MODELS,
    **MLA_MODELS,
    **HYBRID_MODELS,
    **K3M3_MODELS,
}
_SMALL_VL = {f"qwen3vl-ds{n}": (_small_qwen3vl(n), "Q8_0") for n in (1, 2, 3)}


def _spec(name: str) -> ModelSpec:
    """A test layout by name, or a bundled catalog model ("catalog:ID:QUANT", a sparse file of
    the real shape) where the cut-down layout strays: the DSA and DeepSeek-V4 compute rules
    were fitted on full-depth shapes (a 6-block DeepSeek-V4 or an 8-block GLM-5.2 without
    flash attention reads 6-9 % high on the device)."""
    if name.startswith("catalog:"):
        spec = open_catalog_model(name.removeprefix("catalog:"))
        assert spec is not None
        return spec
    md, quant = {**_ALL, **_SMALL_VL}[name]
    return synthesize_spec(md, quant, name=name, source="rpc-oracle")


# (model, context, ubatch, flash attention)
CASES = [
    ("Qwen3-VL-32B", 4096, 512, "on"),
    ("qwen3vl-ds1", 4096, 512, "on"),
    ("qwen3vl-ds2", 8192, 256, "on"),
    ("qwen3vl-ds3", 16384, 512, "on"),
    ("Gemma-4-31B", 8192, 1024, "off"),
    ("Gemma-4-31B", 4096, 512, "off"),
    ("Gemma-4-26B-A4B", 8192, 512, "on"),
    ("tiny-deepseek32", 8192, 512, "on"),
    ("tiny-glm-dsa-5.2", 8192, 512, "on"),
    ("catalog:glm-5.2:Q4_K_M", 8192, 1024, "off"),
    ("tiny-deepseek4", 4096, 512, "on"),
    ("catalog:deepseek-v4-flash:MXFP4_MOE", 8192, 512, "on"),
    ("catalog:deepseek-v4-flash:MXFP4_MOE", 8192, 1024, "off"),
    ("tiny-minimax-m2", 8192, 1024, "off"),
    ("Devstral-Small-2-24B", 8192, 512, "on"),
    ("Llama-4-Scout", 16384, 1024, "off"),
    ("gpt-oss-20b", 8192, 1024, "off"),
    ("Phi-4", 8192, 512, "on"),
    ("Gemma-3n-E4B", 4096, 512, "off"),
    ("kimi-linear-test", 8192, 512, "on"),
    ("kimi-k3-test", 8192, 512, "on"),
    ("kimi-k3-test", 4096, 2048, "off"),
    ("kimi-k3-deep-test", 8192, 512, "on"),
    ("tiny-minimax-m3", 8192, 512, "on"),
    ("tiny-minimax-m3", 4096, 1024, "on"),
    ("tiny-minimax-m3", 8192, 512, "off"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-c{c[1]}-ub{c[2]}-fa{c[3]}" for c in CASES])
def test_2026_architectures_on_one_gpu_match_llama_cpp(
    rpc_endpoints: list[str],
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[str, int, int, str],
) -> None:
    name, ctx, ub, fa = case
    spec = _spec(name)
    path = write_sparse_gguf(tmp_path_factory.mktemp("arch2026") / "model.gguf", spec)
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
    assert abs(compute - device.compute_mib) <= DEVICE_TOLERANCE * device.compute_mib + 1, (
        compute,
        device,
    )
    low, high = bd.total_range(Place.HOST, BufferKind.COMPUTE)
    assert low < high
    assert abs(high / MIB - host.compute_mib) <= 1, (high / MIB, host)
