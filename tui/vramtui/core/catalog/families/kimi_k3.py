"""Kimi-K3 (`kimi-k3`), after llama.cpp src/models/kimi-k3.cpp load_arch_tensors: kimi-linear's
hybrid of KDA layers (head_count_kv = 0) and MLA layers, with

- a single full-rank KDA output gate (`ssm_g`, n_embd x n_head * kda.head_dim) in place of
  kimi-linear's g_a/g_b pair, and a plain 1-D `ssm_a` of n_head;
- an optional q LoRA (`attention.q_lora_rank`) and a sigmoid output gate (`attn_gate`) on the
  MLA layers;
- cross-layer residual attention (`attn_res.block_size` > 0): one score vector per layer before
  attention and before the FFN, and one before the output;
- latent MoE (`expert_latent_length` > 0): routed experts run at the latent width, with a
  down-projection into it (`ffn_routed_down`), one back (`ffn_routed_up`) and its norm;
  the shared experts stay at n_embd, expert_feed_forward_length x expert_shared_count wide.
"""

from __future__ import annotations

from vramtui.core.catalog.families.rows import Md, Row, f32, ffn, io, mat, qkvo, vec

ARCHITECTURES = frozenset({"kimi-k3"})


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
        vec(p + "ssm_a", n_head),
        vec(p + "ssm_dt.bias", inner),
        mat(p + "ssm_g.weight", n_embd, inner),
        vec(p + "ssm_norm.weight", hd),
    ]


def _mla(p: str, m: Md, n_embd: int, n_head: int) -> list[Row]:
    q_lora, kv_lora = m.num("attention.q_lora_rank"), m.num("attention.kv_lora_rank")
    n_rot = m.num("rope.dimension_count", 64)
    hk = m.num("attention.key_length_mla")
    hv = m.num("attention.value_length_mla")
    rows = [vec(p + "attn_kv_a_norm.weight", kv_lora)]
    if q_lora:
        rows += [
            vec(p + "attn_q_a_norm.weight", q_lora),
            mat(p + "attn_q_a.weight", n_embd, q_lora),
            mat(p + "attn_q_b.weight", q_lora, n_head * hk),
        ]
    else:
        rows.append(mat(p + "attn_q.weight", n_embd, n_head * hk))
    return [
        *rows,
        mat(p + "attn_kv_a_mqa.weight", n_embd, kv_lora + n_rot),
        mat(p + "attn_k_b.weight", hk - n_rot, kv_lora, n_head),
        mat(p + "attn_v_b.weight", kv_lora, hv, n_head),
        mat(p + "attn_gate.weight", n_embd, n_head * hv),
        mat(p + "attn_output.weight", n_head * hv, n_embd),
    ]


def _moe(p: str, m: Md, n_embd: int) -> list[Row]:
    n_expert, n_ff_exp = m.num("expert_count"), m.num("expert_feed_forward_length")
    latent = m.num("expert_latent_length")
    width = latent or n_embd
    rows = [
        f32(p + "ffn_gate_inp.weight", n_embd, n_expert),
        vec(p + "exp_probs_b.bias", n_expert),
        mat(p + "ffn_gate_exps.weight", width, n_ff_exp, n_expert),
        mat(p + "ffn_down_exps.weight", n_ff_exp, width, n_expert),
        mat(p + "ffn_up_exps.weight", width, n_ff_exp, n_expert),
    ]
    if latent:
        rows += [
            mat(p + "ffn_routed_down.weight", n_embd, latent),
            mat(p + "ffn_routed_up.weight", latent, n_embd),
            vec(p + "ffn_routed_norm.weight", latent),
        ]
    n_shared = m.num("expert_shared_count")
    if n_shared:
        rows += ffn(p, n_embd, n_ff_exp * n_shared, suffix="_shexp")
    return rows


def tensors(m: Md, n_vocab: int) -> list[Row]:
    n_layer, n_embd = m.num("block_count"), m.num("embedding_length")
    n_head = m.num("attention.head_count")
    kv = m.per_layer("attention.head_count_kv", n_layer)
    n_dense = m.num("leading_dense_block_count")
    res = m.num("attn_res.block_size") > 0
    rows = io(n_embd, n_vocab, tied=False)
    if res:
        rows.append(vec("output_res_score.weight", n_embd))
    for il in range(n_layer):
        p = f"blk.{il}."
        rows += [vec(p + "attn_norm.weight", n_embd), vec(p + "ffn_norm.weight", n_embd)]
        if res:
            rows += [
                vec(p + "attn_res_score.weight", n_embd),
                vec(p + "ffn_res_score.weight", n_embd),
            ]
        rows += _mla(p, m, n_embd, n_head) if kv[il] else _kda(p, m, n_embd, n_head)
        if il < n_dense:
            rows += ffn(p, n_embd, m.num("feed_forward_length"))
        else:
            rows += _moe(p, m, n_embd)
    return rows
