"""Tensor tables of the long-tail architectures: llama4, gemma3n, qwen2moe and DeepSeek-V2/V3
files converted before llama.cpp's MLA change (`attn_kv_b`, no `key_length_mla`).

The synthesizer asks `longtail_tensors` first; it answers with rows (name, GGUF shape, kept F32)
or None for an architecture it does not hold. Shapes follow llama.cpp's loaders (GGUF order, ne0
first):
- llama4: src/models/llama4.cpp `load_arch_tensors` (MoE every `interleave_moe_layer_step`
  layers, one shared expert of `expert_feed_forward_length`, dense layers of
  `feed_forward_length`; no expert-less llama4 exists: it throws "cannot have zero experts").
- gemma3n: src/models/gemma3n.cpp `load_arch_tensors` (AltUp projections, per-layer token
  embeddings of `embedding_length_per_layer_input` x n_layer, LAuReL rank 64, tied output).
- qwen2moe: src/llama-model.cpp LLM_ARCH_QWEN2MOE (biased q/k/v, one gated shared expert of
  `expert_shared_feed_forward_length`, `ffn_gate_inp_shexp` of width n_embd).
- deepseek2 without `attention.key_length_mla`: src/models/deepseek2.cpp, the `!is_mla` branch
  (`attn_kv_b` of kv_lora_rank x n_head*(qk_nope + v) decompresses K and V per head).
Tensor names: gguf-py/gguf/constants.py (TENSOR_NAMES).
"""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.catalog.families.rows import Md as _Md
from vramtui.core.catalog.families.rows import Row
from vramtui.core.catalog.families.rows import mat as _mat
from vramtui.core.catalog.families.rows import vec as _vec
from vramtui.core.gguf.spec import MetaValue

LONGTAIL_ARCHITECTURES = frozenset({"llama4", "gemma3n", "qwen2moe", "deepseek2"})

# gemma3n hyperparameters llama.cpp does not read from the file (src/llama-hparams.h defaults
# for n_altup/laurel_rank; the GGUF's own altup.num_inputs is 4 in every released model).
GEMMA3N_LAUREL_RANK = 64


def _io(n_embd: int, n_vocab: int, *, tied: bool) -> list[Row]:
    rows = [_mat("token_embd.weight", n_embd, n_vocab), _vec("output_norm.weight", n_embd)]
    if not tied:
        rows.append(_mat("output.weight", n_embd, n_vocab))
    return rows


def _qkvo(p: str, n_embd: int, heads: tuple[int, int], hk: int, hv: int) -> list[Row]:
    n_head, n_head_kv = heads
    return [
        _mat(p + "attn_q.weight", n_embd, n_head * hk),
        _mat(p + "attn_k.weight", n_embd, n_head_kv * hk),
        _mat(p + "attn_v.weight", n_embd, n_head_kv * hv),
        _mat(p + "attn_output.weight", n_head * hv, n_embd),
    ]


def _ffn(p: str, n_embd: int, n_ff: int, suffix: str = "") -> list[Row]:
    return [
        _mat(f"{p}ffn_gate{suffix}.weight", n_embd, n_ff),
        _mat(f"{p}ffn_up{suffix}.weight", n_embd, n_ff),
        _mat(f"{p}ffn_down{suffix}.weight", n_ff, n_embd),
    ]


def _experts(p: str, n_embd: int, n_ff_exp: int, n_expert: int) -> list[Row]:
    return [
        (p + "ffn_gate_inp.weight", (n_embd, n_expert), True),
        _mat(p + "ffn_gate_exps.weight", n_embd, n_ff_exp, n_expert),
        _mat(p + "ffn_up_exps.weight", n_embd, n_ff_exp, n_expert),
        _mat(p + "ffn_down_exps.weight", n_ff_exp, n_embd, n_expert),
    ]


