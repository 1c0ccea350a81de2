"""MiniMax-M3 (`minimax-m3`), after llama.cpp src/models/minimax-m3.cpp load_arch_tensors:
MiniMax-M2's GQA (separate q/k/v, head width `attention.key_length`) with per-head q/k norms
(one head-wide vector each), DeepSeek-V3's leading dense layers, routed experts with a routing
bias and a shared expert (expert_feed_forward_length x expert_shared_count wide), and on every
layer after the dense ones a MiniMax Sparse Attention indexer: q and k projections to
`attention.indexer.head_count` heads and one head of `attention.indexer.key_length`, each
with its norm.
"""

from __future__ import annotations

from vramtui.core.catalog.families.rows import Md, Row, experts, ffn, io, mat, qkvo, vec

ARCHITECTURES = frozenset({"minimax-m3"})


def tensors(m: Md, n_vocab: int) -> list[Row]:
    n_embd = m.num("embedding_length")
    n_head = m.num("attention.head_count")
    n_head_kv = m.num("attention.head_count_kv", n_head)
    hk = m.num("attention.key_length", n_embd // max(n_head, 1))
    n_dense = m.num("leading_dense_block_count")
    n_expert, n_ff_exp = m.num("expert_count"), m.num("expert_feed_forward_length")
    n_shexp = n_ff_exp * m.num("expert_shared_count")
    idx_heads, idx_dim = (
        m.num("attention.indexer.head_count"),
        m.num("attention.indexer.key_length"),
    )
    rows = io(n_embd, n_vocab, tied=False)
    for il in range(m.num("block_count")):
        p = f"blk.{il}."
        rows += qkvo(p, n_embd, n_head * hk, (n_head_kv * hk, n_head_kv * hk), n_head * hk)
        rows += [
            vec(p + "attn_norm.weight", n_embd),
            vec(p + "attn_q_norm.weight", hk),
            vec(p + "attn_k_norm.weight", hk),
            vec(p + "ffn_norm.weight", n_embd),
        ]
        if il < n_dense:
            rows += ffn(p, n_embd, m.num("feed_forward_length"))
            continue
        rows += experts(p, n_embd, n_ff_exp, n_expert)
        rows.append(vec(p + "exp_probs_b.bias", n_expert))
        rows += ffn(p, n_embd, n_shexp, suffix="_shexp")
        rows += [
            mat(p + "indexer.q_proj.weight", n_embd, idx_heads * idx_dim),
            mat(p + "indexer.k_proj.weight", n_embd, idx_dim),
            vec(p + "indexer.q_norm.weight", idx_dim),
            vec(p + "indexer.k_norm.weight", idx_dim),
        ]
    return rows
