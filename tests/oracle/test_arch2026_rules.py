"""The 2026 architectures' rules the CPU oracle shows only in sum: which gemma4 layers own a
KV cache and how wide each is, the V rows without flash attention, the tensors the gemma4
and phi3 tables hold. No llama.cpp needed."""

from __future__ import annotations

from dataclasses import replace

from tests.oracle.arch2026_models import ARCH2026_MODELS
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.vocab import BufferKind, Place


def spec_of(name: str) -> ModelSpec:
    md, quant = ARCH2026_MODELS[name]
    return synthesize_spec(md, quant, name=name, source="test")


def test_gemma4_shared_kv_layers_own_no_cache() -> None:
    hp = ModelHparams.from_spec(spec_of("Gemma-4-E2B-like"))
    assert hp.known_architecture
    assert sum(hp.has_kv) == 15 and hp.has_kv[14] and not hp.has_kv[15]
    # sliding layers cache 256-wide heads, full layers 512-wide
    assert (hp.head_k[0], hp.head_k[4]) == (256, 512)
    assert hp.is_swa[0] and not hp.is_swa[4]


def test_gemma4_kv_heads_follow_the_layer_kind() -> None:
    hp = ModelHparams.from_spec(spec_of("Gemma-4-31B"))
    assert sum(hp.has_kv) == 60 and sum(hp.is_swa) == 50
    assert (hp.n_head_kv[0], hp.n_head_kv[5]) == (16, 4)


def test_gemma4_v_rows_are_the_widest_layers_without_flash_attention() -> None:
    spec = spec_of("Gemma-4-26B-A4B")
    hp = ModelHparams.from_spec(spec)
    on = estimate_memory(spec, RuntimeSettings(ctx_size=8192), backend="cpu")
    off = estimate_memory(spec, RuntimeSettings(ctx_size=8192, flash_attn="off"), backend="cpu")
    # sliding layers: 8 heads x 256 = 2048 wide; full layers: 2 x 512 = 1024, stored at 2048
    n_full = hp.n_layer - sum(hp.is_swa)
    extra = n_full * 8192 * 2 * (2048 - 1024)  # f16 cells of the full layers' V rows
    kv = BufferKind.KV_CACHE
    assert off.total(kind=kv) - on.total(kind=kv) == extra


def test_gemma4_table_full_layers_without_v_and_with_one_rope_table() -> None:
    spec = spec_of("Gemma-4-31B")
    assert spec.tensor("blk.0.attn_v.weight") is not None
    assert spec.tensor("blk.5.attn_v.weight") is None  # full layer: K doubles as V
    k = spec.tensor("blk.5.attn_k.weight")
    assert k is not None and k.shape == (5376, 4 * 512)
    assert [t.name for t in spec.tensors].count("rope_freqs.weight") == 1
    moe = spec_of("Gemma-4-26B-A4B")
    assert moe.tensor("blk.0.ffn_gate.weight") is not None  # the dense FFN beside the experts
    exps = moe.tensor("blk.0.ffn_down_exps.weight")
    assert exps is not None and exps.shape == (704, 2816, 128)


def test_gemma4_per_layer_embeddings_stay_in_the_host_buffer() -> None:
    spec = spec_of("Gemma-4-E2B-like")
    ple = spec.tensor("per_layer_token_embd.weight")
    embd = spec.tensor("token_embd.weight")
    assert ple is not None and embd is not None and ple.shape == (256 * 35, 262144)
    gpu = estimate_memory(spec, RuntimeSettings(ctx_size=4096))
    assert gpu.total(Place.HOST, BufferKind.WEIGHTS) == ple.n_bytes + embd.n_bytes


def test_phi3_table_is_fused() -> None:
    spec = spec_of("Phi-4")
    qkv = spec.tensor("blk.0.attn_qkv.weight")
    up = spec.tensor("blk.0.ffn_up.weight")
    assert qkv is not None and qkv.shape == (5120, 5120 + 2 * 1280)
    assert up is not None and up.shape == (5120, 2 * 17920)
    assert spec.tensor("blk.0.attn_q.weight") is None and spec.tensor("output.weight")


def test_gemma4_assistant_loads_its_blocks_and_reads_the_targets_cache() -> None:
    drafter = spec_of("Gemma-4-assistant-like")
    hp = ModelHparams.from_spec(drafter)
    assert hp.n_nextn == 0 and hp.n_layer == 4
    alone = estimate_memory(drafter, RuntimeSettings(ctx_size=8192), backend="cpu")
    assert alone.total(kind=BufferKind.WEIGHTS) == drafter.weights_bytes
    assert alone.total(kind=BufferKind.KV_CACHE) == 0
    target = spec_of("Gemma-4-31B")
    s = RuntimeSettings(ctx_size=8192)
    paired = estimate_memory(replace(target, draft=drafter), s, backend="cpu")
    single = estimate_memory(target, s, backend="cpu")
    assert paired.total(kind=BufferKind.KV_CACHE) == single.total(kind=BufferKind.KV_CACHE)
    assert paired.total(kind=BufferKind.WEIGHTS) == (
        single.total(kind=BufferKind.WEIGHTS) + drafter.weights_bytes
    )
