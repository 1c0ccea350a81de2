"""Device placement: a memory estimate's device buffers laid into a machine's pools.

Rules (each with its source below; the pools themselves and their OS rules are in
hardware/pools.py):
- Discrete GPUs: layers that do not fit the VRAM stay on the CPU (llama.cpp --fit, 1 GiB
  margin as its default -fitt).
- Device buffers fill dedicated memory first (weights, projector, KV, compute: the order
  llama.cpp allocates them) and spill into shared memory. Shared memory is system RAM.
- Spilling on Windows is slow (17.26 vs 42.89 tok/s in the 2026-02-02 ZBook article); on Linux
  AMD says GTT has "no performance distinction" (ROCm docs strixhalo.rst), so there it is
  only noted.
- Under ROCm on Windows on an integrated GPU the KV cache lives in shared memory whatever the
  carve-out (platform.py kinds_kept_in_shared, with its sources): those buffers skip the
  dedicated memory, and what they take of the shared pool is noted apart from a spill.
- The desktop's own GPU memory (DESKTOP_GPU_RESERVE) fills the carve-out first; what a small
  carve-out cannot hold of it lives in shared memory (Task Manager shows it there on a 512 MB
  laptop).
"""

from __future__ import annotations

from dataclasses import dataclass

from vramtui.core.estimate.breakdown import MemoryBreakdown
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.platform import kinds_kept_in_shared
from vramtui.core.fit.types import Reason, Segment
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import DESKTOP_GPU_RESERVE, MachineState, Pools
from vramtui.core.sizes import GiB
from vramtui.core.vocab import Backend, BufferKind, OsName, Place, ReasonCode, SegmentKind

DISCRETE_MARGIN = 1 * GiB  # llama.cpp --fit-target default 1024 MiB


# The order llama.cpp allocates device buffers in: what comes first stays in dedicated memory.
DEVICE_ORDER = (
    BufferKind.WEIGHTS,
    BufferKind.PROJECTOR,
    BufferKind.KV_CACHE,
    BufferKind.RECURRENT_STATE,
    BufferKind.COMPUTE,
    BufferKind.OUTPUT,
)


def estimate_on(spec: ModelSpec, settings: RuntimeSettings, backend: Backend) -> MemoryBreakdown:
    """The estimate for a runtime backend: the CPU build, or that GPU backend (its own
    compute-buffer ranges, estimate/gpu_compute.py)."""
    return estimate_memory(spec, settings, backend=backend.value)


def auto_offload(
    spec: ModelSpec, settings: RuntimeSettings, backend: Backend, budget: int
) -> MemoryBreakdown:
    """Largest n_gpu_layers whose device buffers fit `budget` (llama.cpp --fit, by layers)."""
    full = estimate_on(spec, settings, backend)
    if full.device_bytes <= budget:
        return full
    lo, hi = 0, full.n_layers  # n_layers + 1 did not fit
    best = estimate_on(spec, settings.with_changes(n_gpu_layers=0), backend)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        b = estimate_on(spec, settings.with_changes(n_gpu_layers=mid), backend)
        if b.device_bytes <= budget:
            lo, best = mid, b
        else:
            hi = mid - 1
    return best


@dataclass(frozen=True)
class DevicePlacement:
    """Device buffers laid into dedicated memory first, then shared memory."""

    dedicated: tuple[Segment, ...]
    shared: tuple[Segment, ...]
    dedicated_cap: int
    shared_cap: int
    desktop_dedicated: int = 0  # the desktop's own share, in the carve-out ...
    desktop_shared: int = 0  # ... and what a small carve-out cannot hold of it
    kept_shared: int = 0  # bytes the runtime keeps in shared memory whatever the carve-out

    @property
    def spilled(self) -> int:
        """Shared memory taken because the carve-out is full (not the buffers kept there)."""
        return self.shared_used - self.kept_shared

    @property
    def dedicated_used(self) -> int:
        return sum(x.n_bytes for x in self.dedicated)

    @property
    def shared_used(self) -> int:
        return sum(x.n_bytes for x in self.shared)

    @property
    def total(self) -> int:
        return self.dedicated_used + self.shared_used


def desktop_gpu_reserve(state: MachineState) -> int:
    """GPU memory the desktop itself holds on this machine state (DESKTOP_GPU_RESERVE)."""
    m = state.machine
    return DESKTOP_GPU_RESERVE[state.os] if m.unified_memory or state.os != OsName.MACOS else 0


