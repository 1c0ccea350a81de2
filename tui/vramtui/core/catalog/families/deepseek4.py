"""Tensor table of DeepSeek-V4 (`deepseek4`), after llama.cpp src/models/deepseek4.cpp
`load_arch_tensors` (shapes in GGUF order, ne0 first):

- global: token_embd, output_norm, output, and the hyper-connection head (`output_hc_fn`
  hc_mult x n_embd -> hc_mult, `output_hc_base` hc_mult, `output_hc_scale` 1);
- per block: one shared K/V projection (`attn_kv` n_embd -> head, `attn_kv_a_norm`), low-rank q
  (`attn_q_a`, `attn_q_a_norm`, `attn_q_b` -> n_head x head), attention sinks (n_head), the
  grouped low-rank output (`attn_output_a` stored as n_head x head / groups by
  lora x groups, `attn_output_b` groups x lora -> n_embd), the hyper-connection mixers for
  attention and FFN (`hc_*_fn` hc_mult x n_embd -> (2 + hc_mult) x hc_mult, `hc_*_base`,
  `hc_*_scale` 3);
- blocks with a compression ratio (`attention.compress_ratios`): the KV compressor
  (`attn_compressor_kv` / `_gate` n_embd -> c x head with c = 2 at ratio 4 and 1 at 128,
  `attn_compressor_ape` c x head by ratio, `attn_compressor_norm` head); ratio-4 (CSA) blocks add
  the lightning indexer (`indexer.proj`, `indexer.attn_q_b`, and its own compressor
  `indexer_compressor_kv` / `_gate` n_embd -> 2 x indexer head, `_ape`, `_norm`);
- the MoE: router, 256 experts and a shared expert; the first `hash_layer_count` blocks route by
  a token-id table (`ffn_gate_tid2eid`, I32 n_expert_used x n_vocab, written as I32 by
  conversion/deepseek.py) instead of a routing bias.
The converter keeps the MTP block out of the main file (conversion/deepseek.py DeepseekV4Model:
block_count = num_hidden_layers unless converting the MTP head alone). Float32 sources (the
hyper-connection and position tables) stay F32.
"""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.catalog.families.rows import Md, Row, mat, vec
from vramtui.core.gguf.spec import MetaValue

DEEPSEEK4_ARCHITECTURES = frozenset({"deepseek4"})

CSA_RATIO = 4  # llama-kv-cache-dsv4.cpp DSV4_CSA_RATIO: compressed sparse attention
HCA_RATIO = 128  # DSV4_HCA_RATIO: heavily compressed attention


def compress_ratios(md: Mapping[str, MetaValue], n_layer: int) -> list[int]:
    """`deepseek4.attention.compress_ratios` per block (0: sliding window only)."""
    v = md.get("deepseek4.attention.compress_ratios")
    vals = [int(x) for x in v if isinstance(x, (int, float))] if isinstance(v, tuple) else []
    return (vals + [0] * n_layer)[:n_layer]


def _f32(name: str, *shape: int) -> Row:
    return (name, tuple(shape), True)


