"""Build a model's tensor table from architecture facts, and write it as a sparse GGUF file.

This is the one way the project makes a model from facts: the bundled catalog synthesizes its
specs here, and tests everywhere write sparse files with `write_sparse_gguf` (the tensor data is
a hole: a 20 GB model takes a few MB of disk) that llama.cpp itself can open for its dry run.

Tensor names and shapes follow llama.cpp `src/llama-model.cpp` (`load_tensors`, per
architecture) and `gguf-py/gguf/constants.py` (MODEL_TENSORS); shapes are in GGUF order (ne0
first). The quantization mix follows llama.cpp `src/llama-quant.cpp` `llama_tensor_get_type`
(the rules that matter for size: output/attn_v/ffn_down bumps, fallbacks for rows that do not
divide the block size, tensors that stay F32).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core.errors import ModelFileError, VramtuiError
from tui.core.model.ggml_types import GGML_TYPES, ggml_type_by_name
from tui.core.model.spec import MetaValue, ModelSpec, SkippedArray, TensorInfo, vocab_size

ALIGNMENT = 32  # GGUF default general.alignment

# llama_ftype ids (include/llama.h) for general.file_type.
FTYPES: dict[str, int] = {
    "F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9,
    "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15,
    "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "IQ2_XXS": 19, "IQ2_XS": 20, "Q2_K_S": 21,
    "IQ3_XS": 22, "IQ3_XXS": 23, "IQ1_S": 24, "IQ4_NL": 25, "IQ3_S": 26, "IQ3_M": 27,
    "IQ2_S": 28, "IQ2_M": 29, "IQ4_XS": 30, "IQ1_M": 31, "BF16": 32, "TQ1_0": 36,
    "TQ2_0": 37, "MXFP4": 38, "MXFP4_MOE": 38,
}  # fmt: skip

# Base tensor type of each ftype (llama-quant.cpp llama_model_quantize_impl switch).
_BASE: dict[str, str] = {
    "F32": "F32", "F16": "F16", "BF16": "BF16", "Q4_0": "Q4_0", "Q4_1": "Q4_1",
    "Q5_0": "Q5_0", "Q5_1": "Q5_1", "Q8_0": "Q8_0", "Q2_K": "Q2_K", "Q2_K_S": "Q2_K",
    "Q3_K_S": "Q3_K", "Q3_K_M": "Q3_K", "Q3_K_L": "Q3_K", "Q4_K_S": "Q4_K", "Q4_K_M": "Q4_K",
    "Q5_K_S": "Q5_K", "Q5_K_M": "Q5_K", "Q6_K": "Q6_K", "IQ2_XXS": "IQ2_XXS",
    "IQ2_XS": "IQ2_XS", "IQ2_S": "IQ2_XS", "IQ2_M": "IQ2_S", "IQ3_XS": "IQ3_S",
    "IQ3_XXS": "IQ3_XXS", "IQ3_S": "IQ3_S", "IQ3_M": "IQ3_S", "IQ1_S": "IQ1_S",
    "IQ1_M": "IQ1_M", "IQ4_NL": "IQ4_NL", "IQ4_XS": "IQ4_XS", "TQ1_0": "TQ1_0",
    "TQ2_0": "TQ2_0", "MXFP4": "Q8_0", "MXFP4_MOE": "Q8_0",
}  # fmt: skip

# Fallback when a row does not divide the block size (llama-quant.cpp: incompatible tensors).
_FALLBACK: dict[str, str] = {
    "TQ1_0": "Q4_0", "TQ2_0": "Q4_0", "IQ2_XXS": "Q4_0", "IQ2_XS": "Q4_0", "IQ2_S": "Q4_0",
    "IQ3_XXS": "Q4_0", "IQ3_S": "Q4_0", "IQ1_S": "Q4_0", "IQ1_M": "Q4_0",
    "Q2_K": "Q4_0", "Q3_K": "IQ4_NL", "IQ4_XS": "IQ4_NL", "Q4_K": "Q5_0", "Q5_K": "Q5_1",
    "Q6_K": "Q8_0",
}  # fmt: skip

# Tensors llama-quant.cpp never quantizes (kept as the converter wrote them, F32 here).
_KEEP_F32 = (
    "ffn_gate_inp",
    "ssm_conv1d",
    "ssm_a",
    "ssm_d",
    "ssm_dt",
    "attn_sinks",
    "exp_probs_b",
    "shortconv.conv",
    "pos_embd",
    "token_types",
    "ssm_norm",
    "rope_freqs",
)


@dataclass(frozen=True, slots=True)
class _T:
    name: str
    shape: tuple[int, ...]
    f32: bool = False  # 1-D tensors and the kept-F32 list


class _Meta:
    """Typed reads of architecture-scoped metadata with defaults."""

    def __init__(self, metadata: Mapping[str, MetaValue]) -> None:
        self.md = metadata
        arch = metadata.get("general.architecture", "")
        self.arch = arch if isinstance(arch, str) else ""

    def raw(self, key: str) -> MetaValue | None:
        return self.md.get(f"{self.arch}.{key}")

    def num(self, key: str, default: int = 0) -> int:
        v = self.raw(key)
        if isinstance(v, tuple):
            nums = [int(x) for x in v if isinstance(x, (int, float))]
            return max(nums) if nums else default
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return default
        return int(v)

    def per_layer(self, key: str, n_layer: int, default: int = 0) -> list[int]:
        v = self.raw(key)
        if isinstance(v, tuple):
            vals = [int(x) if isinstance(x, (int, float)) else default for x in v]
            return (vals + [vals[-1] if vals else default] * n_layer)[:n_layer]
        return [self.num(key, default)] * n_layer


# ----------------------------------------------------------------------------- tensor tables


def _attn(p: str, m: _Meta, n_embd: int, il: int, *, bias: bool = False, qk_norm: bool = False,
          o_bias: bool = False, q_gate: bool = False) -> list[_T]:  # fmt: skip
    n_head = m.per_layer("attention.head_count", il + 1)[il]
    n_head_kv = m.per_layer("attention.head_count_kv", il + 1, n_head)[il]
    hk = m.num("attention.key_length", n_embd // max(n_head, 1))
    hv = m.num("attention.value_length", hk)
    q_out = n_head * hk * (2 if q_gate else 1)
    out = [
        _T(p + "attn_q.weight", (n_embd, q_out)),
        _T(p + "attn_k.weight", (n_embd, n_head_kv * hk)),
        _T(p + "attn_v.weight", (n_embd, n_head_kv * hv)),
        _T(p + "attn_output.weight", (n_head * hv, n_embd)),
    ]
    if bias:
        out += [
            _T(p + "attn_q.bias", (q_out,), True),
            _T(p + "attn_k.bias", (n_head_kv * hk,), True),
            _T(p + "attn_v.bias", (n_head_kv * hv,), True),
        ]
    if o_bias:
        out.append(_T(p + "attn_output.bias", (n_embd,), True))
    if qk_norm:
        out += [
            _T(p + "attn_q_norm.weight", (hk,), True),
            _T(p + "attn_k_norm.weight", (hk,), True),
        ]
    return out


def _dense_ffn(p: str, n_embd: int, n_ff: int, *, gate: bool = True) -> list[_T]:
    out = [_T(p + "ffn_up.weight", (n_embd, n_ff)), _T(p + "ffn_down.weight", (n_ff, n_embd))]
    if gate:
        out.insert(0, _T(p + "ffn_gate.weight", (n_embd, n_ff)))
    return out


def _moe_ffn(
    p: str,
    n_embd: int,
    n_ff_exp: int,
    n_expert: int,
    *,
    bias: bool = False,
    shexp_ff: int = 0,
    probs_b: bool = False,
    shexp_gate: bool = False,
) -> list[_T]:
    out = [
        _T(p + "ffn_gate_inp.weight", (n_embd, n_expert), True),
        _T(p + "ffn_gate_exps.weight", (n_embd, n_ff_exp, n_expert)),
        _T(p + "ffn_up_exps.weight", (n_embd, n_ff_exp, n_expert)),
        _T(p + "ffn_down_exps.weight", (n_ff_exp, n_embd, n_expert)),
    ]
    if bias:
        out += [
            _T(p + "ffn_gate_inp.bias", (n_expert,), True),
            _T(p + "ffn_gate_exps.bias", (n_ff_exp, n_expert), True),
            _T(p + "ffn_up_exps.bias", (n_ff_exp, n_expert), True),
            _T(p + "ffn_down_exps.bias", (n_embd, n_expert), True),
        ]
    if probs_b:
        out.append(_T(p + "exp_probs_b.bias", (n_expert,), True))
    if shexp_ff:
        out += [
            _T(p + "ffn_gate_shexp.weight", (n_embd, shexp_ff)),
            _T(p + "ffn_up_shexp.weight", (n_embd, shexp_ff)),
            _T(p + "ffn_down_shexp.weight", (shexp_ff, n_embd)),
        ]
    if shexp_gate:
        out.append(_T(p + "ffn_gate_inp_shexp.weight", (n_embd,), True))
    return out


def _norm(name: str, n: int) -> _T:
    return _T(name, (n,), True)


def _io(m: _Meta, n_embd: int, n_vocab: int, *, tied: bool = False) -> list[_T]:
    out = [_T("token_embd.weight", (n_embd, n_vocab)), _norm("output_norm.weight", n_embd)]
    if not tied:
        out.append(_T("output.weight", (n_embd, n_vocab)))
    return out


def _tensors(m: _Meta, n_vocab: int) -> list[_T]:
    """The tensor table llama.cpp's converter writes for this architecture."""
    arch = m.arch
    n_layer = m.num("block_count")
    n_embd = m.num("embedding_length")
    n_ffs = m.per_layer("feed_forward_length", n_layer)
    n_expert = m.num("expert_count")
    n_ff_exp = m.num("expert_feed_forward_length")
    tied = m.md.get("vramtui.tied_embeddings") is True
    t: list[_T] = []

    if arch in {"llama", "mistral3", "qwen2", "qwen3", "qwen3vl", "qwen3moe", "granite"}:
        t += _io(m, n_embd, n_vocab, tied=tied)
        for il in range(n_layer):
            p = f"blk.{il}."
            t.append(_norm(p + "attn_norm.weight", n_embd))
            t += _attn(p, m, n_embd, il, bias=arch == "qwen2", qk_norm=arch.startswith("qwen3"))
            t.append(_norm(p + "ffn_norm.weight", n_embd))
            if n_expert:
                t += _moe_ffn(p, n_embd, n_ff_exp or n_ffs[il], n_expert)
            else:
                t += _dense_ffn(p, n_embd, n_ffs[il])
    elif arch in {"gemma2", "gemma3"}:
        t += _io(m, n_embd, n_vocab, tied=True)
        for il in range(n_layer):
            p = f"blk.{il}."
            t.append(_norm(p + "attn_norm.weight", n_embd))
            t += _attn(p, m, n_embd, il, qk_norm=arch == "gemma3")
            t.append(_norm(p + "post_attention_norm.weight", n_embd))
            t.append(_norm(p + "ffn_norm.weight", n_embd))
            t += _dense_ffn(p, n_embd, n_ffs[il])
            t.append(_norm(p + "post_ffw_norm.weight", n_embd))
    elif arch == "cohere2":
        t += _io(m, n_embd, n_vocab, tied=True)
        for il in range(n_layer):
            p = f"blk.{il}."
            t.append(_norm(p + "attn_norm.weight", n_embd))
            t += _attn(p, m, n_embd, il)
            t += _dense_ffn(p, n_embd, n_ffs[il])
    elif arch == "gpt-oss":
        t += _io(m, n_embd, n_vocab, tied=tied)
        n_head = m.num("attention.head_count")
        for il in range(n_layer):
            p = f"blk.{il}."
            t.append(_norm(p + "attn_norm.weight", n_embd))
            t += _attn(p, m, n_embd, il, bias=True, o_bias=True)
            t.append(_T(p + "attn_sinks.weight", (n_head,), True))
            t.append(_norm(p + "post_attention_norm.weight", n_embd))
            t += _moe_ffn(p, n_embd, n_ff_exp or n_ffs[il], n_expert, bias=True)
    elif arch == "glm4moe":
        t += _io(m, n_embd, n_vocab, tied=tied)
        n_dense = m.num("leading_dense_block_count")
        n_shared = m.num("expert_shared_count", 1)
        n_nextn = m.num("nextn_predict_layers")
        for il in range(n_layer):
            p = f"blk.{il}."
            t.append(_norm(p + "attn_norm.weight", n_embd))
            t += _attn(p, m, n_embd, il, bias=True, qk_norm=m.md.get("vramtui.qk_norm") is True)
            t.append(_norm(p + "post_attention_norm.weight", n_embd))
            if il < n_dense:
                t += _dense_ffn(p, n_embd, n_ffs[il])
            else:
                t += _moe_ffn(p, n_embd, n_ff_exp, n_expert, shexp_ff=n_ff_exp * n_shared,
                              probs_b=True)  # fmt: skip
            if il >= n_layer - n_nextn:
                t += [
                    _T(p + "nextn.eh_proj.weight", (2 * n_embd, n_embd)),
                    _norm(p + "nextn.enorm.weight", n_embd),
                    _norm(p + "nextn.hnorm.weight", n_embd),
                    _norm(p + "nextn.shared_head_norm.weight", n_embd),
                ]
    elif arch == "deepseek2":
        t += _io(m, n_embd, n_vocab, tied=tied)
        n_head = m.num("attention.head_count")
        q_lora = m.num("attention.q_lora_rank")
        kv_lora = m.num("attention.kv_lora_rank")
        n_rot = m.num("rope.dimension_count", 64)
        hk_mla = m.num("attention.key_length_mla", m.num("attention.key_length"))
        hv_mla = m.num("attention.value_length_mla", m.num("attention.value_length"))
        n_dense = m.num("leading_dense_block_count")
        n_shared = m.num("expert_shared_count", 1)
        for il in range(n_layer):
            p = f"blk.{il}."
            t.append(_norm(p + "attn_norm.weight", n_embd))
            if q_lora:
                t += [
                    _T(p + "attn_q_a.weight", (n_embd, q_lora)),
                    _norm(p + "attn_q_a_norm.weight", q_lora),
                    _T(p + "attn_q_b.weight", (q_lora, n_head * hk_mla)),
                ]
            else:
                t.append(_T(p + "attn_q.weight", (n_embd, n_head * hk_mla)))
            t += [
                _T(p + "attn_kv_a_mqa.weight", (n_embd, kv_lora + n_rot)),
                _norm(p + "attn_kv_a_norm.weight", kv_lora),
                _T(p + "attn_k_b.weight", (hk_mla - n_rot, kv_lora, n_head)),
                _T(p + "attn_v_b.weight", (kv_lora, hv_mla, n_head)),
                _T(p + "attn_output.weight", (n_head * hv_mla, n_embd)),
                _norm(p + "ffn_norm.weight", n_embd),
            ]
            if il < n_dense:
                t += _dense_ffn(p, n_embd, n_ffs[il])
            else:
                t += _moe_ffn(p, n_embd, n_ff_exp, n_expert, shexp_ff=n_ff_exp * n_shared,
                              probs_b=m.num("expert_gating_func") == 2)  # fmt: skip
    elif arch == "qwen3next":
        t += _io(m, n_embd, n_vocab, tied=tied)
        interval = m.num("full_attention_interval", 4)
        d_conv = m.num("ssm.conv_kernel")
        d_state = m.num("ssm.state_size")
        n_group = m.num("ssm.group_count")
        dt_rank = m.num("ssm.time_step_rank")
        d_inner = m.num("ssm.inner_size")
        key_dim = d_state * n_group
        qkv = 2 * key_dim + d_inner
        shexp = m.num("expert_shared_feed_forward_length", n_ff_exp)
        for il in range(n_layer):
            p = f"blk.{il}."
            t.append(_norm(p + "attn_norm.weight", n_embd))
            if (il + 1) % interval == 0:
                t += _attn(p, m, n_embd, il, qk_norm=True, q_gate=True)
            else:
                t += [
                    _T(p + "attn_qkv.weight", (n_embd, qkv)),
                    _T(p + "attn_gate.weight", (n_embd, d_inner)),
                    _T(p + "ssm_conv1d.weight", (d_conv, qkv), True),
                    _T(p + "ssm_dt.bias", (dt_rank,), True),
                    _T(p + "ssm_a", (dt_rank,), True),
                    _T(p + "ssm_ba.weight", (n_embd, 2 * dt_rank)),
                    _T(p + "ssm_norm.weight", (d_inner // dt_rank,), True),
                    _T(p + "ssm_out.weight", (d_inner, n_embd)),
                ]
            t.append(_norm(p + "post_attention_norm.weight", n_embd))
            t += _moe_ffn(p, n_embd, n_ff_exp, n_expert, shexp_ff=shexp, shexp_gate=True)
    elif arch == "lfm2":
        t += [_T("token_embd.weight", (n_embd, n_vocab)), _norm("token_embd_norm.weight", n_embd)]
        l_cache = m.num("shortconv.l_cache", 3)
        kv = m.per_layer("attention.head_count_kv", n_layer)
        for il in range(n_layer):
            p = f"blk.{il}."
            t.append(_norm(p + "attn_norm.weight", n_embd))
            if kv[il]:
                t += _attn(p, m, n_embd, il, qk_norm=True)
            else:
                t += [
                    _T(p + "shortconv.conv.weight", (l_cache, n_embd), True),
                    _T(p + "shortconv.in_proj.weight", (n_embd, 3 * n_embd)),
                    _T(p + "shortconv.out_proj.weight", (n_embd, n_embd)),
                ]
            t.append(_norm(p + "ffn_norm.weight", n_embd))
            t += _dense_ffn(p, n_embd, n_ffs[il])
    elif arch in {"mamba", "mamba2", "granitehybrid"}:
        t += _io(m, n_embd, n_vocab, tied=tied)
        d_conv = m.num("ssm.conv_kernel", 4)
        d_state = m.num("ssm.state_size", 16)
        d_inner = m.num("ssm.inner_size", 2 * n_embd)
        dt_rank = m.num("ssm.time_step_rank")
        n_group = m.num("ssm.group_count", 1)
        kv = (
            m.per_layer("attention.head_count_kv", n_layer)
            if arch == "granitehybrid"
            else [0] * n_layer
        )
        for il in range(n_layer):
            p = f"blk.{il}."
            t.append(_norm(p + "attn_norm.weight", n_embd))
            if kv[il]:
                t += _attn(p, m, n_embd, il)
            elif arch == "mamba":
                t += [
                    _T(p + "ssm_in.weight", (n_embd, 2 * d_inner)),
                    _T(p + "ssm_conv1d.weight", (d_conv, d_inner), True),
                    _T(p + "ssm_conv1d.bias", (d_inner,), True),
                    _T(p + "ssm_x.weight", (d_inner, dt_rank + 2 * d_state)),
                    _T(p + "ssm_dt.weight", (dt_rank, d_inner)),
                    _T(p + "ssm_dt.bias", (d_inner,), True),
                    _T(p + "ssm_a", (d_state, d_inner), True),
                    _T(p + "ssm_d", (d_inner,), True),
                    _T(p + "ssm_out.weight", (d_inner, n_embd)),
                ]
            else:  # mamba2 mixer (granitehybrid's recurrent layers)
                n_head = dt_rank
                conv_dim = d_inner + 2 * n_group * d_state
                t += [
                    _T(p + "ssm_in.weight", (n_embd, 2 * d_inner + 2 * n_group * d_state + n_head)),
                    _T(p + "ssm_conv1d.weight", (d_conv, conv_dim), True),
                    _T(p + "ssm_conv1d.bias", (conv_dim,), True),
                    _T(p + "ssm_dt.bias", (n_head,), True),
                    _T(p + "ssm_a", (1, n_head), True),
                    _T(p + "ssm_d", (1, n_head), True),
                    _T(p + "ssm_norm.weight", (d_inner // n_group, n_group), True),
                    _T(p + "ssm_out.weight", (d_inner, n_embd)),
                ]
            if arch == "granitehybrid":
                t.append(_norm(p + "ffn_norm.weight", n_embd))
                if n_expert:
                    t += _moe_ffn(p, n_embd, n_ff_exp, n_expert,
                                  shexp_ff=m.num("expert_shared_feed_forward_length"))  # fmt: skip
                else:
                    t += _dense_ffn(p, n_embd, n_ffs[il])
    else:
        raise VramtuiError(
            f"cannot synthesize architecture {arch!r}: tensors for it are not known "
            "(supported: " + ", ".join(sorted(SUPPORTED_ARCHITECTURES)) + ")"
        )
    return t


SUPPORTED_ARCHITECTURES = frozenset({
    "llama", "mistral3", "qwen2", "qwen3", "qwen3vl", "qwen3moe", "granite", "gemma2", "gemma3",
    "cohere2", "gpt-oss", "glm4moe", "deepseek2", "qwen3next", "lfm2", "mamba", "mamba2",
    "granitehybrid",
})  # fmt: skip


# ----------------------------------------------------------------------------- quantization mix


def _use_more_bits(i: int, n: int) -> bool:
    """llama-quant.cpp use_more_bits: first/last eighth and every third layer between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _layer_of(name: str) -> int:
    if name.startswith("blk."):
        return int(name.split(".", 2)[1])
    return 0


class _QuantMix:
    """Per-tensor type choice after llama-quant.cpp llama_tensor_get_type (size-relevant rules)."""

    def __init__(
        self, quant: str, arch: str, *, n_layer: int, n_attn_v: int, n_expert: int,
        n_gqa: int, has_output: bool,
    ) -> None:  # fmt: skip
        self.q = quant
        self.arch = arch
        self.n_layer = max(n_layer, 1)
        self.n_attn_v = max(n_attn_v, 1)
        self.i_attn_v = 0
        self.n_expert = n_expert
        self.n_gqa = n_gqa
        self.has_output = has_output

    def choose(self, t: _T) -> str:
        q = self.q
        if t.f32 or len(t.shape) < 2 or any(k in t.name for k in _KEEP_F32):
            return "F32"
        if self.arch == "gpt-oss" and "_exps" in t.name:
            # gpt-oss ships its experts in MXFP4 and the converter keeps them so at every file
            # type (ggml-org gpt-oss-120b-F16.gguf is 60.87 GiB, not ~230: llama.cpp#15105).
            return "MXFP4"
        if q in {"F32", "F16", "BF16"}:
            return q
        if q in {"MXFP4", "MXFP4_MOE"}:  # gpt-oss releases: MXFP4 experts, Q8_0 elsewhere
            return "MXFP4" if "_exps" in t.name else "Q8_0"
        base = _BASE[q]
        name = t.name
        new = base
        if name == "output.weight" or (not self.has_output and name == "token_embd.weight"):
            if q not in {"Q8_0"} and not q.startswith(("IQ1", "IQ2", "IQ3")):
                new = "Q6_K"
            elif q.startswith(("IQ1", "IQ2", "IQ3")):
                new = "Q5_K"
        elif name == "token_embd.weight":
            if q.startswith(("IQ1", "IQ2")):
                new = "Q2_K"
            elif q.startswith("IQ3"):
                new = "IQ3_S"
        elif "attn_v.weight" in name:
            i = self.i_attn_v
            self.i_attn_v += 1
            if q == "Q2_K":
                new = "Q4_K" if self.n_gqa >= 4 else "Q3_K"
            elif q == "Q3_K_M":
                new = "Q5_K" if i < 2 else "Q4_K"
            elif q == "Q3_K_L":
                new = "Q5_K"
            elif q in {"Q4_K_M", "Q5_K_M"} and _use_more_bits(i, self.n_attn_v):
                new = "Q6_K"
            elif (q == "Q4_K_S" and i < 4) or (q in {"IQ4_XS", "IQ4_NL"} and self.n_gqa >= 4):
                new = "Q5_K"
            if self.n_expert == 8 and q not in {"Q8_0", "Q6_K"}:
                new = "Q8_0"
        elif "ffn_down" in name:
            i = _layer_of(name)
            n = self.n_layer
            if q == "Q2_K":
                new = "Q3_K"
            elif q == "Q3_K_M":
                new = "Q5_K" if i < n // 16 else "Q4_K"
            elif q == "Q3_K_L":
                new = "Q5_K"
            elif q in {"Q4_K_M", "Q5_K_M"} and _use_more_bits(i, n):
                new = "Q6_K"
            elif q == "Q4_K_S" and i < n // 8:
                new = "Q5_K"
        elif "attn_output.weight" in name:
            if self.n_expert == 8:
                if q in {"Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S"}:
                    new = "Q5_K"
            elif q == "Q2_K":
                new = "Q3_K"
            elif q == "Q3_K_M":
                new = "Q4_K"
            elif q == "Q3_K_L":
                new = "Q5_K"
        elif "attn_qkv.weight" in name:
            if q in {"Q3_K_M", "Q3_K_L"}:
                new = "Q4_K"
            elif q == "Q4_K_M":
                new = "Q5_K"
            elif q == "Q5_K_M":
                new = "Q6_K"
        # Rows that do not divide the block size fall back (llama-quant.cpp).
        block = ggml_type_by_name(new).block_size
        while t.shape[0] % block:
            fb = _FALLBACK.get(new, "F16")
            if fb == new:
                break
            new = fb
            block = ggml_type_by_name(new).block_size
        return new


def _type_id(name: str) -> int:
    return ggml_type_by_name(name).id


def _pad(n: int, a: int = ALIGNMENT) -> int:
    return -(-n // a) * a


def _meta_bytes(key: str, value: MetaValue) -> int:
    """Bytes a key/value takes in a GGUF v3 header (used for the synthesized file size)."""
    n = 8 + len(key.encode()) + 4
    if isinstance(value, str):
        return n + 8 + len(value.encode())
    if isinstance(value, SkippedArray):
        item = {8: 0}.get(value.item_type, 4)
        if value.item_type == 8:  # strings: length prefix + ~7 bytes each (a typical BPE vocab)
            item = 15
        return n + 12 + item * value.length
    if isinstance(value, tuple):
        return n + 12 + sum(8 + len(v.encode()) if isinstance(v, str) else 4 for v in value)
    return n + (1 if isinstance(value, bool) else 4)


def synthesize_spec(
    metadata: Mapping[str, MetaValue], quant: str, *, name: str, source: str
) -> ModelSpec:
    """A ModelSpec with the tensor table llama.cpp's converter + quantizer would produce.

    `metadata` holds the GGUF keys a real file of the architecture carries; the vocabulary size
    comes from `tokenizer.ggml.tokens` (a SkippedArray is enough). Optional hints (not GGUF
    keys): `vramtui.tied_embeddings` (no output.weight), `vramtui.qk_norm` (glm4moe).
    """
    q = quant.upper()
    if q not in _BASE:
        raise VramtuiError(f"{name}: unknown quantization {quant!r} (one of {', '.join(_BASE)})")
    m = _Meta(metadata)
    if not m.arch:
        raise VramtuiError(f"{name}: metadata has no general.architecture")
    n_vocab = vocab_size(metadata)
    n_layer = m.num("block_count")
    n_embd = m.num("embedding_length")
    if n_vocab <= 0 or n_layer <= 0 or n_embd <= 0:
        raise VramtuiError(
            f"{name}: metadata needs block_count, embedding_length and tokenizer.ggml.tokens"
        )
    raw = _tensors(m, n_vocab)
    n_head = max(m.num("attention.head_count", 1), 1)
    n_head_kv = max(m.num("attention.head_count_kv", n_head), 1)
    mix = _QuantMix(
        q, m.arch, n_layer=n_layer, n_attn_v=sum(1 for t in raw if "attn_v.weight" in t.name),
        n_expert=m.num("expert_count"), n_gqa=n_head // n_head_kv,
        has_output=any(t.name == "output.weight" for t in raw),
    )  # fmt: skip
    tensors: list[TensorInfo] = []
    offset = 0
    for t in raw:
        tid = _type_id(mix.choose(t))
        info = TensorInfo(name=t.name, shape=t.shape, ggml_type=tid, offset=offset)
        tensors.append(info)
        offset += _pad(info.n_bytes)
    md: dict[str, MetaValue] = {k: v for k, v in metadata.items() if not k.startswith("vramtui.")}
    md["general.file_type"] = FTYPES[q]
    md.setdefault("general.name", name)
    header = 24 + sum(_meta_bytes(k, v) for k, v in md.items())
    header += sum(8 + len(t.name) + 4 + 8 * len(t.shape) + 4 + 8 for t in tensors)
    if metadata.get("tokenizer.ggml.model") == "gpt2":  # merges ~ vocab size, ~18 bytes each
        header += 20 * n_vocab
    file_size = _pad(header) + offset
    return ModelSpec(
        name=name, source=source, metadata=md, tensors=tuple(tensors), file_size=file_size,
        synthesized=True, notes=("synthesized from architecture facts",),
    )  # fmt: skip


def synthesize_projector(metadata: Mapping[str, MetaValue], quant: str = "F16") -> ModelSpec:
    """A qwen3vl-style clip projector (mmproj) spec from `clip.*` metadata.

    Keys used: clip.vision.embedding_length, block_count, feed_forward_length, patch_size,
    image_size, projection_dim (the text model's n_embd), clip.vision.spatial_merge_size.
    Tensor names follow llama.cpp tools/mtmd/clip-impl.h (v.blk.N.*, mm.*).
    """

    def get(key: str, default: int) -> int:
        v = metadata.get(key, default)
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default

    n_embd = get("clip.vision.embedding_length", 1152)
    n_layer = get("clip.vision.block_count", 27)
    n_ff = get("clip.vision.feed_forward_length", 4304)
    patch = get("clip.vision.patch_size", 16)
    proj = get("clip.vision.projection_dim", 5120)
    merge = get("clip.vision.spatial_merge_size", 2)
    deepstack = metadata.get("clip.vision.is_deepstack_layers")
    wtype = "F16" if quant.upper() not in {"F32", "BF16", "Q8_0"} else quant.upper()
    ts: list[_T] = [
        _T("v.patch_embd.weight", (patch, patch, 3, n_embd)),
        _T("v.patch_embd.weight.1", (patch, patch, 3, n_embd)),
        _norm("v.patch_embd.bias", n_embd),
        _T("v.position_embd.weight", (n_embd, get("clip.vision.n_position", 2304))),
        _norm("v.post_ln.weight", n_embd),
        _norm("v.post_ln.bias", n_embd),
    ]
    for il in range(n_layer):
        p = f"v.blk.{il}."
        ts += [
            _T(p + "attn_qkv.weight", (n_embd, 3 * n_embd)), _norm(p + "attn_qkv.bias", 3 * n_embd),
            _T(p + "attn_out.weight", (n_embd, n_embd)), _norm(p + "attn_out.bias", n_embd),
            _norm(p + "ln1.weight", n_embd), _norm(p + "ln1.bias", n_embd),
            _norm(p + "ln2.weight", n_embd), _norm(p + "ln2.bias", n_embd),
            _T(p + "ffn_up.weight", (n_embd, n_ff)), _norm(p + "ffn_up.bias", n_ff),
            _T(p + "ffn_down.weight", (n_ff, n_embd)), _norm(p + "ffn_down.bias", n_embd),
        ]  # fmt: skip
    merged = n_embd * merge * merge
    ts += [
        _T("mm.0.weight", (merged, merged)), _norm("mm.0.bias", merged),
        _T("mm.2.weight", (merged, proj)), _norm("mm.2.bias", proj),
    ]  # fmt: skip
    if isinstance(deepstack, tuple):
        for il, flag in enumerate(deepstack):
            if flag:
                p = f"v.deepstack.{il}."
                ts += [
                    _norm(p + "norm.weight", merged), _norm(p + "norm.bias", merged),
                    _T(p + "fc1.weight", (merged, merged)), _norm(p + "fc1.bias", merged),
                    _T(p + "fc2.weight", (merged, proj)), _norm(p + "fc2.bias", proj),
                ]  # fmt: skip
    tensors: list[TensorInfo] = []
    offset = 0
    for t in ts:
        tid = _type_id("F32" if t.f32 or len(t.shape) < 2 else wtype)
        info = TensorInfo(name=t.name, shape=t.shape, ggml_type=tid, offset=offset)
        tensors.append(info)
        offset += _pad(info.n_bytes)
    md: dict[str, MetaValue] = dict(metadata)
    md["general.architecture"] = "clip"
    md.setdefault("clip.has_vision_encoder", True)
    md.setdefault("clip.projector_type", "qwen3vl_merger")
    md["general.file_type"] = FTYPES.get(wtype, 1)
    header = 24 + sum(_meta_bytes(k, v) for k, v in md.items())
    header += sum(8 + len(t.name) + 4 + 8 * len(t.shape) + 4 + 8 for t in tensors)
    return ModelSpec(
        name="mmproj", source="synthesized", metadata=md, tensors=tuple(tensors),
        file_size=_pad(header) + offset, synthesized=True,
    )  # fmt: skip


# ----------------------------------------------------------------------------- sparse files


def _gguf_value(writer: Any, key: str, value: MetaValue) -> None:
    from gguf import GGUFValueType  # noqa: PLC0415 - lazy: keeps startup fast

    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        if value < 0:
            writer.add_int32(key, value)
        elif value >= 2**32:
            writer.add_uint64(key, value)
        else:
            writer.add_uint32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    elif isinstance(value, tuple):
        if value and all(isinstance(v, bool) for v in value):
            writer.add_key_value(key, list(value), GGUFValueType.ARRAY, GGUFValueType.BOOL)
        elif value and all(isinstance(v, int) for v in value):
            writer.add_key_value(key, list(value), GGUFValueType.ARRAY, GGUFValueType.INT32)
        elif value:
            writer.add_array(key, list(value))


def _tokenizer(writer: Any, n_vocab: int) -> None:
    """The cheapest vocabulary llama.cpp loads: SentencePiece-style, byte tokens + fillers."""
    from gguf import GGUFValueType  # noqa: PLC0415 - lazy: keeps startup fast

    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256  # UNKNOWN, CONTROL, CONTROL, BYTE...
    tokens = tokens[:n_vocab]
    types = types[:n_vocab]
    tokens += [f"t{i}" for i in range(len(tokens), n_vocab)]
    types += [1] * (n_vocab - len(types))
    writer.add_string("tokenizer.ggml.model", "llama")
    writer.add_key_value("tokenizer.ggml.tokens", tokens, GGUFValueType.ARRAY, GGUFValueType.STRING)
    writer.add_key_value("tokenizer.ggml.scores", [0.0] * n_vocab, GGUFValueType.ARRAY,
                         GGUFValueType.FLOAT32)  # fmt: skip
    writer.add_key_value("tokenizer.ggml.token_type", types, GGUFValueType.ARRAY,
                         GGUFValueType.INT32)  # fmt: skip
    writer.add_uint32("tokenizer.ggml.unknown_token_id", 0)
    writer.add_uint32("tokenizer.ggml.bos_token_id", 1)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 2)


def write_sparse_gguf(path: Path, spec: ModelSpec, *, tokenizer: bool = True) -> Path:
    """Write the spec's header and tensor infos, then extend the file to its full size.

    The data section is never written: `os.truncate` makes it a hole, so the file is as large
    as the real model but takes a few MB of disk. Shapes of quantized tensors are handed to
    GGUFWriter in bytes per row (uint8), as gguf-py expects for raw quantized data.
    """
    import numpy as np  # noqa: PLC0415 - lazy: keeps startup fast
    from gguf import GGMLQuantizationType, GGUFWriter  # noqa: PLC0415 - lazy: keeps startup fast

    path = Path(path)
    arch = spec.architecture or "llama"
    writer = GGUFWriter(str(path), arch)
    for key, value in spec.metadata.items():
        if key in {"general.architecture", "GGUF.version", "general.alignment"}:
            continue
        if tokenizer and key.startswith("tokenizer."):
            continue
        if isinstance(value, SkippedArray):
            continue
        _gguf_value(writer, key, value)
    if tokenizer and arch != "clip":
        _tokenizer(writer, vocab_size(spec.metadata))
    for t in spec.tensors:
        gt = GGML_TYPES[t.ggml_type]
        rev = tuple(reversed(t.shape))
        if gt.block_size == 1 and gt.name in {"F32", "F16"}:
            dtype = np.float32 if gt.name == "F32" else np.float16
            writer.add_tensor_info(t.name, rev, np.dtype(dtype), t.n_bytes,
                                   raw_dtype=GGMLQuantizationType(t.ggml_type))  # fmt: skip
        else:
            byte_shape = (*rev[:-1], gt.row_bytes(t.shape[0]))
            writer.add_tensor_info(t.name, byte_shape, np.dtype(np.uint8), t.n_bytes,
                                   raw_dtype=GGMLQuantizationType(t.ggml_type))  # fmt: skip
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
    finally:
        writer.close()
    header = _pad(path.stat().st_size, writer.data_alignment)
    data = sum(_pad(t.n_bytes, writer.data_alignment) for t in spec.tensors)
    try:
        os.truncate(path, header + data)
    except OSError as err:
        raise ModelFileError(str(path), f"cannot extend to {header + data} bytes: {err}") from None
    return path


__all__ = [
    "FTYPES",
    "SUPPORTED_ARCHITECTURES",
    "synthesize_projector",
    "synthesize_spec",
    "write_sparse_gguf",
]