def place_device(bd: MemoryBreakdown, pools: Pools, state: MachineState) -> DevicePlacement:
    """The device buffers in llama.cpp's allocation order, into dedicated memory then shared
    memory, beside the desktop's own share (desktop_gpu_reserve); the kinds the platform keeps
    in shared memory (kinds_kept_in_shared) go there whatever the room."""
    # The desktop's own share fills the carve-out first; what a small carve-out cannot hold of
    # it lives in shared memory (Task Manager shows it there on a 512 MB laptop).
    reserve = desktop_gpu_reserve(state)
    kept = kinds_kept_in_shared(state) if pools.shared_bytes else frozenset()
    desktop_in_dedicated = min(reserve, pools.dedicated_bytes)
    dedicated_cap = pools.dedicated_bytes - desktop_in_dedicated
    shared_cap = max(pools.shared_bytes - (reserve - desktop_in_dedicated), 0)
    dedicated: list[Segment] = []
    shared: list[Segment] = []
    room = dedicated_cap
    kept_shared = 0
    for kind in DEVICE_ORDER:
        n = bd.total(Place.DEVICE, kind)
        if not n:
            continue
        into_dedicated = 0 if kind in kept else min(n, room)
        kept_shared += n if kind in kept else 0
        room -= into_dedicated
        if into_dedicated:
            dedicated.append(Segment(kind.label, SegmentKind(kind.value), into_dedicated))
        if n - into_dedicated:
            shared.append(Segment(kind.label, SegmentKind(kind.value), n - into_dedicated))
    return DevicePlacement(
        tuple(dedicated),
        tuple(shared),
        dedicated_cap,
        shared_cap,
        desktop_in_dedicated,
        reserve - desktop_in_dedicated,
        kept_shared,
    )


def gpu_reasons(
    state: MachineState, pools: Pools, bd: MemoryBreakdown, dev: DevicePlacement
) -> list[Reason]:
    m = state.machine
    reasons: list[Reason] = []
    step_reason = _carve_out_step_reason(state)
    if step_reason is not None:
        reasons.append(step_reason)
    if m.discrete:
        if dev.total > pools.dedicated_bytes:
            reasons.append(
                Reason.of(
                    ReasonCode.EXCEEDS_GPU_MEMORY,
                    needed_bytes=dev.total,
                    vram_bytes=pools.dedicated_bytes,
                )
            )
        if bd.n_gpu_layers < bd.n_layers + 1:
            reasons.append(
                Reason.of(
                    ReasonCode.PARTIAL_OFFLOAD,
                    gpu_layers=bd.n_gpu_layers,
                    layers=bd.n_layers + 1,
                )
            )
    elif dev.shared_used > dev.shared_cap:
        reasons.append(
            Reason.of(
                ReasonCode.EXCEEDS_GPU_MEMORY,
                needed_bytes=dev.total,
                dedicated_bytes=dev.dedicated_cap,
                shared_bytes=dev.shared_cap,
                shared_name=pools.shared_name,
                desktop_bytes=dev.desktop_dedicated + dev.desktop_shared,
            )
        )
    elif dev.spilled and pools.dedicated_bytes and pools.shared_is_slow:
        reasons.append(
            Reason.of(
                ReasonCode.SPILLS_TO_SHARED,
                spilled_bytes=dev.spilled,
                carve_out_bytes=pools.dedicated_bytes,
            )
        )
    elif dev.spilled and pools.dedicated_bytes:
        reasons.append(
            Reason.of(
                ReasonCode.USES_GTT,
                spilled_bytes=dev.spilled,
                shared_name=pools.shared_name,
            )
        )
    if dev.kept_shared and pools.dedicated_bytes:
        reasons.append(
            Reason.of(
                ReasonCode.ROCM_WINDOWS_KV_SHARED,
                kv_bytes=dev.kept_shared,
                carve_out_bytes=pools.dedicated_bytes,
                shared_name=pools.shared_name,
            )
        )
    return reasons


def _carve_out_step_reason(state: MachineState) -> Reason | None:
    """A carve-out the BIOS does not offer is answered, but flagged with the nearest steps."""
    steps = state.machine.carve_out_steps
    carve = state.carve_out_bytes
    if not steps or carve in steps:
        return None
    below = [s for s in steps if s < carve]
    above = [s for s in steps if s > carve]
    near = ([max(below)] if below else []) + ([min(above)] if above else [])
    return Reason.of(
        ReasonCode.CARVE_OUT_NOT_A_STEP, carve_out_bytes=carve, nearest_bytes=tuple(near)
    )


def gpu_memory_used(state: MachineState, dev: DevicePlacement) -> int:
    """GPU memory in use with the model loaded, as Windows Task Manager ("Dedicated" +
    "Shared GPU memory") or amdgpu's mem_info_vram_used + mem_info_gtt_used show it: the
    runtime's device buffers plus what the desktop itself holds on the GPU."""
    return dev.total + desktop_gpu_reserve(state)
