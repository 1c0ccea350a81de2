"""The tensor table llama.cpp's converter writes for an architecture, from its GGUF metadata.

Tensor names and shapes follow llama.cpp `src/llama-model.cpp` (`load_tensors`, per
architecture) and `gguf-py/gguf/constants.py` (MODEL_TENSORS); shapes are in GGUF order (ne0
first). One builder per family of architectures that share a layer layout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vramtui.core.catalog.families import FAMILY_ARCHITECTURES, family_tensors, gemma4, phi3
from vramtui.core.catalog.synth_longtail import LONGTAIL_ARCHITECTURES, longtail_tensors
from vramtui.core.errors import VramtuiError
from vramtui.core.gguf.spec import MetaValue


@dataclass(frozen=True, slots=True)
class RawTensor:
    """A tensor before the quantization mix gives it a type."""

    name: str
    shape: tuple[int, ...]
    f32: bool = False  # 1-D tensors and those llama.cpp keeps in F32


class Meta:
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


@dataclass(frozen=True, slots=True)
class _Dims:
    """The sizes every family reads."""

    n_vocab: int
    n_layer: int
    n_embd: int
    n_ffs: list[int]  # feed_forward_length per layer
    n_expert: int
    n_ff_exp: int
    tied: bool  # no output.weight: the output reuses token_embd

    @classmethod
    def of(cls, m: Meta, n_vocab: int) -> _Dims:
        n_layer = m.num("block_count")
        return cls(
            n_vocab=n_vocab,
            n_layer=n_layer,
            n_embd=m.num("embedding_length"),
            n_ffs=m.per_layer("feed_forward_length", n_layer),
            n_expert=m.num("expert_count"),
            n_ff_exp=m.num("expert_feed_forward_length"),
            tied=m.md.get("vramtui.tied_embeddings") is True,
        )


# ----------------------------------------------------------------------------- building blocks


def norm(name: str, n: int) -> RawTensor:
    return RawTensor(name, (n,), True)


def _attn(
    p: str,
    m: Meta,
    n_embd: int,
    il: int,
    *,
    bias: bool = False,
    qk_norm: bool = False,
    o_bias: bool = False,
    q_gate: bool = False,
) -> list[RawTensor]:
    n_head = m.per_layer("attention.head_count", il + 1)[il]
    n_head_kv = m.per_layer("attention.head_count_kv", il + 1, n_head)[il]
    hk = m.num("attention.key_length", n_embd // max(n_head, 1))
    hv = m.num("attention.value_length", hk)
    q_out = n_head * hk * (2 if q_gate else 1)
    out = [
        RawTensor(p + "attn_q.weight", (n_embd, q_out)),
        RawTensor(p + "attn_k.weight", (n_embd, n_head_kv * hk)),
        RawTensor(p + "attn_v.weight", (n_embd, n_head_kv * hv)),
        RawTensor(p + "attn_output.weight", (n_head * hv, n_embd)),
    ]
    if bias:
        out += [
            RawTensor(p + "attn_q.bias", (q_out,), True),
            RawTensor(p + "attn_k.bias", (n_head_kv * hk,), True),
            RawTensor(p + "attn_v.bias", (n_head_kv * hv,), True),
        ]
    if o_bias:
        out.append(RawTensor(p + "attn_output.bias", (n_embd,), True))
    if qk_norm:
        out += [norm(p + "attn_q_norm.weight", hk), norm(p + "attn_k_norm.weight", hk)]
    return out


def _dense_ffn(p: str, n_embd: int, n_ff: int, *, gate: bool = True) -> list[RawTensor]:
    out = [
        RawTensor(p + "ffn_up.weight", (n_embd, n_ff)),
        RawTensor(p + "ffn_down.weight", (n_ff, n_embd)),
    ]
    if gate:
        out.insert(0, RawTensor(p + "ffn_gate.weight", (n_embd, n_ff)))
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
) -> list[RawTensor]:
    out = [
        RawTensor(p + "ffn_gate_inp.weight", (n_embd, n_expert), True),
        RawTensor(p + "ffn_gate_exps.weight", (n_embd, n_ff_exp, n_expert)),
        RawTensor(p + "ffn_up_exps.weight", (n_embd, n_ff_exp, n_expert)),
        RawTensor(p + "ffn_down_exps.weight", (n_ff_exp, n_embd, n_expert)),
    ]
    if bias:
        out += [
            RawTensor(p + "ffn_gate_inp.bias", (n_expert,), True),
            RawTensor(p + "ffn_gate_exps.bias", (n_ff_exp, n_expert), True),
            RawTensor(p + "ffn_up_exps.bias", (n_ff_exp, n_expert), True),
            RawTensor(p + "ffn_down_exps.bias", (n_embd, n_expert), True),
        ]
    if probs_b:
        out.append(RawTensor(p + "exp_probs_b.bias", (n_expert,), True))
    if shexp_ff:
        out += [
            RawTensor(p + "ffn_gate_shexp.weight", (n_embd, shexp_ff)),
            RawTensor(p + "ffn_up_shexp.weight", (n_embd, shexp_ff)),
            RawTensor(p + "ffn_down_shexp.weight", (shexp_ff, n_embd)),
        ]
    if shexp_gate:
        out.append(RawTensor(p + "ffn_gate_inp_shexp.weight", (n_embd,), True))
    return out


def _io(d: _Dims, *, tied: bool) -> list[RawTensor]:
    out = [
        RawTensor("token_embd.weight", (d.n_embd, d.n_vocab)),
        norm("output_norm.weight", d.n_embd),
    ]
    if not tied:
        out.append(RawTensor("output.weight", (d.n_embd, d.n_vocab)))
    return out


# ----------------------------------------------------------------------------- families


def _llama(m: Meta, d: _Dims) -> list[RawTensor]:
    """llama, mistral3, qwen2/3 (qwen3moe with experts), granite."""
    arch, n_embd = m.arch, d.n_embd
    t = _io(d, tied=d.tied)
    for il in range(d.n_layer):
        p = f"blk.{il}."
        t.append(norm(p + "attn_norm.weight", n_embd))
        t += _attn(p, m, n_embd, il, bias=arch == "qwen2", qk_norm=arch.startswith("qwen3"))
        t.append(norm(p + "ffn_norm.weight", n_embd))
        if d.n_expert:
            t += _moe_ffn(p, n_embd, d.n_ff_exp or d.n_ffs[il], d.n_expert)
        else:
            t += _dense_ffn(p, n_embd, d.n_ffs[il])
    return t


def _gemma(m: Meta, d: _Dims) -> list[RawTensor]:
    """gemma2, gemma3: norms after attention and after the feed-forward too."""
    n_embd = d.n_embd
    t = _io(d, tied=True)
    for il in range(d.n_layer):
        p = f"blk.{il}."
        t.append(norm(p + "attn_norm.weight", n_embd))
        t += _attn(p, m, n_embd, il, qk_norm=m.arch == "gemma3")
        t.append(norm(p + "post_attention_norm.weight", n_embd))
        t.append(norm(p + "ffn_norm.weight", n_embd))
        t += _dense_ffn(p, n_embd, d.n_ffs[il])
        t.append(norm(p + "post_ffw_norm.weight", n_embd))
    return t


def _cohere2(m: Meta, d: _Dims) -> list[RawTensor]:
    t = _io(d, tied=True)
    for il in range(d.n_layer):
        p = f"blk.{il}."
        t.append(norm(p + "attn_norm.weight", d.n_embd))
        t += _attn(p, m, d.n_embd, il)
        t += _dense_ffn(p, d.n_embd, d.n_ffs[il])
    return t


def _gpt_oss(m: Meta, d: _Dims) -> list[RawTensor]:
    n_embd = d.n_embd
    t = _io(d, tied=d.tied)
    n_head = m.num("attention.head_count")
    for il in range(d.n_layer):
        p = f"blk.{il}."
        t.append(norm(p + "attn_norm.weight", n_embd))
        t += _attn(p, m, n_embd, il, bias=True, o_bias=True)
        t.append(RawTensor(p + "attn_sinks.weight", (n_head,), True))
        t.append(norm(p + "post_attention_norm.weight", n_embd))
        t += _moe_ffn(p, n_embd, d.n_ff_exp or d.n_ffs[il], d.n_expert, bias=True)
    return t


def _glm4moe(m: Meta, d: _Dims) -> list[RawTensor]:
    n_embd, n_ff_exp, n_layer = d.n_embd, d.n_ff_exp, d.n_layer
    t = _io(d, tied=d.tied)
    n_dense = m.num("leading_dense_block_count")
    n_shared = m.num("expert_shared_count", 1)
    n_nextn = m.num("nextn_predict_layers")
    for il in range(n_layer):
        p = f"blk.{il}."
        t.append(norm(p + "attn_norm.weight", n_embd))
        t += _attn(p, m, n_embd, il, bias=True, qk_norm=m.md.get("vramtui.qk_norm") is True)
        t.append(norm(p + "post_attention_norm.weight", n_embd))
        if il < n_dense:
            t += _dense_ffn(p, n_embd, d.n_ffs[il])
        else:
            t += _moe_ffn(
                p, n_embd, n_ff_exp, d.n_expert, shexp_ff=n_ff_exp * n_shared, probs_b=True
            )
        if il >= n_layer - n_nextn:
            t += [
                RawTensor(p + "nextn.eh_proj.weight", (2 * n_embd, n_embd)),
                norm(p + "nextn.enorm.weight", n_embd),
                norm(p + "nextn.hnorm.weight", n_embd),
                norm(p + "nextn.shared_head_norm.weight", n_embd),
            ]
    return t


def _deepseek2_attn(p: str, m: Meta, n_embd: int) -> list[RawTensor]:
    """Multi-head latent attention (MLA): low-rank q and a compressed, shared kv."""
    n_head = m.num("attention.head_count")
    q_lora = m.num("attention.q_lora_rank")
    kv_lora = m.num("attention.kv_lora_rank")
    n_rot = m.num("rope.dimension_count", 64)
    hk_mla = m.num("attention.key_length_mla", m.num("attention.key_length"))
    hv_mla = m.num("attention.value_length_mla", m.num("attention.value_length"))
    if q_lora:
        t = [
            RawTensor(p + "attn_q_a.weight", (n_embd, q_lora)),
            norm(p + "attn_q_a_norm.weight", q_lora),
            RawTensor(p + "attn_q_b.weight", (q_lora, n_head * hk_mla)),
        ]
    else:
        t = [RawTensor(p + "attn_q.weight", (n_embd, n_head * hk_mla))]
    t += [
        RawTensor(p + "attn_kv_a_mqa.weight", (n_embd, kv_lora + n_rot)),
        norm(p + "attn_kv_a_norm.weight", kv_lora),
        RawTensor(p + "attn_k_b.weight", (hk_mla - n_rot, kv_lora, n_head)),
        RawTensor(p + "attn_v_b.weight", (kv_lora, hv_mla, n_head)),
        RawTensor(p + "attn_output.weight", (n_head * hv_mla, n_embd)),
    ]
    return t


def _deepseek2(m: Meta, d: _Dims) -> list[RawTensor]:
    n_embd, n_ff_exp = d.n_embd, d.n_ff_exp
    t = _io(d, tied=d.tied)
    n_dense = m.num("leading_dense_block_count")
    n_shared = m.num("expert_shared_count", 1)
    for il in range(d.n_layer):
        p = f"blk.{il}."
        t.append(norm(p + "attn_norm.weight", n_embd))
        t += _deepseek2_attn(p, m, n_embd)
        t.append(norm(p + "ffn_norm.weight", n_embd))
        if il < n_dense:
            t += _dense_ffn(p, n_embd, d.n_ffs[il])
        else:
            t += _moe_ffn(
                p,
                n_embd,
                n_ff_exp,
                d.n_expert,
                shexp_ff=n_ff_exp * n_shared,
                probs_b=m.num("expert_gating_func") == 2,
            )
    return t


def _qwen3next(m: Meta, d: _Dims) -> list[RawTensor]:
    """Full attention every `full_attention_interval` layers, gated delta-net between."""
    n_embd = d.n_embd
    t = _io(d, tied=d.tied)
    interval = m.num("full_attention_interval", 4)
    d_conv = m.num("ssm.conv_kernel")
    d_state = m.num("ssm.state_size")
    n_group = m.num("ssm.group_count")
    dt_rank = m.num("ssm.time_step_rank")
    d_inner = m.num("ssm.inner_size")
    key_dim = d_state * n_group
    qkv = 2 * key_dim + d_inner
    shexp = m.num("expert_shared_feed_forward_length", d.n_ff_exp)
    for il in range(d.n_layer):
        p = f"blk.{il}."
        t.append(norm(p + "attn_norm.weight", n_embd))
        if (il + 1) % interval == 0:
            t += _attn(p, m, n_embd, il, qk_norm=True, q_gate=True)
        else:
            t += [
                RawTensor(p + "attn_qkv.weight", (n_embd, qkv)),
                RawTensor(p + "attn_gate.weight", (n_embd, d_inner)),
                RawTensor(p + "ssm_conv1d.weight", (d_conv, qkv), True),
                RawTensor(p + "ssm_dt.bias", (dt_rank,), True),
                RawTensor(p + "ssm_a", (dt_rank,), True),
                RawTensor(p + "ssm_ba.weight", (n_embd, 2 * dt_rank)),
                RawTensor(p + "ssm_norm.weight", (d_inner // dt_rank,), True),
                RawTensor(p + "ssm_out.weight", (d_inner, n_embd)),
            ]
        t.append(norm(p + "post_attention_norm.weight", n_embd))
        t += _moe_ffn(p, n_embd, d.n_ff_exp, d.n_expert, shexp_ff=shexp, shexp_gate=True)
    return t


def _lfm2(m: Meta, d: _Dims) -> list[RawTensor]:
    """Attention where head_count_kv is set for the layer, short convolutions elsewhere."""
    n_embd = d.n_embd
    t = [
        RawTensor("token_embd.weight", (n_embd, d.n_vocab)),
        norm("token_embd_norm.weight", n_embd),
    ]
    l_cache = m.num("shortconv.l_cache", 3)
    kv = m.per_layer("attention.head_count_kv", d.n_layer)
    for il in range(d.n_layer):
        p = f"blk.{il}."
        t.append(norm(p + "attn_norm.weight", n_embd))
        if kv[il]:
            t += _attn(p, m, n_embd, il, qk_norm=True)
        else:
            t += [
                RawTensor(p + "shortconv.conv.weight", (l_cache, n_embd), True),
                RawTensor(p + "shortconv.in_proj.weight", (n_embd, 3 * n_embd)),
                RawTensor(p + "shortconv.out_proj.weight", (n_embd, n_embd)),
            ]
        t.append(norm(p + "ffn_norm.weight", n_embd))
        t += _dense_ffn(p, n_embd, d.n_ffs[il])
    return t


def _mamba_mixer(p: str, m: Meta, n_embd: int) -> list[RawTensor]:
    """The selective-state-space mixer of mamba (v1) or mamba2 (granitehybrid's recurrent
    layers)."""
    d_conv = m.num("ssm.conv_kernel", 4)
    d_state = m.num("ssm.state_size", 16)
    d_inner = m.num("ssm.inner_size", 2 * n_embd)
    dt_rank = m.num("ssm.time_step_rank")
    n_group = m.num("ssm.group_count", 1)
    if m.arch == "mamba":
        return [
            RawTensor(p + "ssm_in.weight", (n_embd, 2 * d_inner)),
            RawTensor(p + "ssm_conv1d.weight", (d_conv, d_inner), True),
            RawTensor(p + "ssm_conv1d.bias", (d_inner,), True),
            RawTensor(p + "ssm_x.weight", (d_inner, dt_rank + 2 * d_state)),
            RawTensor(p + "ssm_dt.weight", (dt_rank, d_inner)),
            RawTensor(p + "ssm_dt.bias", (d_inner,), True),
            RawTensor(p + "ssm_a", (d_state, d_inner), True),
            RawTensor(p + "ssm_d", (d_inner,), True),
            RawTensor(p + "ssm_out.weight", (d_inner, n_embd)),
        ]
    n_head = dt_rank
    conv_dim = d_inner + 2 * n_group * d_state
    return [
        RawTensor(p + "ssm_in.weight", (n_embd, 2 * d_inner + 2 * n_group * d_state + n_head)),
        RawTensor(p + "ssm_conv1d.weight", (d_conv, conv_dim), True),
        RawTensor(p + "ssm_conv1d.bias", (conv_dim,), True),
        RawTensor(p + "ssm_dt.bias", (n_head,), True),
        RawTensor(p + "ssm_a", (1, n_head), True),
        RawTensor(p + "ssm_d", (1, n_head), True),
        RawTensor(p + "ssm_norm.weight", (d_inner // n_group, n_group), True),
        RawTensor(p + "ssm_out.weight", (d_inner, n_embd)),
    ]


def _mamba(m: Meta, d: _Dims) -> list[RawTensor]:
    """mamba, mamba2, and granitehybrid (attention where head_count_kv is set, a feed-forward
    after every layer)."""
    arch, n_embd = m.arch, d.n_embd
    t = _io(d, tied=d.tied)
    hybrid = arch == "granitehybrid"
    kv = m.per_layer("attention.head_count_kv", d.n_layer) if hybrid else [0] * d.n_layer
    for il in range(d.n_layer):
        p = f"blk.{il}."
        t.append(norm(p + "attn_norm.weight", n_embd))
        t += _attn(p, m, n_embd, il) if kv[il] else _mamba_mixer(p, m, n_embd)
        if hybrid:
            t.append(norm(p + "ffn_norm.weight", n_embd))
            if d.n_expert:
                t += _moe_ffn(
                    p,
                    n_embd,
                    d.n_ff_exp,
                    d.n_expert,
                    shexp_ff=m.num("expert_shared_feed_forward_length"),
                )
            else:
                t += _dense_ffn(p, n_embd, d.n_ffs[il])
    return t


_FAMILIES: dict[str, Callable[[Meta, _Dims], list[RawTensor]]] = {
    "llama": _llama,
    "mistral3": _llama,
    "qwen2": _llama,
    "qwen3": _llama,
    "qwen3vl": _llama,
    "qwen3moe": _llama,
    "granite": _llama,
    "gemma2": _gemma,
    "gemma3": _gemma,
    "cohere2": _cohere2,
    "gpt-oss": _gpt_oss,
    "glm4moe": _glm4moe,
    "deepseek2": _deepseek2,
    "qwen3next": _qwen3next,
    "lfm2": _lfm2,
    "mamba": _mamba,
    "mamba2": _mamba,
    "granitehybrid": _mamba,
}

SUPPORTED_ARCHITECTURES = (
    frozenset(_FAMILIES)
    | LONGTAIL_ARCHITECTURES
    | FAMILY_ARCHITECTURES
    | gemma4.ARCHITECTURES
    | phi3.ARCHITECTURES
)


def tensor_table(m: Meta, n_vocab: int) -> list[RawTensor]:
    """The tensor table llama.cpp's converter writes for this architecture."""
    rows = longtail_tensors(m.md, n_vocab)  # llama4, gemma3n, qwen2moe, pre-MLA deepseek2
    if rows is None:
        rows = family_tensors(m.md, n_vocab)  # the hybrid families under catalog/families
    if rows is None and m.arch == "gemma4-assistant":
        rows = gemma4.assistant_tensors(m.md, n_vocab)
    elif rows is None and m.arch in gemma4.ARCHITECTURES:
        rows = gemma4.gemma4_tensors(m.md, n_vocab)
    if rows is None and m.arch in phi3.ARCHITECTURES:
        rows = phi3.phi3_tensors(m.md, n_vocab)
    if rows is not None:
        return [RawTensor(*row) for row in rows]
    build = _FAMILIES.get(m.arch)
    if build is None:
        raise VramtuiError(
            f"cannot synthesize architecture {m.arch!r}: tensors for it are not known "
            "(supported: " + ", ".join(sorted(SUPPORTED_ARCHITECTURES)) + ")"
        )
    return build(m, _Dims.of(m, n_vocab))


__all__ = ["SUPPORTED_ARCHITECTURES", "Meta", "RawTensor", "norm", "tensor_table"]
