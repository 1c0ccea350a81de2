"""The estimate's rules that the CPU oracle cannot see: placement, offload, per-layer hparams."""

from __future__ import annotations

import pytest

from tests.support.oracle_models import MODELS
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.errors import SettingsError
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec, SkippedArray, TensorInfo
from vramtui.core.vocab import BufferKind, Place


def spec_of(name: str) -> ModelSpec:
    md, quant = MODELS[name]
    return synthesize_spec(md, quant, name=name, source="test")


def test_hparams_layer_patterns() -> None:
    g3 = ModelHparams.from_spec(spec_of("Gemma-3-27B"))
    assert sum(g3.is_swa) == 52 and g3.n_swa == 1024 and not g3.is_swa[5]
    oss = ModelHparams.from_spec(spec_of("gpt-oss-20b"))
    assert sum(oss.is_swa) == 12 and oss.is_swa[0] and not oss.is_swa[1]
    nxt = ModelHparams.from_spec(spec_of("Qwen3-Next-80B-A3B"))
    assert sum(nxt.has_kv) == 12 and nxt.has_kv[3] and nxt.is_recurrent[0]
    # R 3.38 MiB + S 72 MiB per sequence over 36 layers (llama.cpp log, HOGE_NEXT)
    assert 36 * 4 * nxt.n_embd_r == pytest.approx(3.375 * 2**20)
    assert 36 * 4 * nxt.n_embd_s == 72 * 2**20
    mla = ModelHparams.from_spec(spec_of("GLM-4.7-Flash"))
    assert mla.is_mla and not mla.has_v and mla.head_k[0] == 576
    air = ModelHparams.from_spec(spec_of("GLM-4.5-Air"))
    assert sum(air.has_kv) == 46  # the NextN block holds no KV


def test_partial_offload_counts_the_output_layer() -> None:
    spec = spec_of("Llama-3.1-8B")
    embd = spec.tensor("token_embd.weight")
    out = spec.tensor("output.weight")
    norm = spec.tensor("output_norm.weight")
    assert embd and out and norm
    s = RuntimeSettings(ctx_size=4096)
    full = estimate_memory(spec, s)
    assert full.total(Place.HOST, BufferKind.WEIGHTS) == embd.n_bytes
    none = estimate_memory(spec, s.with_changes(n_gpu_layers=0))
    assert none.total(Place.DEVICE) == 0
    one = estimate_memory(spec, s.with_changes(n_gpu_layers=1))
    assert one.total(Place.DEVICE, BufferKind.WEIGHTS) == out.n_bytes + norm.n_bytes
    assert one.total(Place.DEVICE, BufferKind.KV_CACHE) == 0
    two = estimate_memory(spec, s.with_changes(n_gpu_layers=2))  # output + last block
    last = sum(t.n_bytes for t in spec.tensors if t.name.startswith("blk.31."))
    assert two.total(Place.DEVICE, BufferKind.WEIGHTS) == out.n_bytes + norm.n_bytes + last
    assert two.total(Place.DEVICE, BufferKind.KV_CACHE) * 32 == full.total(kind=BufferKind.KV_CACHE)
    for bd in (full, none, one, two):
        assert bd.total(kind=BufferKind.WEIGHTS) == spec.weights_bytes


def test_kv_offload_off_and_cpu_backend_keep_everything_on_host() -> None:
    spec = spec_of("Qwen3-32B")
    bd = estimate_memory(spec, RuntimeSettings(kv_offload=False))
    assert (
        bd.total(Place.DEVICE, BufferKind.KV_CACHE) == 0
        and bd.total(Place.HOST, BufferKind.KV_CACHE) > 0
    )
    cpu = estimate_memory(spec, RuntimeSettings(), backend="cpu")
    assert cpu.device_bytes == 0


