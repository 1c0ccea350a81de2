"""The result of the memory estimate: buffers by place (GPU device or host) and kind.

The estimate (`estimate.memory.estimate_memory`) returns a `MemoryBreakdown`; the fit, the CLI
and the TUI read it. Kept apart from the estimate so the faces can depend on the shape alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.vocab import BufferKind, Place


@dataclass(frozen=True, slots=True)
class Buffer:
    place: Place
    kind: BufferKind
    n_bytes: int
    label: str = ""  # e.g. "CPU_Mapped model buffer", "Vulkan0 KV buffer"
    # (low, high) where llama.cpp's figure depends on what no oracle here can run (a real GPU
    # against the RPC stand-in, Metal against Vulkan); `n_bytes` lies within it. None: exact.
    bounds: tuple[int, int] | None = None

    @property
    def low_high(self) -> tuple[int, int]:
        return self.bounds if self.bounds is not None else (self.n_bytes, self.n_bytes)

    def resized(self, n_bytes: int) -> Buffer:
        """The same buffer `n_bytes` large, its bounds moved by as much."""
        delta = n_bytes - self.n_bytes
        b = self.bounds
        bounds = None if b is None else (b[0] + delta, b[1] + delta)
        return Buffer(self.place, self.kind, n_bytes, self.label, bounds)


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

    def total(self, place: Place | None = None, kind: BufferKind | None = None) -> int:
        return sum(
            b.n_bytes
            for b in self.buffers
            if (place is None or b.place == place) and (kind is None or b.kind == kind)
        )

    def total_range(
        self, place: Place | None = None, kind: BufferKind | None = None
    ) -> tuple[int, int]:
        """(low, high) of `total`: the buffers' bounds summed (an exact buffer counts twice)."""
        lows_highs = [
            b.low_high
            for b in self.buffers
            if (place is None or b.place == place) and (kind is None or b.kind == kind)
        ]
        return sum(lo for lo, _ in lows_highs), sum(hi for _, hi in lows_highs)

    @property
    def device_bytes(self) -> int:
        return self.total(Place.DEVICE)

    @property
    def host_bytes(self) -> int:
        return self.total(Place.HOST)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON keys of `vramtui estimate --json` (integers, bytes)."""
        weights = self.total(kind=BufferKind.WEIGHTS)
        return {
            "weights_bytes": weights,
            "weights_device_bytes": self.total(Place.DEVICE, BufferKind.WEIGHTS),
            "weights_host_bytes": self.total(Place.HOST, BufferKind.WEIGHTS),
            "kv_bytes": self.total(kind=BufferKind.KV_CACHE),
            "kv_device_bytes": self.total(Place.DEVICE, BufferKind.KV_CACHE),
            "recurrent_state_bytes": self.total(kind=BufferKind.RECURRENT_STATE),
            "compute_device_bytes": self.total(Place.DEVICE, BufferKind.COMPUTE),
            "compute_host_bytes": self.total(Place.HOST, BufferKind.COMPUTE),
            "output_bytes": self.total(kind=BufferKind.OUTPUT),
            "mmproj_bytes": self.total(kind=BufferKind.PROJECTOR),
            "total_device_bytes": self.device_bytes,
            "total_host_bytes": self.host_bytes,
            "n_ctx": self.n_ctx,
            "n_gpu_layers": self.n_gpu_layers,
            "flash_attn": self.flash_attn,
            "approximate": self.approximate,
            "notes": list(self.notes),
        } | self._ranges_json()

    def _ranges_json(self) -> dict[str, list[int]]:
        """`<key>_range: [low, high]` beside each figure that is a range on this backend."""
        keys = (
            ("compute_device_bytes", Place.DEVICE, BufferKind.COMPUTE),
            ("compute_host_bytes", Place.HOST, BufferKind.COMPUTE),
            ("mmproj_bytes", None, BufferKind.PROJECTOR),
            ("total_device_bytes", Place.DEVICE, None),
            ("total_host_bytes", Place.HOST, None),
        )
        out: dict[str, list[int]] = {}
        for key, place, kind in keys:
            lo, hi = self.total_range(place, kind)
            if lo != hi:
                out[f"{key}_range"] = [lo, hi]
        return out
