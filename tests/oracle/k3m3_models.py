"""GGUF metadata of kimi-k3 and minimax-m3 for the oracle: test shapes (no released config of
either was found), each keeping its family's layout as llama.cpp's loader reads it.

- kimi-k3 (src/models/kimi-k3.cpp): kimi-linear's KDA/MLA layer pattern (head_count_kv 0 on
  KDA layers, one latent "head" on MLA layers), nope-only MLA (rope.dimension_count 0, the
  graph builds no position input), a q LoRA, cross-layer residual attention banking every 4th
  layer, latent MoE at half the embedding width, and the K3 gate activation
  (kda.gate_lower_bound -5.0, the value its graph comment names). The deep variant banks 12
  residual checkpoints over 24 layers, where the residual stack sets the compute peak.
- minimax-m3 (src/models/minimax-m3.cpp): MiniMax-M2's GQA with partial rotary, one leading
  dense layer, routed and shared experts, and the MSA indexer on the other layers with one
  indexer head per KV head (the graph asserts it), blocks of 64 tokens.
"""

from __future__ import annotations

from tests.support.oracle_models import _md
from vramtui.core.gguf.spec import MetaValue

_KDA_LAYERS = "KKKAKKKA"  # K a Kimi Delta Attention layer, A an MLA layer
_DEEP_LAYERS = "KKKA" * 6

K3M3_MODELS: dict[str, tuple[dict[str, MetaValue], str]] = {
    "kimi-k3-test": (
        _md(
            "kimi-k3",
            163840,
            block_count=len(_KDA_LAYERS),
            embedding_length=1024,
            feed_forward_length=4096,
            attention__head_count=8,
            attention__head_count_kv=tuple(1 if c == "A" else 0 for c in _KDA_LAYERS),
            attention__key_length=512,
            attention__value_length=512,
            attention__key_length_mla=128,
            attention__value_length_mla=128,
            attention__q_lora_rank=768,
            attention__kv_lora_rank=512,
            rope__dimension_count=0,
            ssm__conv_kernel=4,
            kda__head_dim=128,
            kda__gate_lower_bound=-5.0,
            leading_dense_block_count=1,
            expert_count=32,
            expert_used_count=4,
            expert_feed_forward_length=512,
            expert_shared_count=1,
            expert_latent_length=512,
            expert_gating_func=2,
            expert_weights_norm=True,
            expert_weights_scale=2.5,
            attn_res__block_size=4,
            activation__situ_beta=4.0,
            activation__situ_linear_beta=8.0,
            context_length=262144,
            attention__layer_norm_rms_epsilon=1e-5,
        ),
        "Q4_K_M",
    ),
    "tiny-minimax-m3": (
        _md(
            "minimax-m3",
            8192,
            block_count=4,
            embedding_length=1024,
            attention__head_count=16,
            attention__head_count_kv=4,
            attention__key_length=128,
            attention__value_length=128,
            rope__dimension_count=64,
            feed_forward_length=2048,
            leading_dense_block_count=1,
            expert_feed_forward_length=512,
            expert_count=16,
            expert_used_count=4,
            expert_shared_count=1,
            expert_gating_func=2,
            attention__indexer__head_count=4,
            attention__indexer__key_length=128,
            attention__indexer__top_k=16,
            attention__indexer__block_size=64,
            attention__indexer__local_blocks=1,
            context_length=196608,
            attention__layer_norm_rms_epsilon=1e-6,
            rope__freq_base=5e6,
        ),
        "Q4_K_M",
    ),
}
_K3 = K3M3_MODELS["kimi-k3-test"][0]
K3M3_MODELS["kimi-k3-deep-test"] = (
    {
        **_K3,
        "kimi-k3.block_count": len(_DEEP_LAYERS),
        "kimi-k3.attention.head_count_kv": tuple(1 if c == "A" else 0 for c in _DEEP_LAYERS),
        "kimi-k3.attn_res.block_size": 2,
    },
    "Q4_K_M",
)
