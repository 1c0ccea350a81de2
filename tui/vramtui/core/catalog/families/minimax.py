"""Tensor table of MiniMax-M2 (`minimax-m2`), after llama.cpp src/models/minimax-m2.cpp
`load_arch_tensors`: separate q/k/v (GQA, head width `attention.key_length`), q/k RMS norms over
the whole projection (n_head x head and n_head_kv x head wide, not per head), and a routed MoE of
`feed_forward_length`-wide experts with a routing bias (`exp_probs_b`) and no shared expert.
"""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.catalog.families.rows import Md, Row, mat, vec
from vramtui.core.gguf.spec import MetaValue

MINIMAX_ARCHITECTURES = frozenset({"minimax-m2"})


def minimax_tensors(md: Mapping[str, MetaValue], n_vocab: int) -> list[Row] | None:
    """The converter's tensor table for MiniMax-M2, or None for any other architecture."""
    arch = md.get("general.architecture")
    if not isinstance(arch, str) or arch not in MINIMAX_ARCHITECTURES:
        return None
    m = Md(md, arch)
    n_embd = m.num("embedding_length")
    n_head = m.num("attention.head_count")
    n_head_kv = m.num("attention.head_count_kv", n_head)
    hk = m.num("attention.key_length", n_embd // max(n_head, 1))
    n_ff, n_exp = m.num("feed_forward_length"), m.num("expert_count")
    t = [
        mat("token_embd.weight", n_embd, n_vocab),
        vec("output_norm.weight", n_embd),
        mat("output.weight", n_embd, n_vocab),
    ]
    for il in range(m.num("block_count")):
        p = f"blk.{il}."
        t += [
            mat(p + "attn_q.weight", n_embd, n_head * hk),
            mat(p + "attn_k.weight", n_embd, n_head_kv * hk),
            mat(p + "attn_v.weight", n_embd, n_head_kv * hk),
            mat(p + "attn_output.weight", n_head * hk, n_embd),
            vec(p + "attn_norm.weight", n_embd),
            vec(p + "attn_q_norm.weight", n_head * hk),
            vec(p + "attn_k_norm.weight", n_head_kv * hk),
            vec(p + "ffn_norm.weight", n_embd),
            (p + "ffn_gate_inp.weight", (n_embd, n_exp), True),
            mat(p + "ffn_gate_exps.weight", n_embd, n_ff, n_exp),
            mat(p + "ffn_down_exps.weight", n_ff, n_embd, n_exp),
            mat(p + "ffn_up_exps.weight", n_embd, n_ff, n_exp),
            vec(p + "exp_probs_b.bias", n_exp),
        ]
    return t
