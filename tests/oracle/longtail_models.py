"""GGUF metadata of the long-tail architectures (llama4, gemma3n, qwen2moe, DeepSeek-V2/V3 with
and without MLA), shaped after the released models' Hugging Face configs and GGUF headers.

- Llama-4-Scout-17B-16E: text_config of meta-llama/Llama-4-Scout-17B-16E (hidden 5120, 48 layers,
  40/8 heads of 128, 16 experts of 8192, top-1, interleave_moe_layer_step 1, MLP 16384).
- Gemma-3n-E4B / E2B: google/gemma-3n-E4B / E2B text_config (hidden 2048, 35 / 30 layers,
  8/2 heads of 256, FFN 16384 / 8192, window 512, AltUp 4 streams, per-layer input 256,
  vocabulary 262144 as in ggml-org/gemma-3n-E2B-it-GGUF).
- DeepSeek-V2-Lite: deepseek-ai/DeepSeek-V2-Lite (hidden 2048, 27 layers, 16 heads, no q LoRA,
  kv LoRA 512, qk 128+64, v 128, 64 experts of 1408, top-6, 2 shared, 1 dense layer of 10944),
  once as converted before llama.cpp's MLA change (full K/V heads: key_length 192,
  value_length 128, head_count_kv 16, attn_kv_b) and once after it (key_length_mla 192,
  value_length_mla 128, a K-only latent of 576).
- DeepSeek-V3: deepseek-ai/DeepSeek-V3 (shared/research/models.json "DeepSeek-R1 / DeepSeek-V3").
- Qwen1.5-MoE-A2.7B: Qwen/Qwen1.5-MoE-A2.7B (hidden 2048, 24 layers, 16 heads, 60 experts of
  1408, top-4, shared expert 5632).
"""

from __future__ import annotations

from tests.support.oracle_models import _md
from vramtui.core.gguf.spec import MetaValue


def _gemma3n(n_layer: int, n_ff: int) -> dict[str, MetaValue]:
    return _md(
        "gemma3n",
        262144,
        block_count=n_layer,
        embedding_length=2048,
        feed_forward_length=(n_ff,) * n_layer,
        attention__head_count=8,
        attention__head_count_kv=2,
        attention__key_length=256,
        attention__value_length=256,
        attention__sliding_window=512,
        attention__sliding_window_pattern=tuple(il % 5 < 4 for il in range(n_layer)),
        altup__active_idx=0,
        altup__num_inputs=4,
        embedding_length_per_layer_input=256,
        attention__shared_kv_layers=float(n_layer - 20),
        activation_sparsity_scale=tuple([1.6448533535003662] * 10 + [0.0] * (n_layer - 10)),
        context_length=32768,
        attention__layer_norm_rms_epsilon=1e-6,
        rope__freq_base=1e6,
        final_logit_softcapping=30.0,
    )


def _v2_lite(*, mla: bool) -> dict[str, MetaValue]:
    heads: dict[str, MetaValue] = (
        {
            "attention__head_count_kv": 1,
            "attention__key_length": 576,
            "attention__value_length": 512,
            "attention__key_length_mla": 192,
            "attention__value_length_mla": 128,
        }
        if mla
        else {
            "attention__head_count_kv": 16,
            "attention__key_length": 192,
            "attention__value_length": 128,
        }
    )
    return _md(
        "deepseek2",
        102400,
        block_count=27,
        embedding_length=2048,
        attention__head_count=16,
        attention__kv_lora_rank=512,
        rope__dimension_count=64,
        feed_forward_length=10944,
        expert_feed_forward_length=1408,
        expert_count=64,
        expert_used_count=6,
        expert_shared_count=2,
        leading_dense_block_count=1,
        expert_weights_scale=1.0,
        context_length=163840,
        attention__layer_norm_rms_epsilon=1e-6,
        rope__freq_base=1e4,
        **heads,
    )


# name -> (metadata, quant)
LONGTAIL_MODELS: dict[str, tuple[dict[str, MetaValue], str]] = {
    "Llama-4-Scout": (
        _md(
            "llama4",
            202048,
            block_count=48,
            embedding_length=5120,
            attention__head_count=40,
            attention__head_count_kv=8,
            attention__key_length=128,
            attention__value_length=128,
            rope__dimension_count=128,
            feed_forward_length=16384,
            expert_feed_forward_length=8192,
            expert_count=16,
            expert_used_count=1,
            interleave_moe_layer_step=1,
            context_length=10485760,
            attention__layer_norm_rms_epsilon=1e-5,
            rope__freq_base=5e5,
        ),
        "Q4_K_M",
    ),
    "Gemma-3n-E4B": (_gemma3n(35, 16384), "Q4_K_M"),
    "Gemma-3n-E2B": (_gemma3n(30, 8192), "Q4_K_M"),
    "DeepSeek-V2-Lite": (_v2_lite(mla=False), "Q4_K_M"),
    "DeepSeek-V2-Lite-MLA": (_v2_lite(mla=True), "Q4_K_M"),
    "DeepSeek-V3": (
        _md(
            "deepseek2",
            129280,
            block_count=61,
            embedding_length=7168,
            attention__head_count=128,
            attention__head_count_kv=1,
            attention__key_length=576,
            attention__value_length=512,
            attention__key_length_mla=192,
            attention__value_length_mla=128,
            attention__q_lora_rank=1536,
            attention__kv_lora_rank=512,
            rope__dimension_count=64,
            feed_forward_length=18432,
            expert_feed_forward_length=2048,
            expert_count=256,
            expert_used_count=8,
            expert_shared_count=1,
            leading_dense_block_count=3,
            expert_weights_scale=2.5,
            expert_weights_norm=True,
            expert_gating_func=2,
            context_length=163840,
            attention__layer_norm_rms_epsilon=1e-6,
            rope__freq_base=1e4,
        ),
        "Q4_K_M",
    ),
    "Qwen1.5-MoE-A2.7B": (
        _md(
            "qwen2moe",
            151936,
            block_count=24,
            embedding_length=2048,
            attention__head_count=16,
            attention__head_count_kv=16,
            feed_forward_length=5632,
            expert_feed_forward_length=1408,
            expert_shared_feed_forward_length=5632,
            expert_count=60,
            expert_used_count=4,
            context_length=8192,
            attention__layer_norm_rms_epsilon=1e-6,
            rope__freq_base=1e6,
        ),
        "Q4_K_M",
    ),
}
