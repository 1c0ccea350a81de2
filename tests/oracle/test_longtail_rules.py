"""The long-tail rules the CPU oracle cannot show directly: which layers are windowed or own a
KV cache, MLA or not, and where gemma3n's extra tables live. No llama.cpp needed."""

from __future__ import annotations

import pytest

from tests.oracle.longtail_models import LONGTAIL_MODELS
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.errors import SettingsError
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.vocab import BufferKind, Place


def spec_of(name: str, **changes: object) -> ModelSpec:
    md, quant = LONGTAIL_MODELS[name]
    md = {**md, **{k: v for k, v in changes.items()}}  # type: ignore[dict-item]
    return synthesize_spec(md, quant, name=name, source="test")


def test_llama4_chunked_window_is_set_in_code() -> None:
    hp = ModelHparams.from_spec(spec_of("Llama-4-Scout"))
    assert hp.n_swa == 8192 and sum(hp.is_swa) == 36
    assert hp.is_swa[0] and not hp.is_swa[3]
    assert hp.weight_before_ffn and hp.n_ff_shexp == 8192
    # a file that says sliding_window = 0 turns chunking off (src/models/llama4.cpp)
    off = ModelHparams.from_spec(spec_of("Llama-4-Scout", **{"llama4.attention.sliding_window": 0}))
    assert off.n_swa == 0 and not any(off.is_swa)


def test_gemma3n_first_20_layers_own_the_kv_cache() -> None:
    hp = ModelHparams.from_spec(spec_of("Gemma-3n-E4B"))
    assert sum(hp.has_kv) == 20 and hp.has_kv[19] and not hp.has_kv[20]
    assert sum(s for s, kv in zip(hp.is_swa, hp.has_kv, strict=True) if kv) == 16


def test_gemma3n_tables_placement() -> None:
    spec = spec_of("Gemma-3n-E4B")
    embd = spec.tensor("token_embd.weight")
    ple = spec.tensor("per_layer_token_embd.weight")
    assert embd and ple
    s = RuntimeSettings(ctx_size=4096)
    cpu = estimate_memory(spec, s, backend="cpu")
    # the tied output is made before token_embd, so the CPU holds two copies
    assert cpu.total(kind=BufferKind.WEIGHTS) == spec.weights_bytes + embd.n_bytes
    gpu = estimate_memory(spec, s)
    # input-layer tables stay on the host; the output copy goes to the device
    assert gpu.total(Place.HOST, BufferKind.WEIGHTS) == embd.n_bytes + ple.n_bytes
    assert gpu.total(kind=BufferKind.WEIGHTS) == spec.weights_bytes + embd.n_bytes


def test_deepseek2_without_mla_keys_caches_full_heads() -> None:
    old = ModelHparams.from_spec(spec_of("DeepSeek-V2-Lite"))
    assert not old.is_mla and old.has_v
    assert (old.head_k[0], old.head_v[0], old.n_head_kv[0]) == (192, 128, 16)
    new = ModelHparams.from_spec(spec_of("DeepSeek-V2-Lite-MLA"))
    assert new.is_mla and not new.has_v and new.head_k[0] == 576
    s = RuntimeSettings(ctx_size=4096, cache_type_k="q8_0")
    bd = estimate_memory(spec_of("DeepSeek-V2-Lite"), s)  # llama.cpp accepts it
    assert bd.total(kind=BufferKind.KV_CACHE) > 0
    with pytest.raises(SettingsError, match="must match"):
        estimate_memory(spec_of("DeepSeek-V2-Lite-MLA"), s)


def test_pre_mla_tensors_decompress_k_and_v() -> None:
    spec = spec_of("DeepSeek-V2-Lite")
    kv_b = spec.tensor("blk.0.attn_kv_b.weight")
    assert kv_b is not None and kv_b.shape == (512, 16 * (128 + 128))
    assert spec.tensor("blk.0.attn_k_b.weight") is None
