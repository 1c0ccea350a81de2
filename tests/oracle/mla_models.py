"""Small GGUF metadata of the 2026 MLA and sparse-attention families, for the oracle: few
layers and small widths keep llama.cpp's dry run fast while every rule the estimate follows
(the K-only MLA latent, the DSA indexer key cache, GLM-5.2's shared indexers, the skipped
NextN/MTP block) is exercised. Widths keep DeepSeek's ratios (latent 512 + rope 64, indexer
keys of 128); layer counts and expert counts are cut down.
"""

from __future__ import annotations

from tests.support.oracle_models import _md
from vramtui.core.gguf.spec import MetaValue


def _mla(
    arch: str, n_layer: int, n_nextn: int, n_ctx_train: int, **extra: MetaValue
) -> dict[str, MetaValue]:
    kv: dict[str, MetaValue] = {
        "block_count": n_layer + n_nextn,
        "embedding_length": 1024,
        "attention__head_count": 16,
        "attention__head_count_kv": 1,
        "attention__key_length": 576,
        "attention__value_length": 512,
        "attention__key_length_mla": 192,
        "attention__value_length_mla": 128,
        "attention__q_lora_rank": 512,
        "attention__kv_lora_rank": 512,
        "rope__dimension_count": 64,
        "feed_forward_length": 2048,
        "expert_feed_forward_length": 256,
        "expert_count": 16,
        "expert_used_count": 4,
        "expert_shared_count": 1,
        "leading_dense_block_count": 1,
        "expert_weights_scale": 2.5,
        "expert_weights_norm": True,
        "expert_gating_func": 2,
        "context_length": n_ctx_train,
        "attention__layer_norm_rms_epsilon": 1e-6,
        "rope__freq_base": 1e4,
    }
    if n_nextn:
        kv["nextn_predict_layers"] = n_nextn
    kv.update(extra)
    return _md(arch, 8192, **kv)


_INDEXER: dict[str, MetaValue] = {
    "attention__indexer__head_count": 16,
    "attention__indexer__key_length": 128,
    "attention__indexer__top_k": 2048,
}


def _deepseek4(
    n_layer: int, n_embd: int, n_head: int, q_lora: int, out_lora: int
) -> dict[str, MetaValue]:
    """DeepSeek-V4 layout: two window-only blocks, then CSA (ratio 4) and HCA (128) in turn;
    the first two blocks route by token id."""
    ratios = tuple(([0, 0] + [4, 128] * n_layer)[:n_layer])
    return _md(
        "deepseek4",
        4096,
        block_count=n_layer,
        embedding_length=n_embd,
        attention__head_count=n_head,
        attention__head_count_kv=1,
        attention__key_length=512,
        attention__value_length=512,
        rope__dimension_count=64,
        attention__q_lora_rank=q_lora,
        attention__sliding_window=128,
        expert_feed_forward_length=256,
        expert_count=16,
        expert_used_count=4,
        expert_shared_count=1,
        expert_weights_scale=1.5,
        expert_weights_norm=True,
        swiglu_clamp_exp=(10.0,) * n_layer,
        swiglu_clamp_shexp=(10.0,) * n_layer,
        attention__indexer__head_count=16,
        attention__indexer__key_length=128,
        attention__indexer__top_k=512,
        attention__output_group_count=8,
        attention__output_lora_rank=out_lora,
        attention__compress_rope_freq_base=160000.0,
        attention__compress_ratios=(*ratios, 0),
        hyper_connection__count=4,
        hyper_connection__sinkhorn_iterations=20,
        hyper_connection__epsilon=1e-6,
        hash_layer_count=2,
        expert_gating_func=4,
        embedding_length_out=4 * n_embd,
        context_length=1048576,
        attention__layer_norm_rms_epsilon=1e-6,
        rope__freq_base=1e4,
    )


# name -> (metadata, quant)
MLA_MODELS: dict[str, tuple[dict[str, MetaValue], str]] = {
    # DeepSeek-V3.2 layout: an indexer on every trunk layer, the MTP block in the file
    "tiny-deepseek32": (_mla("deepseek32", 4, 1, 163840, **_INDEXER), "Q4_K_M"),
    # GLM-5 / 5.1: trained context below 1M, every layer indexes
    "tiny-glm-dsa": (_mla("glm-dsa", 4, 1, 202752, **_INDEXER), "Q4_K_M"),
    # GLM-5.2: 1M context, llama.cpp's shared-indexer table (layers 0, 1, 2, 6 of 8)
    "tiny-glm-dsa-5.2": (_mla("glm-dsa", 8, 1, 1048576, **_INDEXER), "Q4_K_M"),
    # the file's own indexer.types array overrides the table
    "tiny-glm-dsa-types": (
        _mla(
            "glm-dsa",
            8,
            1,
            1048576,
            attention__indexer__types=(1, 0, 0, 1, 0, 0, 0, 1),
            **_INDEXER,
        ),
        "Q4_K_M",
    ),
    # Mistral 4: deepseek2's loader and cache under its own name
    "tiny-mistral4": (_mla("mistral4", 4, 0, 131072), "Q4_K_M"),
    # deepseek2 declaring an MTP block whose tensors the file leaves out (trunk-only file):
    # the main context gives the MTP layer no cache
    "tiny-deepseek2-mtp": (_mla("deepseek2", 4, 1, 163840), "Q4_K_M"),
    # DeepSeek-V4: small widths, and DeepSeek-V4-Flash's widths over 6 blocks
    "tiny-deepseek4": (_deepseek4(6, 1024, 16, 256, 128), "Q4_K_M"),
    "deepseek4-flash-6": (_deepseek4(6, 4096, 64, 1024, 1024), "Q4_0"),
    # MiniMax-M2 layout: GQA with whole-projection q/k norms, routed experts only
    "tiny-minimax-m2": (
        _md(
            "minimax-m2",
            8192,
            block_count=4,
            embedding_length=1024,
            attention__head_count=16,
            attention__head_count_kv=4,
            attention__key_length=128,
            attention__value_length=128,
            rope__dimension_count=64,
            feed_forward_length=512,
            expert_feed_forward_length=512,
            expert_count=16,
            expert_used_count=4,
            expert_gating_func=2,
            context_length=196608,
            attention__layer_norm_rms_epsilon=1e-6,
            rope__freq_base=5e6,
        ),
        "Q4_K_M",
    ),
}
