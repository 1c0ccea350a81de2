"""Shared pieces of the per-family tensor tables: typed metadata reads and row builders.

A row is (name, shape in GGUF order with ne0 first, kept F32); names follow llama.cpp
src/llama-arch.cpp (LLM_TENSOR_NAMES).
"""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.gguf.spec import MetaValue

Row = tuple[str, tuple[int, ...], bool]


class Md:
    """Typed reads of `<arch>.<key>` metadata."""

    def __init__(self, md: Mapping[str, MetaValue], arch: str) -> None:
        self.md = md
        self.arch = arch

    def num(self, key: str, default: int = 0) -> int:
        v = self.md.get(f"{self.arch}.{key}")
        if isinstance(v, tuple):
            nums = [int(x) for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)]
            return max(nums) if nums else default
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return default
        return int(v)

    def per_layer(self, key: str, n_layer: int, default: int = 0) -> list[int]:
        v = self.md.get(f"{self.arch}.{key}")
        if isinstance(v, tuple):
            vals = [int(x) if isinstance(x, (int, float)) else default for x in v]
            return (vals + [vals[-1] if vals else default] * n_layer)[:n_layer]
        return [self.num(key, default)] * n_layer

    def has(self, key: str) -> bool:
        return f"{self.arch}.{key}" in self.md

    @property
    def tied(self) -> bool:
        return self.md.get("vramtui.tied_embeddings") is True


def vec(name: str, n: int) -> Row:
    return (name, (n,), True)


def mat(name: str, *shape: int) -> Row:
    return (name, tuple(shape), False)


def f32(name: str, *shape: int) -> Row:
    return (name, tuple(shape), True)


def io(n_embd: int, n_vocab: int, *, tied: bool, norm: str = "output_norm.weight") -> list[Row]:
    rows = [mat("token_embd.weight", n_embd, n_vocab), vec(norm, n_embd)]
    if not tied:
        rows.append(mat("output.weight", n_embd, n_vocab))
    return rows


def qkvo(p: str, n_embd: int, q_out: int, kv: tuple[int, int], o_in: int) -> list[Row]:
    """Separate q, k, v projections and the output projection."""
    return [
        mat(p + "attn_q.weight", n_embd, q_out),
        mat(p + "attn_k.weight", n_embd, kv[0]),
        mat(p + "attn_v.weight", n_embd, kv[1]),
        mat(p + "attn_output.weight", o_in, n_embd),
    ]


def ffn(p: str, n_embd: int, n_ff: int, *, gate: bool = True, suffix: str = "") -> list[Row]:
    rows = [
        mat(p + f"ffn_up{suffix}.weight", n_embd, n_ff),
        mat(p + f"ffn_down{suffix}.weight", n_ff, n_embd),
    ]
    if gate:
        rows.insert(0, mat(p + f"ffn_gate{suffix}.weight", n_embd, n_ff))
    return rows


def experts(p: str, n_embd: int, n_ff_exp: int, n_expert: int, *, gate: bool = True) -> list[Row]:
    rows = [
        f32(p + "ffn_gate_inp.weight", n_embd, n_expert),
        mat(p + "ffn_up_exps.weight", n_embd, n_ff_exp, n_expert),
        mat(p + "ffn_down_exps.weight", n_ff_exp, n_embd, n_expert),
    ]
    if gate:
        rows.insert(1, mat(p + "ffn_gate_exps.weight", n_embd, n_ff_exp, n_expert))
    return rows


def mamba2_mixer(p: str, m: Md, n_embd: int) -> list[Row]:
    """A Mamba-2 mixer (src/models/nemotron-h.cpp, falcon-h1.cpp, granite-hybrid.cpp):
    in_proj to z, xBC and dt, a depthwise conv over xBC, per-head A/D/dt, a grouped norm."""
    d_conv = m.num("ssm.conv_kernel")
    d_state = m.num("ssm.state_size")
    d_inner = m.num("ssm.inner_size")
    n_head = m.num("ssm.time_step_rank")
    n_group = max(m.num("ssm.group_count", 1), 1)
    conv_dim = d_inner + 2 * n_group * d_state
    return [
        mat(p + "ssm_in.weight", n_embd, d_inner + conv_dim + n_head),
        f32(p + "ssm_conv1d.weight", d_conv, conv_dim),
        vec(p + "ssm_conv1d.bias", conv_dim),
        vec(p + "ssm_dt.bias", n_head),
        f32(p + "ssm_a", 1, n_head),
        f32(p + "ssm_d", 1, n_head),
        f32(p + "ssm_norm.weight", d_inner // n_group, n_group),
        mat(p + "ssm_out.weight", d_inner, n_embd),
    ]
