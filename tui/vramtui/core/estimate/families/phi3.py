"""phi3: the compute-buffer rule of its fused QKV projection (src/models/phi3.cpp).

Phi-3 and Phi-4 files carry one `attn_qkv` matrix; llama-graph.cpp build_qkv takes Q, K and V
as views of its single output, so the attention phase does not hold a Q and an attention
output beside K and V the way separate projections do. Without flash attention, where the
KQ matrix sets the peak, the phase beyond the base is the roped K and its copy
(2 x n_head_kv x head_k floats per token): llama.cpp's CPU dry run of a Phi-4 shape (40
heads, 10 KV heads of 128) reads 2 x n_embd floats per token below the separate-projection
count at ubatch 512, at 2K, 8K and 32K context (tests/oracle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vramtui.core.estimate.hparams import ModelHparams

ARCH = "phi3"


def fused_qkv_attn_floats(hp: ModelHparams) -> int | None:
    """The attention phase beyond the base without flash attention, or None when the
    architecture has separate Q/K/V projections."""
    if hp.arch != ARCH:
        return None
    return max(
        (2 * h * k for h, k, kv in zip(hp.n_head_kv, hp.head_k, hp.has_kv, strict=True) if kv),
        default=0,
    )
