"""The gemma4 tensor table (src/models/gemma4.cpp `load_arch_tensors`, names from
src/llama-arch.cpp LLM_TENSOR_NAMES, written by conversion/gemma.py `Gemma4Model`).

Per layer the head size and KV head count follow the layer's kind: full-attention layers use
`attention.key_length` (the HF `global_head_dim`) and sliding ones `attention.key_length_swa`
(`head_dim`); `attention.head_count_kv` is an array when the two kinds differ. Full-attention
layers of a checkpoint with `attention_k_eq_v` have no V projection (the hint
`vramtui.attention_k_eq_v`; the graph then uses K as V). One `rope_freqs` tensor (half the
full head size) serves every full-attention layer. MoE layers (26B-A4B) keep the dense FFN as a
shared expert beside the routed ones; per-layer embeddings (E2B/E4B) add a token table of
`embedding_length_per_layer_input` x n_layer and a gate and projection per layer.
"""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.catalog.families.rows import Md, Row
from vramtui.core.gguf.spec import MetaValue

ARCHITECTURES = frozenset({"gemma4", "gemma4-assistant"})


def _num(md: Mapping[str, MetaValue], key: str, default: int = 0) -> int:
    return Md(md, "gemma4").num(key, default)


def _per_layer(md: Mapping[str, MetaValue], key: str, n_layer: int, default: int) -> list[int]:
    return Md(md, "gemma4").per_layer(key, n_layer, default)


def swa_flags(md: Mapping[str, MetaValue], n_layer: int) -> list[bool]:
    """gemma4.attention.sliding_window_pattern: one flag per layer (the converter writes the
    HF `layer_types`); a missing entry is a full-attention layer."""
    v = md.get("gemma4.attention.sliding_window_pattern")
    flags = [bool(x) for x in v] if isinstance(v, tuple) else []
    return (flags + [False] * n_layer)[:n_layer]


def _vec(name: str, n: int) -> Row:
    return (name, (n,), True)


def _mat(name: str, *shape: int) -> Row:
    return (name, tuple(shape), False)


def _attn(p: str, n_embd: int, dims: tuple[int, int, int]) -> list[Row]:
    hk, n_head, n_kv = dims
    return [
        _vec(p + "attn_norm.weight", n_embd),
        _mat(p + "attn_q.weight", n_embd, hk * n_head),
        _mat(p + "attn_k.weight", n_embd, hk * n_kv),
        _mat(p + "attn_output.weight", hk * n_head, n_embd),
        _vec(p + "attn_q_norm.weight", hk),
        _vec(p + "attn_k_norm.weight", hk),
        _vec(p + "post_attention_norm.weight", n_embd),
        _vec(p + "layer_output_scale.weight", 1),
    ]


def _moe(p: str, n_embd: int, n_ff_exp: int, n_expert: int) -> list[Row]:
    return [
        (p + "ffn_gate_inp.weight", (n_embd, n_expert), True),
        _vec(p + "ffn_gate_inp.scale", n_embd),
        _vec(p + "pre_ffw_norm_2.weight", n_embd),
        _vec(p + "post_ffw_norm_1.weight", n_embd),
        _vec(p + "post_ffw_norm_2.weight", n_embd),
        _mat(p + "ffn_gate_exps.weight", n_embd, n_ff_exp, n_expert),
        _mat(p + "ffn_up_exps.weight", n_embd, n_ff_exp, n_expert),
        _mat(p + "ffn_down_exps.weight", n_ff_exp, n_embd, n_expert),
        _vec(p + "ffn_down_exps.scale", n_expert),
    ]


