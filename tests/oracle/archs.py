"""GGUF metadata of real models (shapes from shared/research/models.json and the models' GGUF
headers), used to synthesize sparse files for the oracle, the CLI test and the bench."""

from __future__ import annotations

from tui.core.model_spec import MetaValue, SkippedArray


def _md(arch: str, n_vocab: int, **kv: MetaValue) -> dict[str, MetaValue]:
    md: dict[str, MetaValue] = {"general.architecture": arch,
                                "tokenizer.ggml.tokens": SkippedArray(8, n_vocab)}  # fmt: skip
    for k, v in kv.items():
        md[f"{arch}.{k.replace('__', '.')}"] = v
    return md


# name -> (metadata, quant)
MODELS: dict[str, tuple[dict[str, MetaValue], str]] = {
    "Qwen3-32B": (_md("qwen3", 151936, block_count=64, embedding_length=5120,
        attention__head_count=64, attention__head_count_kv=8, attention__key_length=128,
        attention__value_length=128, feed_forward_length=25600, context_length=40960,
        attention__layer_norm_rms_epsilon=1e-6, rope__freq_base=1e6), "Q4_K_M"),
    "Llama-3.1-8B": (_md("llama", 128256, block_count=32, embedding_length=4096,
        attention__head_count=32, attention__head_count_kv=8, feed_forward_length=14336,
        context_length=131072, rope__dimension_count=128,
        attention__layer_norm_rms_epsilon=1e-5, rope__freq_base=5e5), "Q4_K_M"),
    "Qwen3-30B-A3B": (_md("qwen3moe", 151936, block_count=48, embedding_length=2048,
        attention__head_count=32, attention__head_count_kv=4, attention__key_length=128,
        attention__value_length=128, feed_forward_length=6144, expert_feed_forward_length=768,
        expert_count=128, expert_used_count=8, context_length=40960,
        attention__layer_norm_rms_epsilon=1e-6, rope__freq_base=1e6), "Q4_K_M"),
    "Gemma-3-27B": (_md("gemma3", 262208, block_count=62, embedding_length=5376,
        attention__head_count=32, attention__head_count_kv=16, attention__key_length=128,
        attention__value_length=128, feed_forward_length=21504, context_length=131072,
        attention__sliding_window=1024, attention__layer_norm_rms_epsilon=1e-6,
        rope__freq_base=1e6), "Q4_K_M"),
    "gpt-oss-20b": (_md("gpt-oss", 201088, block_count=24, embedding_length=2880,
        attention__head_count=64, attention__head_count_kv=8, attention__key_length=64,
        attention__value_length=64, feed_forward_length=2880, expert_feed_forward_length=2880,
        expert_count=32, expert_used_count=4, context_length=131072,
        attention__sliding_window=128, attention__layer_norm_rms_epsilon=1e-5,
        rope__freq_base=150000.0), "MXFP4"),
    "GLM-4.7-Flash": (_md("deepseek2", 154880, block_count=47, embedding_length=2048,
        attention__head_count=20, attention__head_count_kv=1, attention__key_length=576,
        attention__value_length=512, attention__key_length_mla=256,
        attention__value_length_mla=256, attention__q_lora_rank=768,
        attention__kv_lora_rank=512, rope__dimension_count=64, feed_forward_length=10240,
        expert_feed_forward_length=1536, expert_count=64, expert_used_count=4,
        expert_shared_count=1, leading_dense_block_count=1, expert_weights_scale=1.8,
        expert_weights_norm=True, expert_gating_func=2, context_length=202752,
        attention__layer_norm_rms_epsilon=1e-5, rope__freq_base=1e6), "Q4_K_M"),
    "Qwen3-Next-80B-A3B": (_md("qwen3next", 151936, block_count=48, embedding_length=2048,
        attention__head_count=16, attention__head_count_kv=2, attention__key_length=256,
        attention__value_length=256, rope__dimension_count=64, feed_forward_length=5120,
        expert_feed_forward_length=512, expert_shared_feed_forward_length=512,
        expert_count=512, expert_used_count=10, context_length=262144,
        full_attention_interval=4, ssm__conv_kernel=4, ssm__state_size=128,
        ssm__group_count=16, ssm__time_step_rank=32, ssm__inner_size=4096,
        attention__layer_norm_rms_epsilon=1e-6, rope__freq_base=1e7), "Q4_K_M"),
    "GLM-4.5-Air": (_md("glm4moe", 151552, block_count=47, embedding_length=4096,
        attention__head_count=96, attention__head_count_kv=8, attention__key_length=128,
        attention__value_length=128, rope__dimension_count=64, feed_forward_length=10944,
        expert_feed_forward_length=1408, expert_count=128, expert_used_count=8,
        expert_shared_count=1, leading_dense_block_count=1, nextn_predict_layers=1,
        expert_weights_scale=1.0, expert_weights_norm=True, expert_gating_func=2,
        context_length=131072, attention__layer_norm_rms_epsilon=1e-5,
        rope__freq_base=1e6), "Q4_K_M"),
    "Mistral-Small-24B": (_md("mistral3", 131072, block_count=40, embedding_length=5120,
        attention__head_count=32, attention__head_count_kv=8, attention__key_length=128,
        attention__value_length=128, rope__dimension_count=128, feed_forward_length=32768,
        context_length=131072, attention__layer_norm_rms_epsilon=1e-5,
        rope__freq_base=1e9), "Q4_K_M"),
    "LFM2-1.2B": (_md("lfm2", 65536, block_count=16, embedding_length=2048,
        attention__head_count=32,
        attention__head_count_kv=(0, 0, 8, 0, 0, 8, 0, 0, 8, 0, 8, 0, 8, 0, 8, 0),
        feed_forward_length=8192, shortconv__l_cache=3, context_length=128000,
        attention__layer_norm_rms_epsilon=1e-5, rope__freq_base=1e6), "Q8_0"),
    "Qwen3-VL-32B": (_md("qwen3vl", 151936, block_count=64, embedding_length=5120,
        attention__head_count=64, attention__head_count_kv=8, attention__key_length=128,
        attention__value_length=128, feed_forward_length=25600, context_length=262144,
        n_deepstack_layers=3, rope__dimension_sections=(24, 20, 20, 0),
        attention__layer_norm_rms_epsilon=1e-6, rope__freq_base=5e6), "Q6_K"),
    "Gemma-2-9B": (_md("gemma2", 256000, block_count=42, embedding_length=3584,
        attention__head_count=16, attention__head_count_kv=8, attention__key_length=256,
        attention__value_length=256, feed_forward_length=14336, context_length=8192,
        attention__sliding_window=4096, attention__layer_norm_rms_epsilon=1e-6,
        attn_logit_softcapping=50.0, final_logit_softcapping=30.0), "Q4_K_M"),
}  # fmt: skip