def test_kv_scales_with_context_and_types() -> None:
    spec = spec_of("Qwen3-32B")
    a = estimate_memory(spec, RuntimeSettings(ctx_size=4096)).total(kind=BufferKind.KV_CACHE)
    b = estimate_memory(spec, RuntimeSettings(ctx_size=8192)).total(kind=BufferKind.KV_CACHE)
    assert b == 2 * a == 2 * 64 * 2 * 1024 * 2 * 4096
    q8 = RuntimeSettings(ctx_size=4096, cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on")
    assert estimate_memory(spec, q8).total(kind=BufferKind.KV_CACHE) == a * 34 // 64
    # 4097 tokens pad to 4352 cells
    c = estimate_memory(spec, RuntimeSettings(ctx_size=4097)).total(kind=BufferKind.KV_CACHE)
    assert c == a * 4352 // 4096


def test_swa_layers_cap_their_cache_and_swa_full_lifts_it() -> None:
    spec = spec_of("Gemma-3-27B")
    small = estimate_memory(spec, RuntimeSettings(ctx_size=32768)).total(kind=BufferKind.KV_CACHE)
    full = estimate_memory(spec, RuntimeSettings(ctx_size=32768, swa_full=True))
    per_cell_layer = 2 * 16 * 128 * 2
    assert small == per_cell_layer * (10 * 32768 + 52 * 1536)
    assert full.total(kind=BufferKind.KV_CACHE) == per_cell_layer * 62 * 32768


def test_flash_attention_off_grows_compute_with_context() -> None:
    spec = spec_of("Llama-3.1-8B")
    on = estimate_memory(spec, RuntimeSettings(ctx_size=32768, flash_attn="on"))
    off = estimate_memory(spec, RuntimeSettings(ctx_size=32768, flash_attn="off"))
    assert (
        off.total(kind=BufferKind.COMPUTE)
        > on.total(kind=BufferKind.COMPUTE) + 32768 * 512 * 32 * 4 // 2
    )
    assert on.flash_attn and not off.flash_attn
    with pytest.raises(SettingsError, match="cache-type-v"):
        estimate_memory(spec, RuntimeSettings(cache_type_v="q4_0", flash_attn="off"))


def test_partial_offload_moves_host_weights_through_device_compute() -> None:
    spec = spec_of("Llama-3.1-8B")
    full = estimate_memory(spec, RuntimeSettings())
    part = estimate_memory(spec, RuntimeSettings(n_gpu_layers=16))
    assert part.total(Place.DEVICE, BufferKind.COMPUTE) > full.total(
        Place.DEVICE, BufferKind.COMPUTE
    )
    assert full.total(Place.HOST, BufferKind.COMPUTE) > 0


def test_moe_active_weights() -> None:
    moe = spec_of("Qwen3-30B-A3B")
    bd = estimate_memory(moe, RuntimeSettings())
    # about 3.3B of 30.5B parameters are active per token
    assert 0.05 < bd.active_weights_bytes / moe.weights_bytes < 0.2
    dense = spec_of("Llama-3.1-8B")
    ratio = estimate_memory(dense, RuntimeSettings()).active_weights_bytes / dense.weights_bytes
    assert 0.85 < ratio < 1.0  # all but the token embedding table


def test_unknown_architecture_is_approximate_not_a_crash() -> None:
    md = {
        "general.architecture": "futurenet",
        "futurenet.block_count": 4,
        "futurenet.embedding_length": 256,
        "futurenet.attention.head_count": 4,
        "futurenet.feed_forward_length": 512,
        "tokenizer.ggml.tokens": SkippedArray(8, 1000),
    }
    tensors = (
        TensorInfo("token_embd.weight", (256, 1000), 1),
        *(TensorInfo(f"blk.{i}.attn_q.weight", (256, 256), 1) for i in range(4)),
    )
    spec = ModelSpec(name="f", source="t", metadata=md, tensors=tensors, file_size=1 << 20)
    bd = estimate_memory(spec, RuntimeSettings(ctx_size=1024))
    assert bd.approximate and bd.notes
    assert bd.total(kind=BufferKind.KV_CACHE) == 4 * 2 * 256 * 2 * 1024
    empty = ModelSpec(name="e", source="t", metadata={}, tensors=(), file_size=0)
    assert estimate_memory(empty, RuntimeSettings()).approximate


def test_projector_on_device_or_host() -> None:
    from dataclasses import replace  # noqa: PLC0415 - lazy: keeps startup fast

    from vramtui.core.catalog.synth import synthesize_projector  # noqa: PLC0415 - lazy: keeps startup fast

    mm = synthesize_projector({"clip.vision.projection_dim": 5120}, "F16")
    spec = replace(spec_of("Qwen3-VL-32B"), mmproj=mm)
    on = estimate_memory(spec, RuntimeSettings())
    assert on.total(Place.DEVICE, BufferKind.PROJECTOR) > mm.weights_bytes
    off = estimate_memory(spec, RuntimeSettings(mmproj_offload=False))
    assert off.total(Place.DEVICE, BufferKind.PROJECTOR) == 0 and off.total(
        Place.HOST, BufferKind.PROJECTOR
    )