def gemma4_tensors(md: Mapping[str, MetaValue], n_vocab: int) -> list[Row]:
    """Rows (name, GGUF shape, kept F32) of a gemma4 file, in the loader's order."""
    n_layer, n_embd = _num(md, "block_count"), _num(md, "embedding_length")
    n_pl = _num(md, "embedding_length_per_layer_input")
    n_expert, n_ff_exp = _num(md, "expert_count"), _num(md, "expert_feed_forward_length")
    n_heads = _per_layer(md, "attention.head_count", n_layer, 0)
    n_kvs = _per_layer(md, "attention.head_count_kv", n_layer, max(n_heads, default=1))
    n_ffs = _per_layer(md, "feed_forward_length", n_layer, 0)
    hk_full = _num(md, "attention.key_length")
    hk_swa = _num(md, "attention.key_length_swa", hk_full)
    k_eq_v = md.get("vramtui.attention_k_eq_v") is True
    swa = swa_flags(md, n_layer)
    rows: list[Row] = [_mat("token_embd.weight", n_embd, n_vocab)]
    if n_pl:
        rows += [
            _mat("per_layer_token_embd.weight", n_pl * n_layer, n_vocab),
            _mat("per_layer_model_proj.weight", n_embd, n_pl * n_layer),
            _vec("per_layer_proj_norm.weight", n_pl),
        ]
    rows.append(_vec("output_norm.weight", n_embd))
    if any(not s for s in swa):
        rows.append(_vec("rope_freqs.weight", hk_full // 2))
    for il in range(n_layer):
        p = f"blk.{il}."
        hk = hk_swa if swa[il] else hk_full
        rows += _attn(p, n_embd, (hk, n_heads[il], n_kvs[il]))
        if swa[il] or not k_eq_v:
            rows.append(_mat(p + "attn_v.weight", n_embd, hk * n_kvs[il]))
        rows += [
            _vec(p + "ffn_norm.weight", n_embd),
            _mat(p + "ffn_gate.weight", n_embd, n_ffs[il]),
            _mat(p + "ffn_up.weight", n_embd, n_ffs[il]),
            _mat(p + "ffn_down.weight", n_ffs[il], n_embd),
            _vec(p + "post_ffw_norm.weight", n_embd),
        ]
        if n_expert:
            rows += _moe(p, n_embd, n_ff_exp, n_expert)
        if n_pl:
            rows += [
                _mat(p + "inp_gate.weight", n_embd, n_pl),
                _mat(p + "proj.weight", n_pl, n_embd),
                _vec(p + "post_norm.weight", n_embd),
            ]
    return rows


def assistant_tensors(md: Mapping[str, MetaValue], n_vocab: int) -> list[Row]:
    """Rows of a gemma4-assistant file, the separate drafter (src/models/gemma4-assistant.cpp
    `load_arch_tensors`): its own small layers (query, output and FFN only: K and V come from
    the target's cache), a pre-projection from the target's embedding and hidden state
    (2 x `embedding_length_out`) and a post-projection back to the target's width."""
    arch = "gemma4-assistant"

    def num(key: str, default: int = 0) -> int:
        v = md.get(f"{arch}.{key}")
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default

    n_layer, n_embd = num("block_count"), num("embedding_length")
    n_backbone, n_head, n_ff = (
        num("embedding_length_out"),
        num("attention.head_count"),
        num("feed_forward_length"),
    )
    hk_full = num("attention.key_length")
    hk_swa = num("attention.key_length_swa", hk_full)
    v = md.get(f"{arch}.attention.sliding_window_pattern")
    swa = ([bool(x) for x in v] if isinstance(v, tuple) else []) + [False] * n_layer
    rows: list[Row] = [
        _mat("token_embd.weight", n_embd, n_vocab),
        _vec("output_norm.weight", n_embd),
        _mat("nextn.post_projection.weight", n_embd, n_backbone),
        _mat("nextn.pre_projection.weight", 2 * n_backbone, n_embd),
    ]
    if not all(swa[:n_layer]):
        rows.append(_vec("rope_freqs.weight", hk_full // 2))
    for il in range(n_layer):
        p, hk = f"blk.{il}.", hk_swa if swa[il] else hk_full
        rows += [
            _vec(p + "attn_norm.weight", n_embd),
            _mat(p + "attn_q.weight", n_embd, hk * n_head),
            _mat(p + "attn_output.weight", hk * n_head, n_embd),
            _vec(p + "attn_q_norm.weight", hk),
            _vec(p + "post_attention_norm.weight", n_embd),
            _vec(p + "layer_output_scale.weight", 1),
            _vec(p + "ffn_norm.weight", n_embd),
            _mat(p + "ffn_gate.weight", n_embd, n_ff),
            _mat(p + "ffn_up.weight", n_embd, n_ff),
            _mat(p + "ffn_down.weight", n_ff, n_embd),
            _vec(p + "post_ffw_norm.weight", n_embd),
        ]
    return rows
