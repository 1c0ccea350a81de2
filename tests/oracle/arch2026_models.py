"""GGUF metadata of the 2026 architectures for the oracle: gemma4 (dense with K as V on
full layers, MoE beside a dense FFN, per-layer embeddings with shared-KV layers), mistral3
and phi3, shaped after the released models' Hugging Face configs (the catalog's
tools/catalog/families/*.json name the sources). The E2B-like gemma4 keeps the layout of
google/gemma-4-E2B (35 layers, 4 sliding : 1 full, 20 shared-KV layers, per-layer input 256);
the assistant-like drafter the layout of the 31B's gemma4_assistant configs quoted in public
loader tests (4 layers of width 1024, 3 sliding : 1 full, 32 heads, FFN 8192, target 5376)."""

from __future__ import annotations

from tests.support.oracle_models import _md
from vramtui.core.gguf.spec import MetaValue


def _gemma4(
    n_layer: int, n_embd: int, n_head: int, n_kv: tuple[int, int], period: int, **kv: MetaValue
) -> dict[str, MetaValue]:
    swa = tuple(il % period < period - 1 for il in range(n_layer))
    return _md(
        "gemma4",
        262144,
        block_count=n_layer,
        context_length=262144,
        embedding_length=n_embd,
        attention__head_count=n_head,
        attention__head_count_kv=tuple(n_kv[0] if s else n_kv[1] for s in swa),
        attention__key_length=512,
        attention__value_length=512,
        attention__key_length_swa=256,
        attention__value_length_swa=256,
        attention__sliding_window_pattern=swa,
        attention__layer_norm_rms_epsilon=1e-6,
        rope__freq_base=1e6,
        rope__freq_base_swa=1e4,
        rope__dimension_count=512,
        rope__dimension_count_swa=256,
        final_logit_softcapping=30.0,
        **kv,
    )


ARCH2026_MODELS: dict[str, tuple[dict[str, MetaValue], str]] = {
    "Gemma-4-31B": (
        {
            **_gemma4(
                60,
                5376,
                32,
                (16, 4),
                6,
                feed_forward_length=21504,
                attention__sliding_window=1024,
                attention__shared_kv_layers=0,
                embedding_length_per_layer_input=0,
            ),
            "vramtui.attention_k_eq_v": True,
        },
        "Q4_K_M",
    ),
    "Gemma-4-26B-A4B": (
        {
            **_gemma4(
                30,
                2816,
                16,
                (8, 2),
                6,
                feed_forward_length=2112,
                expert_feed_forward_length=704,
                expert_count=128,
                expert_used_count=8,
                attention__sliding_window=1024,
                attention__shared_kv_layers=0,
                embedding_length_per_layer_input=0,
            ),
            "vramtui.attention_k_eq_v": True,
        },
        "Q4_K_M",
    ),
    "Gemma-4-E2B-like": (
        _gemma4(
            35,
            1536,
            8,
            (1, 1),
            5,
            feed_forward_length=6144,
            attention__sliding_window=512,
            attention__shared_kv_layers=20,
            embedding_length_per_layer_input=256,
        ),
        "Q8_0",
    ),
    # google/gemma-4-E2B itself: use_double_wide_mlp doubles the 20 KV-shared layers' FFN
    # (llama.cpp conversion/gemma.py); tools/catalog/families/gemma4-e.json names the sources.
    "Gemma-4-E2B": (
        _gemma4(
            35,
            1536,
            8,
            (1, 1),
            5,
            feed_forward_length=tuple(6144 if il < 15 else 12288 for il in range(35)),
            attention__sliding_window=512,
            attention__shared_kv_layers=20,
            embedding_length_per_layer_input=256,
        ),
        "Q4_K_M",
    ),
    # E2B's per-layer inputs on wider layers with half the heads: the FFN lands in the hole
    # the per-layer projection leaves (estimate/families/gemma4_compute.py).
    "Gemma-4-PLE-wide": (
        _gemma4(
            24,
            2048,
            4,
            (1, 1),
            4,
            feed_forward_length=8192,
            attention__sliding_window=512,
            attention__shared_kv_layers=8,
            embedding_length_per_layer_input=384,
        ),
        "Q8_0",
    ),
    "Gemma-4-assistant-like": (
        _md(
            "gemma4-assistant",
            262144,
            block_count=4,
            context_length=262144,
            embedding_length=1024,
            embedding_length_out=5376,
            nextn_predict_layers=4,
            feed_forward_length=8192,
            attention__head_count=32,
            attention__head_count_kv=(16, 16, 16, 4),
            attention__key_length=512,
            attention__value_length=512,
            attention__key_length_swa=256,
            attention__value_length_swa=256,
            attention__sliding_window=1024,
            attention__sliding_window_pattern=(True, True, True, False),
            attention__shared_kv_layers=4,
            attention__layer_norm_rms_epsilon=1e-6,
            rope__freq_base=1e6,
            rope__freq_base_swa=1e4,
            rope__dimension_count=512,
            rope__dimension_count_swa=256,
        ),
        "Q8_0",
    ),
    "Devstral-Small-2-24B": (
        _md(
            "mistral3",
            131072,
            block_count=40,
            context_length=393216,
            embedding_length=5120,
            feed_forward_length=32768,
            attention__head_count=32,
            attention__head_count_kv=8,
            attention__key_length=128,
            attention__value_length=128,
            attention__layer_norm_rms_epsilon=1e-5,
            rope__dimension_count=128,
            rope__freq_base=1e8,
        ),
        "Q4_K_M",
    ),
    "Phi-4": (
        _md(
            "phi3",
            100352,
            block_count=40,
            context_length=16384,
            embedding_length=5120,
            feed_forward_length=17920,
            attention__head_count=40,
            attention__head_count_kv=10,
            attention__layer_norm_rms_epsilon=1e-5,
            rope__dimension_count=128,
            rope__freq_base=250000.0,
        ),
        "Q4_K_M",
    ),
}
