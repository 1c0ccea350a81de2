"""Kimi-Linear (`kimi-linear`): Kimi Delta Attention (KDA) layers where head_count_kv is 0,
MLA layers elsewhere, one dense FFN layer then MoE with shared experts
(src/models/kimi-linear.cpp load_arch_tensors). KDA heads are `kda.head_dim` wide, with
separate depthwise convs over q, k and v, low-rank forget-gate (f_a/f_b) and output-gate
(g_a/g_b) projections; MLA layers have no q LoRA, a compressed kv with the rope part and split
k_b/v_b (the MLA cache layout).
"""

from __future__ import annotations

from vramtui.core.catalog.families.rows import Md, Row, experts, f32, ffn, io, mat, qkvo, vec

ARCHITECTURES = frozenset({"kimi-linear"})


def _kda(p: str, m: Md, n_embd: int, n_head: int) -> list[Row]:
    hd = m.num("kda.head_dim")
    d_conv = m.num("ssm.conv_kernel")
    inner = hd * n_head
    return [
        f32(p + "ssm_conv1d_q.weight", d_conv, 1, inner),
        f32(p + "ssm_conv1d_k.weight", d_conv, 1, inner),
        f32(p + "ssm_conv1d_v.weight", d_conv, 1, inner),
        *qkvo(p, n_embd, inner, (inner, inner), inner),
        mat(p + "ssm_f_a.weight", n_embd, hd),
        mat(p + "ssm_f_b.weight", hd, inner),
        mat(p + "ssm_beta.weight", n_embd, n_head),
        f32(p + "ssm_a", 1, n_head),
        vec(p + "ssm_dt.bias", inner),
        mat(p + "ssm_g_a.weight", n_embd, hd),
        mat(p + "ssm_g_b.weight", hd, inner),
        vec(p + "ssm_norm.weight", hd),
    ]


def _mla(p: str, m: Md, n_embd: int, n_head: int) -> list[Row]:
    kv_lora = m.num("attention.kv_lora_rank")
    n_rot = m.num("rope.dimension_count", 64)
    hk = m.num("attention.key_length_mla")
    hv = m.num("attention.value_length_mla")
    return [
        vec(p + "attn_kv_a_norm.weight", kv_lora),
        mat(p + "attn_q.weight", n_embd, n_head * hk),
        mat(p + "attn_kv_a_mqa.weight", n_embd, kv_lora + n_rot),
        mat(p + "attn_k_b.weight", hk - n_rot, kv_lora, n_head),
        mat(p + "attn_v_b.weight", kv_lora, hv, n_head),
        mat(p + "attn_output.weight", n_head * hv, n_embd),
    ]


def tensors(m: Md, n_vocab: int) -> list[Row]:
    n_layer, n_embd = m.num("block_count"), m.num("embedding_length")
    n_head = m.num("attention.head_count")
    kv = m.per_layer("attention.head_count_kv", n_layer)
    n_dense = m.num("leading_dense_block_count")
    n_expert, n_ff_exp = m.num("expert_count"), m.num("expert_feed_forward_length")
    n_shexp = n_ff_exp * max(m.num("expert_shared_count"), 1)
    rows = io(n_embd, n_vocab, tied=False)
    for il in range(n_layer):
        p = f"blk.{il}."
        rows.append(vec(p + "attn_norm.weight", n_embd))
        rows += _mla(p, m, n_embd, n_head) if kv[il] else _kda(p, m, n_embd, n_head)
        rows.append(vec(p + "ffn_norm.weight", n_embd))
        if il < n_dense:
            rows += ffn(p, n_embd, m.num("feed_forward_length"))
            continue
        rows += experts(p, n_embd, n_ff_exp, n_expert)
        rows += ffn(p, n_embd, n_shexp, suffix="_shexp")
        rows.append(vec(p + "exp_probs_b.bias", n_expert))
    return rows
