"""The result of the memory estimate: buffers by place (GPU device or host) and kind.

The estimate (`estimate.memory.estimate_memory`) returns a `MemoryBreakdown`; the fit, the CLI
and the TUI read it. Kept apart from the estimate so the faces can depend on the shape alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tui.core.estimate.settings import RuntimeSettings


class Place(StrEnum):
    DEVICE = "device"  # memory the GPU backend allocates (dedicated VRAM, then shared/GTT)
    HOST = "host"  # system RAM the runtime allocates on the CPU side


class Kind(StrEnum):
    WEIGHTS = "weights"
    KV_CACHE = "kv_cache"
    RECURRENT_STATE = "recurrent_state"
    COMPUTE = "compute"
    OUTPUT = "output"  # logits buffer (llama.cpp "output buffer", host)
    PROJECTOR = "projector"  # mmproj weights + its compute


@dataclass(frozen=True, slots=True)
class Buffer:
    place: Place
    kind: Kind
    n_bytes: int
    label: str = ""  # e.g. "CPU_Mapped model buffer", "Vulkan0 KV buffer"


@dataclass(frozen=True)
class MemoryBreakdown:
    """Every buffer the runtime would allocate for the model at these settings."""

    buffers: tuple[Buffer, ...]
    settings: RuntimeSettings
    n_ctx: int  # the context actually used (ctx_size 0 resolved, padded as llama.cpp pads)
    n_layers: int  # repeating blocks
    n_gpu_layers: int  # layers offloaded, output layer counted as llama.cpp counts it
    flash_attn: bool  # flash attention as resolved ("auto" decided)
    approximate: bool = False  # an architecture the estimate only knows by generic rules
    notes: tuple[str, ...] = field(default=())
    # Bytes of weights read per generated token (active experts only); the speed model uses it.
    active_weights_bytes: int = 0

    def total(self, place: Place | None = None, kind: Kind | None = None) -> int:
        return sum(
            b.n_bytes
            for b in self.buffers
            if (place is None or b.place == place) and (kind is None or b.kind == kind)
        )

    @property
    def device_bytes(self) -> int:
        return self.total(Place.DEVICE)

    @property
    def host_bytes(self) -> int:
        return self.total(Place.HOST)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON keys of `vramtui estimate --json` (integers, bytes)."""
        weights = self.total(kind=Kind.WEIGHTS)
        return {
            "weights_bytes": weights,
            "weights_device_bytes": self.total(Place.DEVICE, Kind.WEIGHTS),
            "weights_host_bytes": self.total(Place.HOST, Kind.WEIGHTS),
            "kv_bytes": self.total(kind=Kind.KV_CACHE),
            "kv_device_bytes": self.total(Place.DEVICE, Kind.KV_CACHE),
            "recurrent_state_bytes": self.total(kind=Kind.RECURRENT_STATE),
            "compute_device_bytes": self.total(Place.DEVICE, Kind.COMPUTE),
            "compute_host_bytes": self.total(Place.HOST, Kind.COMPUTE),
            "output_bytes": self.total(kind=Kind.OUTPUT),
            "mmproj_bytes": self.total(kind=Kind.PROJECTOR),
            "total_device_bytes": self.device_bytes,
            "total_host_bytes": self.host_bytes,
            "n_ctx": self.n_ctx,
            "n_gpu_layers": self.n_gpu_layers,
            "flash_attn": self.flash_attn,
            "approximate": self.approximate,
            "notes": list(self.notes),
        }
