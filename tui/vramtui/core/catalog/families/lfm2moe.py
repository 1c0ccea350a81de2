"""LFM2-MoE (`lfm2moe`, LFM2-8B-A1B): LFM2's short convolutions and attention layers
(head_count_kv = 0 marks a convolution layer) with a sparse MoE after the first
`leading_dense_block_count` layers (src/models/lfm2moe.cpp load_arch_tensors: router, expert
score bias, gated experts; the output norm is stored as `token_embd_norm`).
"""

from __future__ import annotations

from vramtui.core.catalog.families.rows import Md, Row, experts, f32, ffn, io, mat, qkvo, vec

ARCHITECTURES = frozenset({"lfm2moe"})


def tensors(m: Md, n_vocab: int) -> list[Row]:
    n_layer, n_embd = m.num("block_count"), m.num("embedding_length")
    n_head = m.num("attention.head_count")
    kv = m.per_layer("attention.head_count_kv", n_layer)
    hd = n_embd // max(n_head, 1)
    l_cache = m.num("shortconv.l_cache", 3)
    n_dense = m.num("leading_dense_block_count")
    n_expert = m.num("expert_count")
    rows = io(n_embd, n_vocab, tied=m.tied, norm="token_embd_norm.weight")
    for il in range(n_layer):
        p = f"blk.{il}."
        rows.append(vec(p + "ffn_norm.weight", n_embd))
        if il < n_dense:
            rows += ffn(p, n_embd, m.per_layer("feed_forward_length", n_layer)[il])
        else:
            rows += experts(p, n_embd, m.num("expert_feed_forward_length"), n_expert)
            rows.append(vec(p + "exp_probs_b.bias", n_expert))
        rows.append(vec(p + "attn_norm.weight", n_embd))
        if kv[il]:
            rows += [vec(p + "attn_q_norm.weight", hd), vec(p + "attn_k_norm.weight", hd)]
            rows += qkvo(p, n_embd, n_embd, (kv[il] * hd, kv[il] * hd), n_embd)
        else:
            rows += [
                f32(p + "shortconv.conv.weight", l_cache, n_embd),
                mat(p + "shortconv.in_proj.weight", n_embd, 3 * n_embd),
                mat(p + "shortconv.out_proj.weight", n_embd, n_embd),
            ]
    return rows