def _attn(p: str, m: Md, ratio: int) -> list[Row]:
    n_embd, n_head = m.num("embedding_length"), m.num("attention.head_count")
    hd, q_lora = m.num("attention.key_length"), m.num("attention.q_lora_rank")
    groups, o_lora = m.num("attention.output_group_count"), m.num("attention.output_lora_rank")
    t = [
        vec(p + "attn_norm.weight", n_embd),
        vec(p + "attn_sinks.weight", n_head),
        mat(p + "attn_q_a.weight", n_embd, q_lora),
        vec(p + "attn_q_a_norm.weight", q_lora),
        mat(p + "attn_q_b.weight", q_lora, n_head * hd),
        mat(p + "attn_kv.weight", n_embd, hd),
        vec(p + "attn_kv_a_norm.weight", hd),
        mat(p + "attn_output_a.weight", n_head * hd // max(groups, 1), o_lora * groups),
        mat(p + "attn_output_b.weight", groups * o_lora, n_embd),
    ]
    if ratio:
        c = 2 if ratio == CSA_RATIO else 1
        t += [
            mat(p + "attn_compressor_kv.weight", n_embd, c * hd),
            mat(p + "attn_compressor_gate.weight", n_embd, c * hd),
            _f32(p + "attn_compressor_ape.weight", c * hd, ratio),
            vec(p + "attn_compressor_norm.weight", hd),
        ]
    if ratio == CSA_RATIO:
        n_idx, idx_hd = m.num("attention.indexer.head_count"), m.num("attention.indexer.key_length")
        t += [
            mat(p + "indexer.proj.weight", n_embd, n_idx),
            mat(p + "indexer.attn_q_b.weight", q_lora, n_idx * idx_hd),
            mat(p + "indexer_compressor_kv.weight", n_embd, 2 * idx_hd),
            mat(p + "indexer_compressor_gate.weight", n_embd, 2 * idx_hd),
            _f32(p + "indexer_compressor_ape.weight", 2 * idx_hd, ratio),
            vec(p + "indexer_compressor_norm.weight", idx_hd),
        ]
    return t


def _hyper(p: str, m: Md) -> list[Row]:
    hc = m.num("hyper_connection.count")
    hc_dim, mix = hc * m.num("embedding_length"), (2 + hc) * hc
    return [
        _f32(p + "hc_attn_fn.weight", hc_dim, mix),
        vec(p + "hc_attn_base.weight", mix),
        vec(p + "hc_attn_scale.weight", 3),
        _f32(p + "hc_ffn_fn.weight", hc_dim, mix),
        vec(p + "hc_ffn_base.weight", mix),
        vec(p + "hc_ffn_scale.weight", 3),
    ]


def _moe(p: str, m: Md, il: int, n_vocab: int) -> list[Row]:
    n_embd, n_exp = m.num("embedding_length"), m.num("expert_count")
    n_ff = m.num("expert_feed_forward_length")
    shexp = n_ff * m.num("expert_shared_count", 1)
    t: list[Row] = [(p + "ffn_gate_inp.weight", (n_embd, n_exp), True)]
    if il < m.num("hash_layer_count"):
        t.append(mat(p + "ffn_gate_tid2eid.weight", m.num("expert_used_count"), n_vocab))
    else:
        t.append(vec(p + "exp_probs_b.bias", n_exp))
    return [
        *t,
        vec(p + "ffn_norm.weight", n_embd),
        mat(p + "ffn_gate_exps.weight", n_embd, n_ff, n_exp),
        mat(p + "ffn_down_exps.weight", n_ff, n_embd, n_exp),
        mat(p + "ffn_up_exps.weight", n_embd, n_ff, n_exp),
        mat(p + "ffn_gate_shexp.weight", n_embd, shexp),
        mat(p + "ffn_down_shexp.weight", shexp, n_embd),
        mat(p + "ffn_up_shexp.weight", n_embd, shexp),
    ]


def deepseek4_tensors(md: Mapping[str, MetaValue], n_vocab: int) -> list[Row] | None:
    """The converter's tensor table for DeepSeek-V4, or None for any other architecture."""
    if md.get("general.architecture") not in DEEPSEEK4_ARCHITECTURES:
        return None
    m = Md(md, "deepseek4")
    n_embd, n_layer = m.num("embedding_length"), m.num("block_count")
    hc = m.num("hyper_connection.count")
    t = [
        mat("token_embd.weight", n_embd, n_vocab),
        vec("output_norm.weight", n_embd),
        mat("output.weight", n_embd, n_vocab),
        _f32("output_hc_fn.weight", hc * n_embd, hc),
        vec("output_hc_base.weight", hc),
        vec("output_hc_scale.weight", 1),
    ]
    for il, ratio in enumerate(compress_ratios(md, n_layer)):
        p = f"blk.{il}."
        t += _attn(p, m, ratio) + _hyper(p, m) + _moe(p, m, il, n_vocab)
    return t
