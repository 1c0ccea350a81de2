"""The graph structure of an architecture the estimate has no rules for, read off its tensors.

llama.cpp builds each layer from the tensors the loader found (src/models/<arch>.cpp
load_arch_tensors, then its graph calls llama-graph.cpp build_ffn / build_moe_ffn with those
tensors or nullptr), so the tensor table says what the compute graph holds:
- the feed-forward width is the up projection's output (`ffn_up` ne[1]), which is not always the
  file's feed_forward_length: src/models/qwen.cpp loads {n_embd, n_ff/2}, src/models/dbrx.cpp,
  phimoe.cpp and hunyuan-moe.cpp size their experts by feed_forward_length, not by
  expert_feed_forward_length;
- a gate: with `ffn_gate` build_ffn joins gate and up by a GLU op (ggml_swiglu_split /
  ggml_geglu_split) that ggml-alloc cannot run in place, so gate, up and their product are
  three n_ff-wide tensors alive at once; without one (gpt2, gptneox, mpt, bloom, starcoder...)
  the bias add and the activation (GGML_OP_ADD, GGML_OP_UNARY) run in place on the up
  projection (ggml/src/ggml-alloc.c ggml_op_can_inplace: a parent with one consumer and the same
  layout is reused), one n_ff-wide tensor;
- the same for the experts (build_moe_ffn: `gate_exps` nullptr gives cur = up and an in-place
  activation);
- a fused `attn_qkv` projection is one tensor of Q + K + V widths that stays alive while its
  three views feed the attention (llama-graph.cpp build_qkv);
- attention and feed-forward side by side on the same normed input, the attention output added
  after the FFN: src/models/falcon.cpp (build_ffn(attn_norm, ...), then ggml_add(cur, ffn_inp)),
  src/models/phi2.cpp (ggml_add(cur, ffn_output)).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from vramtui.core.gguf.spec import TensorInfo

# Architectures whose FFN reads the attention's normed input while the attention output waits
# for the FFN (see the module docstring). gptneox's use_parallel_residual norms the layer input
# again for its FFN (src/models/gptneox.cpp) and llama.cpp's dry run shows no tensor held beyond
# the sequential block's (tools/conformance, gpt2-sized dims), so it is not listed.
PARALLEL_BLOCKS = frozenset({"falcon", "phi2"})

# RWKV's feed-forward is a channel mix (llama-arch.cpp LLM_TENSOR_CHANNEL_MIX_*), not the
# ffn_* tensors read here.
RWKV_FFN = "channel_mix"
_BLK = re.compile(r"^blk\.(\d+)\.(.+)\.weight$")


@dataclass(frozen=True, slots=True)
class GenericGraph:
    """What the tensor table says about the compute graph of each layer."""

    n_ff: tuple[int, ...]  # dense FFN width per layer, 0 where the layer has none
    gated: bool  # the dense FFN has a gate tensor
    n_ff_exp: int  # expert width (0: no experts in the table)
    moe_layers: tuple[bool, ...]  # layers with routed experts
    exp_gated: bool  # the experts have a gate tensor
    n_ff_shexp: int  # shared-expert width (0: none)
    fused_qkv: bool  # one attn_qkv projection
    parallel: bool  # attention and FFN side by side


def _width(shape: tuple[int, ...], halve: bool = False) -> int:
    w = shape[1] if len(shape) > 1 else 0
    return w // 2 if halve else w


def _dense_width(p: Mapping[str, tuple[int, ...]]) -> int:
    """The FFN width: the down projection's input (ffn_down ne[0]), else the up's output."""
    if "ffn_down" in p:
        return p["ffn_down"][0]
    if "ffn_gate_up" in p:
        return _width(p["ffn_gate_up"], halve=True)
    return _width(p["ffn_up"]) if "ffn_up" in p else 0


def _dense_gated(p: Mapping[str, tuple[int, ...]]) -> bool:
    """A gate tensor, or gate and up fused: `ffn_gate_up`, or an `ffn_up` twice the down's
    input (src/models/chatglm.cpp, plamo2.cpp, plamo3.cpp: build_ffn LLM_FFN_SWIGLU on one
    tensor, whose ggml_swiglu output is a new n_ff-wide tensor beside the 2 x n_ff input)."""
    if "ffn_gate" in p or "ffn_gate_up" in p:
        return True
    return "ffn_up" in p and _width(p["ffn_up"]) == 2 * _dense_width(p)


def read_generic_graph(
    arch: str,
    tensors: tuple[TensorInfo, ...],
    n_layer: int,
) -> GenericGraph | None:
    """The graph structure from the tensor table; None where the table has no blocks or
    RWKV's channel mix for a feed-forward (the metadata's widths are then kept). A block with
    none of the FFN tensors has no FFN phase (width 0)."""
    per: list[dict[str, tuple[int, ...]]] = [{} for _ in range(n_layer)]
    for t in tensors:
        m = _BLK.match(t.name)
        if m and int(m.group(1)) < n_layer:
            per[int(m.group(1))][m.group(2)] = t.shape
    if not any(per) or any(k.startswith(RWKV_FFN) for p in per for k in p):
        return None
    n_ff = [_dense_width(p) for p in per]
    dense = [p for p in per if "ffn_up" in p or "ffn_down" in p or "ffn_gate_up" in p]
    experts = [p for p in per if "ffn_up_exps" in p or "ffn_gate_up_exps" in p]
    shexp = [_width(p["ffn_up_shexp"]) for p in per if "ffn_up_shexp" in p]
    n_ff_exp = max(
        (
            _width(p["ffn_up_exps"]) if "ffn_up_exps" in p else _width(p["ffn_gate_up_exps"], True)
            for p in experts
        ),
        default=0,
    )
    return GenericGraph(
        n_ff=tuple(n_ff),
        gated=any(_dense_gated(p) for p in dense) or not dense,
        n_ff_exp=n_ff_exp,
        moe_layers=tuple("ffn_up_exps" in p or "ffn_gate_up_exps" in p for p in per),
        exp_gated=any("ffn_gate_exps" in p or "ffn_gate_up_exps" in p for p in experts)
        or not experts,
        n_ff_shexp=max(shexp, default=0),
        fused_qkv=any("attn_qkv" in p for p in per),
        parallel=arch in PARALLEL_BLOCKS,
    )
