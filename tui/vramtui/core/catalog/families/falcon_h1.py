"""Falcon-H1 (`falcon-h1`): every layer runs a Mamba-2 mixer and attention side by side, then a
gated feed-forward (src/models/falcon-h1.cpp load_arch_tensors). llama.cpp marks every layer
recurrent and gives every layer a KV cache too (llama-model.cpp create_memory: both filters
true for LLM_ARCH_FALCON_H1).
"""

from __future__ import annotations

from vramtui.core.catalog.families.rows import Md, Row, ffn, io, mamba2_mixer, qkvo, vec

ARCHITECTURES = frozenset({"falcon-h1"})


def tensors(m: Md, n_vocab: int) -> list[Row]:
    n_layer, n_embd = m.num("block_count"), m.num("embedding_length")
    n_head = m.num("attention.head_count")
    n_head_kv = m.num("attention.head_count_kv", n_head)
    hk = m.num("attention.key_length", n_embd // max(n_head, 1))
    hv = m.num("attention.value_length", hk)
    n_ff = m.num("feed_forward_length")
    rows = io(n_embd, n_vocab, tied=m.tied)
    for il in range(n_layer):
        p = f"blk.{il}."
        rows += mamba2_mixer(p, m, n_embd)
        rows += qkvo(p, n_embd, n_head * hk, (n_head_kv * hk, n_head_kv * hv), n_head * hk)
        rows.append(vec(p + "attn_norm.weight", n_embd))
        rows.append(vec(p + "ffn_norm", n_embd))  # loaded without a ".weight" suffix
        rows += ffn(p, n_embd, n_ff)
    return rows