def _llama4(m: _Md, n_vocab: int, tied: bool) -> list[Row]:
    n_layer, n_embd = m.num("block_count"), m.num("embedding_length")
    n_head = m.num("attention.head_count")
    n_kv = m.num("attention.head_count_kv", n_head)
    hd = m.num("attention.key_length", n_embd // max(n_head, 1))
    step = m.num("interleave_moe_layer_step", 1)
    n_ff, n_ff_exp = m.num("feed_forward_length"), m.num("expert_feed_forward_length")
    rows = _io(n_embd, n_vocab, tied=tied)
    for il in range(n_layer):
        p = f"blk.{il}."
        rows.append(_vec(p + "attn_norm.weight", n_embd))
        rows += _qkvo(p, n_embd, (n_head, n_kv), hd, hd)
        rows.append(_vec(p + "ffn_norm.weight", n_embd))
        if step > 0 and (il + 1) % step == 0:
            rows += _experts(p, n_embd, n_ff_exp, m.num("expert_count"))
            rows += _ffn(p, n_embd, n_ff_exp, "_shexp")
        else:
            rows += _ffn(p, n_embd, n_ff)
    return rows


def _gemma3n(m: _Md, n_vocab: int) -> list[Row]:
    n_layer, n_embd = m.num("block_count"), m.num("embedding_length")
    n_head = m.num("attention.head_count")
    n_kv = m.num("attention.head_count_kv", n_head)
    hd = m.num("attention.key_length", 256)
    n_altup = m.num("altup.num_inputs", 4)
    n_embd_altup = m.num("embedding_length_per_layer_input", 256)
    rank = GEMMA3N_LAUREL_RANK
    n_ffs = m.md.get(f"{m.arch}.feed_forward_length")
    rows = [
        *_io(n_embd, n_vocab, tied=True),
        _mat("altup_proj.weight", n_embd, n_embd, n_altup - 1),
        _mat("altup_unembd_proj.weight", n_embd, n_embd, n_altup - 1),
        _mat("per_layer_token_embd.weight", n_embd_altup * n_layer, n_vocab),
        _mat("per_layer_model_proj.weight", n_embd, n_embd_altup * n_layer),
        _vec("per_layer_proj_norm.weight", n_embd_altup),
    ]
    for il in range(n_layer):
        p = f"blk.{il}."
        n_ff = int(n_ffs[il]) if isinstance(n_ffs, tuple) else m.num("feed_forward_length")
        rows.append(_vec(p + "attn_norm.weight", n_embd))
        rows += _qkvo(p, n_embd, (n_head, n_kv), hd, hd)
        rows += [
            _vec(p + "attn_q_norm.weight", hd),
            _vec(p + "attn_k_norm.weight", hd),
            _vec(p + "post_attention_norm.weight", n_embd),
            _vec(p + "ffn_norm.weight", n_embd),
        ]
        rows += _ffn(p, n_embd, n_ff)
        rows += [
            _vec(p + "post_ffw_norm.weight", n_embd),
            _mat(p + "inp_gate.weight", n_embd, n_embd_altup),
            _mat(p + "proj.weight", n_embd_altup, n_embd),
            _vec(p + "post_norm.weight", n_embd),
            (p + "altup_correct_coef.weight", (n_altup, n_altup), True),
            _vec(p + "altup_correct_scale.weight", n_embd),
            (p + "altup_predict_coef.weight", (n_altup, n_altup * n_altup), True),
            _mat(p + "altup_router.weight", n_embd, n_altup),
            _vec(p + "altup_router_norm.weight", n_embd),
            _mat(p + "laurel_l.weight", n_embd, rank),
            _mat(p + "laurel_r.weight", rank, n_embd),
            _vec(p + "laurel_post_norm.weight", n_embd),
        ]
    return rows


def _qwen2moe(m: _Md, n_vocab: int, tied: bool) -> list[Row]:
    n_layer, n_embd = m.num("block_count"), m.num("embedding_length")
    n_head = m.num("attention.head_count")
    n_kv = m.num("attention.head_count_kv", n_head)
    hd = n_embd // max(n_head, 1)
    n_ff_exp = m.num("expert_feed_forward_length")
    n_ff_sh = m.num("expert_shared_feed_forward_length", m.num("feed_forward_length"))
    rows = _io(n_embd, n_vocab, tied=tied)
    for il in range(n_layer):
        p = f"blk.{il}."
        rows.append(_vec(p + "attn_norm.weight", n_embd))
        rows += _qkvo(p, n_embd, (n_head, n_kv), hd, hd)
        rows += [
            _vec(p + "attn_q.bias", n_head * hd),
            _vec(p + "attn_k.bias", n_kv * hd),
            _vec(p + "attn_v.bias", n_kv * hd),
            _vec(p + "ffn_norm.weight", n_embd),
        ]
        rows += _experts(p, n_embd, n_ff_exp, m.num("expert_count"))
        rows.append(_vec(p + "ffn_gate_inp_shexp.weight", n_embd))
        rows += _ffn(p, n_embd, n_ff_sh, "_shexp")
    return rows


def _deepseek2_pre_mla(m: _Md, n_vocab: int, tied: bool) -> list[Row]:
    n_layer, n_embd = m.num("block_count"), m.num("embedding_length")
    n_head = m.num("attention.head_count")
    hk, hv = m.num("attention.key_length", 192), m.num("attention.value_length", 128)
    n_rot = m.num("rope.dimension_count", 64)
    q_lora, kv_lora = m.num("attention.q_lora_rank"), m.num("attention.kv_lora_rank", 512)
    n_dense = m.num("leading_dense_block_count")
    n_ff_exp = m.num("expert_feed_forward_length")
    rows = _io(n_embd, n_vocab, tied=tied)
    for il in range(n_layer):
        p = f"blk.{il}."
        rows.append(_vec(p + "attn_norm.weight", n_embd))
        if q_lora:
            rows += [
                _mat(p + "attn_q_a.weight", n_embd, q_lora),
                _vec(p + "attn_q_a_norm.weight", q_lora),
                _mat(p + "attn_q_b.weight", q_lora, n_head * hk),
            ]
        else:
            rows.append(_mat(p + "attn_q.weight", n_embd, n_head * hk))
        rows += [
            _mat(p + "attn_kv_a_mqa.weight", n_embd, kv_lora + n_rot),
            _vec(p + "attn_kv_a_norm.weight", kv_lora),
            _mat(p + "attn_kv_b.weight", kv_lora, n_head * (hk - n_rot + hv)),
            _mat(p + "attn_output.weight", n_head * hv, n_embd),
            _vec(p + "ffn_norm.weight", n_embd),
        ]
        if il < n_dense:
            rows += _ffn(p, n_embd, m.num("feed_forward_length"))
        else:
            rows += _experts(p, n_embd, n_ff_exp, m.num("expert_count"))
            if m.num("expert_gating_func") == 2:
                rows.append(_vec(p + "exp_probs_b.bias", m.num("expert_count")))
            rows += _ffn(p, n_embd, n_ff_exp * max(m.num("expert_shared_count", 1), 1), "_shexp")
    return rows


def longtail_tensors(md: Mapping[str, MetaValue], n_vocab: int) -> list[Row] | None:
    """The converter's tensor table for a long-tail architecture, or None for any other.

    deepseek2 is answered only for files without `attention.key_length_mla` (converted before
    llama.cpp's MLA change); newer deepseek2 files are the main synthesizer's.
    """
    arch = md.get("general.architecture")
    if not isinstance(arch, str) or arch not in LONGTAIL_ARCHITECTURES:
        return None
    m = _Md(md, arch)
    tied = md.get("vramtui.tied_embeddings") is True
    if arch == "llama4":
        return _llama4(m, n_vocab, tied)
    if arch == "gemma3n":
        return _gemma3n(m, n_vocab)
    if arch == "qwen2moe":
        return _qwen2moe(m, n_vocab, tied)
    if m.has("attention.key_length_mla"):
        return None
    return _deepseek2_pre_mla(m, n_vocab, tied)
