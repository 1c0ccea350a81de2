"""Which layers of a hybrid model are recurrent, which own a KV cache, and how wide their
recurrent state is, for the families whose rules differ from "head_count_kv = 0 is recurrent"
(llama.cpp src/models/<arch>.cpp load_arch_hparams, llama-model.cpp create_memory,
llama-hparams.cpp n_embd_r / n_embd_s):

- falcon-h1: every layer is recurrent and every layer also owns a KV cache (create_memory:
  both layer filters return true), so the cache holds K/V and the Mamba-2 state on all layers.
- nemotron_h, nemotron_h_moe: a layer is recurrent iff head_count_kv = 0 and
  feed_forward_length = 0; a layer with a feed-forward length is neither recurrent nor cached
  (filter_attn needs n_ff = 0 too).
- qwen35, qwen35moe: the `attention.recurrent_layers` array when the file has one, else every
  layer but each `full_attention_interval`-th (default 4).
- kimi-linear: head_count_kv = 0 marks a KDA layer; its conv state is 3 (q, k, v) x
  (d_conv - 1) x n_head x kda.head_dim and its state n_head x kda.head_dim^2 (n_embd_r/n_embd_s
  with n_embd_head_kda set). kimi-k3 reads the same keys and marks its KDA layers alike
  (src/models/kimi-k3.cpp load_arch_hparams).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vramtui.core.gguf.spec import MetaValue


@dataclass(frozen=True, slots=True)
class LayerKinds:
    is_recurrent: tuple[bool, ...]
    has_kv: tuple[bool, ...] | None  # None: every non-recurrent layer (the common rule)
    n_embd_r: int | None = None  # None: the Mamba-2 / delta-net formula
    n_embd_s: int | None = None


Get = Callable[[str], MetaValue | None]


def _int(v: MetaValue | None, default: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return default
    return int(v)


def layer_kinds(
    arch: str, get: Get, n_head_kv: tuple[int, ...], n_ff: tuple[int, ...]
) -> LayerKinds | None:
    """The family's layer kinds, or None for an architecture these rules do not cover."""
    n_layer = len(n_head_kv)
    # trailing MTP/NextN blocks are neither recurrent nor cached (`il < n_layer()` in the
    # qwen35 and nemotron_h loaders and create_memory filters)
    n_main = n_layer - min(max(_int(get("nextn_predict_layers")), 0), n_layer)
    if arch == "falcon-h1":
        return LayerKinds((True,) * n_layer, (True,) * n_layer)
    if arch in {"nemotron_h", "nemotron_h_moe"}:
        pairs = list(zip(n_head_kv, n_ff, strict=True))
        rec = tuple(il < n_main and kv == 0 and ff == 0 for il, (kv, ff) in enumerate(pairs))
        kv = tuple(il < n_main and h > 0 and ff == 0 for il, (h, ff) in enumerate(pairs))
        return LayerKinds(rec, kv)
    if arch in {"qwen35", "qwen35moe"}:
        arr = get("attention.recurrent_layers")
        if isinstance(arr, tuple) and arr:
            flags = [bool(x) for x in arr] + [False] * n_layer
            return LayerKinds(
                tuple(f and il < n_main for il, f in enumerate(flags[:n_layer])), None
            )
        iv = max(_int(get("full_attention_interval"), 4), 1)
        return LayerKinds(tuple(il < n_main and (il + 1) % iv != 0 for il in range(n_layer)), None)
    if arch in {"kimi-linear", "kimi-k3"}:
        n_head = _int(get("attention.head_count"))
        if isinstance(get("attention.head_count"), tuple):
            n_head = max(_int(x) for x in get("attention.head_count"))  # type: ignore[union-attr]
        hd = _int(get("kda.head_dim"))
        d_conv = _int(get("ssm.conv_kernel"))
        d_conv = d_conv - 1 if d_conv > 0 else 3
        return LayerKinds(
            tuple(h == 0 for h in n_head_kv),
            None,
            n_embd_r=3 * d_conv * n_head * hd,
            n_embd_s=hd * hd * n_head,
        )
    return None
