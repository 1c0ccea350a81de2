"""System RAM: what a load and the loaded model leave to the OS and its apps.

Rules (each with its source below):
- GPU memory in the shared pool is system RAM (hardware/pools.py), and so is the host side of
  every buffer.
- Loading passes through system RAM. On Windows with a carve-out the CPU cannot write the
  dedicated memory, so the weights are staged in OS-visible RAM (lemonade-sdk #841: "allocating
  too much dedicated GPU RAM can interfere with model loading"; lilting.ch 48/16 load crash; the
  2026-02-02 ZBook article's Qwen3-VL-32B Q6_K at 48 GB). LM Studio's keepModelInMemory (default
  true, lmstudio-js KV config) keeps that copy for good. Either way: OS baseline + host buffers +
  spilled GPU buffers + staged weights must fit in visible RAM, else `load_exceeds_system_ram`.
- Without a Windows carve-out the llama.cpp no-mmap loader stages through 4 x 64 MiB pinned
  buffers (`LOAD_STAGING_SMALL`).
- RAM left (one figure, every face): OS-visible RAM less the host buffers and the GPU memory
  that lives in system RAM. Less than the desktop needs (DESKTOP_RAM) is `desktop_ram_low`.
  Less than the OS baseline cannot happen once a load passes: the load check holds the
  baseline beside the same buffers, so a starved OS is `load_exceeds_system_ram`.
"""

from __future__ import annotations

from dataclasses import dataclass

from vramtui.core.estimate.breakdown import MemoryBreakdown
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.placement import DevicePlacement, desktop_gpu_reserve
from vramtui.core.fit.types import (
    LOAD_HELD_BASELINE,
    LOAD_HELD_KEPT,
    LOAD_HELD_STAGED,
    Reason,
    Segment,
)
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState, Pools
from vramtui.core.sizes import MiB
from vramtui.core.vocab import (
    BufferKind,
    Evidence,
    MachineKind,
    OsName,
    Place,
    ReasonCode,
    SegmentKind,
)

LOAD_STAGING_SMALL = 256 * MiB  # llama.cpp no-mmap loader: 4 x 64 MiB pinned buffers


@dataclass(frozen=True)
class RamUse:
    """System RAM after loading (steady) and while loading (peak). `left` is the one figure of
    RAM left that every face shows: what the OS and its apps keep once the runtime's host
    buffers and the GPU memory that lives in system RAM are taken. The OS baseline is part of
    what it is left for, and the kept copy of the weights is not subtracted, since the OS can
    reclaim its file-backed pages under pressure (the load check counts that copy)."""

    segments: tuple[Segment, ...]
    left: int
    load_peak: int


def ram_use(
    state: MachineState,
    settings: RuntimeSettings,
    pools: Pools,
    bd: MemoryBreakdown,
    dev: DevicePlacement,
) -> RamUse:
    """OS baseline, host buffers, GPU memory taken from RAM, the kept copy, and the staging
    a load needs (see the module doc for the rules)."""
    m = state.machine
    gpu_from_ram = dev.shared_used if not m.discrete else 0
    if not m.discrete and not pools.dedicated_bytes:
        reserve = desktop_gpu_reserve(state)
        gpu_from_ram = dev.total + (reserve if state.os != OsName.MACOS else 0)
    weights_dev = bd.total(Place.DEVICE, BufferKind.WEIGHTS)
    kept = weights_dev if (state.keeps_model or settings.keep_in_memory) else 0
    segments = [Segment("OS baseline", SegmentKind.OS, state.baseline)]
    if bd.host_bytes:
        segments.append(Segment("host buffers", SegmentKind.HOST, bd.host_bytes))
    if gpu_from_ram:
        segments.append(Segment(f"GPU ({pools.shared_name})", SegmentKind.GPU, gpu_from_ram))
    if kept:
        segments.append(Segment("model kept in memory", SegmentKind.KEPT, kept))
    steady = sum(x.n_bytes for x in segments)
    staging = 0 if kept else staging_bytes(state, pools, weights_dev)
    visible = pools.system_ram_bytes
    left = visible - bd.host_bytes - gpu_from_ram
    return RamUse(tuple(segments), left, steady + staging)


def staging_bytes(state: MachineState, pools: Pools, weights_dev: int) -> int:
    """RAM a load of `weights_dev` bytes of device weights stages on its way in (module doc)."""
    return weights_dev if _windows_carve_out(state, pools) else LOAD_STAGING_SMALL


def _windows_carve_out(state: MachineState, pools: Pools) -> bool:
    """On Windows with a carve-out the CPU cannot write the dedicated memory: weights are
    staged in OS-visible RAM on their way in."""
    return state.os == OsName.WINDOWS and state.machine.unified_memory and pools.dedicated_bytes > 0


def ram_reasons(state: MachineState, pools: Pools, ram: RamUse) -> list[Reason]:
    visible = pools.system_ram_bytes
    kept = any(s.kind == SegmentKind.KEPT for s in ram.segments)
    if ram.load_peak > visible:
        held = LOAD_HELD_BASELINE
        if _windows_carve_out(state, pools):
            held = LOAD_HELD_STAGED
        if kept:
            held = LOAD_HELD_KEPT
        return [
            Reason.of(
                ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM,
                needed_bytes=ram.load_peak,
                visible_bytes=visible,
                held=held,
            )
        ]
    if ram.left < state.desktop_ram:
        return [
            Reason.of(
                ReasonCode.DESKTOP_RAM_LOW,
                left_bytes=ram.left,
                os=state.os,
                desktop_bytes=state.desktop_ram,
            )
        ]
    return []


# The one measured case of the load rule: Qwen3-VL-32B Q6_K, 28.08 GB with its projector (LM
# Studio's figure), did not load at a 48 GiB carve-out of 64 GB under Windows (2026-02-02 ZBook
# article). A model within MEASURED_CASE_SPREAD of that size on the same class of machine under
# the same OS is answered as measured; anything else is an extrapolation of the rule. The spread
# is a judgement, not a measurement.
MEASURED_LOAD_FAILURE_BYTES = 28_080_000_000
MEASURED_CASE_SPREAD = 0.10


def reason_evidence(reason: Reason, spec: ModelSpec, state: MachineState) -> Evidence:
    """What this reason rests on for this model and machine (vocab's default otherwise)."""
    if (
        reason.code == ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM
        and state.machine.kind == MachineKind.STRIX_HALO
        and state.os == OsName.WINDOWS
    ):
        size = spec.weights_bytes + (spec.mmproj.weights_bytes if spec.mmproj else 0)
        spread = MEASURED_CASE_SPREAD * MEASURED_LOAD_FAILURE_BYTES
        if abs(size - MEASURED_LOAD_FAILURE_BYTES) <= spread:
            return Evidence.MEASURED
    return reason.code.evidence
