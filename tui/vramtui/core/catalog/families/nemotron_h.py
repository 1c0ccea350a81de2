"""Nemotron-H / Nemotron 3 (`nemotron_h`, `nemotron_h_moe`): one mixer per layer, chosen by the
per-layer arrays (src/models/nemotron-h.cpp load_arch_hparams): head_count_kv = 0 and
feed_forward_length = 0 is a Mamba-2 layer, head_count_kv > 0 an attention layer, and
feed_forward_length > 0 a feed-forward layer (ReLU^2 up/down without a gate; with experts in
`nemotron_h_moe`: router, score bias, up/down experts and an up/down shared expert).
"""

from __future__ import annotations

from vramtui.core.catalog.families.rows import Md, Row, ffn, io, mamba2_mixer, mat, qkvo, vec

ARCHITECTURES = frozenset({"nemotron_h", "nemotron_h_moe"})


def tensors(m: Md, n_vocab: int) -> list[Row]:
    n_layer, n_embd = m.num("block_count"), m.num("embedding_length")
    kv = m.per_layer("attention.head_count_kv", n_layer)
    ff = m.per_layer("feed_forward_length", n_layer)
    heads = m.per_layer("attention.head_count", n_layer)
    hd = m.num("attention.key_length", 128)
    n_expert = m.num("expert_count")
    rows = io(n_embd, n_vocab, tied=m.tied)
    for il in range(n_layer):
        p = f"blk.{il}."
        rows.append(vec(p + "attn_norm.weight", n_embd))
        if kv[il] == 0 and ff[il] == 0:
            rows += mamba2_mixer(p, m, n_embd)
        elif ff[il] == 0:
            rows += qkvo(p, n_embd, heads[il] * hd, (kv[il] * hd, kv[il] * hd), heads[il] * hd)
        elif n_expert:
            n_ff_exp = m.num("expert_feed_forward_length")
            rows += [
                mat(p + "ffn_gate_inp.weight", n_embd, n_expert),
                vec(p + "exp_probs_b.bias", n_expert),
                mat(p + "ffn_up_exps.weight", n_embd, n_ff_exp, n_expert),
                mat(p + "ffn_down_exps.weight", n_ff_exp, n_embd, n_expert),
            ]
            rows += ffn(
                p, n_embd, m.num("expert_shared_feed_forward_length"), gate=False, suffix="_shexp"
            )
        else:
            rows += ffn(p, n_embd, ff[il], gate=False)
    return rows
