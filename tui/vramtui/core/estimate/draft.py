"""A draft model for speculative decoding: its own weights, KV cache and compute buffers.

llama.cpp (common/speculative.cpp `common_base_params_to_speculative`) builds the draft's
context from the main one's parameters: the same context size, parallel slots, batch, ubatch,
flash attention and KV placement, with the draft's own n_gpu_layers (`-ngld`, default -1: all
layers where a GPU is), tensor overrides (`-otd`, default none) and KV cache types (`-ctkd` /
`-ctvd`, default f16: common/common.h common_params_speculative_draft). Its output buffer
holds one row per slot (`n_outputs_max = n_parallel`). LM Studio's "draft model" loads the
same way, fully offloaded. The draft's buffers land beside the main model's, labelled
"draft ...", so the fit places them where they go (the GPU when offloaded).
"""

from __future__ import annotations

from vramtui.core.estimate.breakdown import Buffer, MemoryBreakdown
from vramtui.core.estimate.settings import RuntimeSettings

DRAFT_LABEL = "draft"


def draft_settings(main: RuntimeSettings) -> RuntimeSettings:
    """The settings the draft runs at: the main context's, with the draft's own defaults."""
    return main.with_changes(
        cache_type_k="f16",
        cache_type_v="f16",
        n_gpu_layers=None,
        override_tensor="",
        cpu_moe=False,
        n_cpu_moe=0,
        model_draft="",
    )


def draft_buffers(draft: MemoryBreakdown) -> list[Buffer]:
    """The draft's buffers, labelled as the draft's."""
    return [
        Buffer(b.place, b.kind, b.n_bytes, f"{DRAFT_LABEL} {b.label}".strip(), b.bounds)
        for b in draft.buffers
    ]


def is_draft(buffer: Buffer) -> bool:
    return buffer.label.startswith(DRAFT_LABEL + " ") or buffer.label == DRAFT_LABEL


def draft_bytes(bd: MemoryBreakdown) -> int:
    """All the draft model's buffers in a breakdown (0 without a draft)."""
    return sum(b.n_bytes for b in bd.buffers if is_draft(b))
