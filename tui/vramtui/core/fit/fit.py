"""The fit verdict: a memory estimate placed into a machine's pools under its OS's rules.

Rules (each with its source below; the pools themselves and their OS rules are in
hardware/pools.py):
- Discrete GPUs: layers that do not fit the VRAM stay on the CPU (llama.cpp --fit, 1 GiB
  margin as its default -fitt).
- Device buffers fill dedicated memory first (weights, projector, KV, compute: the order
  llama.cpp allocates them) and spill into shared memory. Shared memory is system RAM.
- Spilling on Windows is slow (17.26 vs 42.89 tok/s in the 2026-02-02 ZBook article); on Linux
  AMD says GTT has "no performance distinction" (ROCm docs strixhalo.rst), so there it is
  only noted.
- Loading passes through system RAM. On Windows with a carve-out the CPU cannot write the
  dedicated memory, so the weights are staged in OS-visible RAM (lemonade-sdk #841: "allocating
  too much dedicated GPU RAM can interfere with model loading"; lilting.ch 48/16 load crash; the
  2026-02-02 ZBook article's Qwen3-VL-32B Q6_K at 48 GB). LM Studio's keepModelInMemory (default
  true, lmstudio-js KV config) keeps that copy for good. Either way: OS baseline + host buffers +
  spilled GPU buffers + staged weights must fit in visible RAM, else `load_exceeds_system_ram`.
- LM Studio leaves flash attention off unless asked (its load config default), and
  Vulkan/ROCm have no flash-attention kernel for MLA heads (576/512; memory.py), so "auto" is
  resolved off there: at 198K context GLM-4.7-Flash's attention scores then need ~8 GB, which
  is why it did not load at 512 MB while its weights + KV alone would have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vramtui.core.estimate.breakdown import MemoryBreakdown
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.placement import host_expert_bytes, host_expert_note
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import (
    DESKTOP_GPU_RESERVE,
    MachineState,
    Pools,
    compute_pools,
)
from vramtui.core.sizes import GiB, MiB, format_bytes
from vramtui.core.speed.predict import SpeedEstimate, estimate_speed
from vramtui.core.vocab import (
    BufferKind,
    OsName,
    Place,
    ReasonCode,
    Runtime,
    SegmentKind,
    Severity,
    Verdict,
)

DISCRETE_MARGIN = 1 * GiB  # llama.cpp --fit-target default 1024 MiB
SLOW_DECODE_TPS = 10.0  # the 2026-02-02 ZBook article's bar for daily use
LOAD_STAGING_SMALL = 256 * MiB  # llama.cpp no-mmap loader: 4 x 64 MiB pinned buffers


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    message: str

    @property
    def severity(self) -> Severity:
        return self.code.severity


@dataclass(frozen=True)
class Segment:
    label: str
    kind: SegmentKind
    n_bytes: int


@dataclass(frozen=True)
class PoolUsage:
    name: str
    capacity_bytes: int
    segments: tuple[Segment, ...]

    @property
    def used_bytes(self) -> int:
        return sum(s.n_bytes for s in self.segments)


@dataclass(frozen=True)
class FitResult:
    verdict: Verdict
    reasons: tuple[Reason, ...]
    pools: Pools
    pool_usage: tuple[PoolUsage, ...]
    dedicated_used_bytes: int
    shared_used_bytes: int
    system_ram_left_bytes: int  # never negative: a load that leaves less will not fit
    load_peak_bytes: int
    gpu_memory_used_bytes: int  # what Task Manager / amdgpu counters show: model + desktop
    breakdown: MemoryBreakdown
    speed: SpeedEstimate
    n_gpu_layers: int
    backend: str
    settings: RuntimeSettings
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def gpu_left_bytes(self) -> int:
        """GPU memory still free (0 when the buffers do not fit)."""
        used = self.dedicated_used_bytes + self.shared_used_bytes
        return max(self.pools.gpu_total_bytes - used, 0)

    @property
    def runs(self) -> bool:
        """False when the model will not fit: then there is no speed and no RAM left."""
        return self.verdict != Verdict.WILL_NOT_FIT

    def _speed_json(self) -> dict[str, Any]:
        sp = self.speed
        if not self.runs:
            return dict.fromkeys(
                (
                    "decode_tokens_per_second",
                    "prefill_tokens_per_second",
                    "time_to_first_token_s",
                    "speed",
                )
            )
        return {
            "decode_tokens_per_second": round(sp.decode_tokens_per_second, 2),
            "prefill_tokens_per_second": round(sp.prefill_tokens_per_second, 1),
            "time_to_first_token_s": round(sp.time_to_first_token_s, 3),
            "speed": sp.to_json(),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": [r.code for r in self.reasons],
            "messages": [
                {"code": r.code, "severity": r.severity, "message": r.message} for r in self.reasons
            ],
            "dedicated_used_bytes": self.dedicated_used_bytes,
            "shared_used_bytes": self.shared_used_bytes,
            "gpu_memory_used_bytes": self.gpu_memory_used_bytes,
            "system_ram_left_bytes": self.system_ram_left_bytes if self.runs else None,
            "load_peak_bytes": self.load_peak_bytes,
            "gpu_left_bytes": self.gpu_left_bytes if self.runs else None,
            "n_gpu_layers": self.n_gpu_layers,
            "backend": self.backend,
            **self._speed_json(),
            "pools": self.pools.to_json(),
            "pool_usage": [
                {
                    "name": p.name,
                    "capacity_bytes": p.capacity_bytes,
                    "segments": [
                        {"label": s.label, "kind": s.kind, "bytes": s.n_bytes} for s in p.segments
                    ],
                }
                for p in self.pool_usage
            ],
            "estimate": self.breakdown.to_json(),
        }


# The order llama.cpp allocates device buffers in: what comes first stays in dedicated memory.
_DEVICE_ORDER = (
    BufferKind.WEIGHTS,
    BufferKind.PROJECTOR,
    BufferKind.KV_CACHE,
    BufferKind.RECURRENT_STATE,
    BufferKind.COMPUTE,
    BufferKind.OUTPUT,
)


def resolve_settings(
    spec: ModelSpec, settings: RuntimeSettings, state: MachineState
) -> RuntimeSettings:
    """Apply the runtime's and backend's defaults the estimate cannot know (see module doc)."""
    if settings.flash_attn != "auto":
        return settings
    backend = state.resolved_backend
    mla = spec.architecture in {"deepseek2", "deepseek3", "kimi_k2", "glm4moe_lite"}
    if state.runtime == Runtime.LMSTUDIO or (mla and backend in {"vulkan", "rocm"}):
        return settings.with_changes(flash_attn="off")
    return settings


def _estimate(spec: ModelSpec, settings: RuntimeSettings, backend: str) -> MemoryBreakdown:
    return estimate_memory(spec, settings, backend="cpu" if backend == "cpu" else "gpu")


def _auto_offload(
    spec: ModelSpec, settings: RuntimeSettings, backend: str, budget: int
) -> MemoryBreakdown:
    """Largest n_gpu_layers whose device buffers fit `budget` (llama.cpp --fit, by layers)."""
    full = _estimate(spec, settings, backend)
    if full.device_bytes <= budget:
        return full
    lo, hi = 0, full.n_layers  # n_layers + 1 did not fit
    best = _estimate(spec, settings.with_changes(n_gpu_layers=0), backend)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        b = _estimate(spec, settings.with_changes(n_gpu_layers=mid), backend)
        if b.device_bytes <= budget:
            lo, best = mid, b
        else:
            hi = mid - 1
    return best


@dataclass(frozen=True)
class _DevicePlacement:
    """Device buffers laid into dedicated memory first, then shared memory."""

    dedicated: tuple[Segment, ...]
    shared: tuple[Segment, ...]
    dedicated_cap: int
    shared_cap: int
    desktop_dedicated: int = 0  # the desktop's own share, in the carve-out ...
    desktop_shared: int = 0  # ... and what a small carve-out cannot hold of it

    @property
    def dedicated_used(self) -> int:
        return sum(x.n_bytes for x in self.dedicated)

    @property
    def shared_used(self) -> int:
        return sum(x.n_bytes for x in self.shared)

    @property
    def total(self) -> int:
        return self.dedicated_used + self.shared_used


@dataclass(frozen=True)
class _RamUse:
    """System RAM after loading (steady) and while loading (peak). `desktop_left`: what the
    OS and its apps keep beside the runtime's buffers; the kept copy of the weights is not
    subtracted there, since the OS can reclaim its file-backed pages under pressure."""

    segments: tuple[Segment, ...]
    left: int
    load_peak: int
    desktop_left: int


def desktop_gpu_reserve(state: MachineState) -> int:
    """GPU memory the desktop itself holds on this machine state (DESKTOP_GPU_RESERVE)."""
    m = state.machine
    return DESKTOP_GPU_RESERVE[state.os] if m.unified_memory or state.os != "macos" else 0


def _place_device(bd: MemoryBreakdown, pools: Pools, reserve: int) -> _DevicePlacement:
    # The desktop's own share fills the carve-out first; what a small carve-out cannot hold of
    # it lives in shared memory (Task Manager shows it there on a 512 MB laptop).
    desktop_in_dedicated = min(reserve, pools.dedicated_bytes)
    dedicated_cap = pools.dedicated_bytes - desktop_in_dedicated
    shared_cap = max(pools.shared_bytes - (reserve - desktop_in_dedicated), 0)
    dedicated: list[Segment] = []
    shared: list[Segment] = []
    room = dedicated_cap
    for kind in _DEVICE_ORDER:
        n = bd.total(Place.DEVICE, kind)
        if not n:
            continue
        into_dedicated = min(n, room)
        room -= into_dedicated
        if into_dedicated:
            dedicated.append(Segment(kind.label, SegmentKind(kind.value), into_dedicated))
        if n - into_dedicated:
            shared.append(Segment(kind.label, SegmentKind(kind.value), n - into_dedicated))
    return _DevicePlacement(
        tuple(dedicated),
        tuple(shared),
        dedicated_cap,
        shared_cap,
        desktop_in_dedicated,
        reserve - desktop_in_dedicated,
    )


def _gpu_reasons(
    state: MachineState, pools: Pools, bd: MemoryBreakdown, dev: _DevicePlacement
) -> list[Reason]:
    m = state.machine
    reasons: list[Reason] = []
    step_reason = _carve_out_step_reason(state)
    if step_reason is not None:
        reasons.append(step_reason)
    if m.discrete:
        if dev.total > pools.dedicated_bytes:
            reasons.append(
                Reason(
                    ReasonCode.EXCEEDS_GPU_MEMORY,
                    f"the GPU buffers ({format_bytes(dev.total)}) exceed the "
                    f"{format_bytes(pools.dedicated_bytes)} of VRAM",
                )
            )
        if bd.n_gpu_layers < bd.n_layers + 1:
            reasons.append(
                Reason(
                    ReasonCode.PARTIAL_OFFLOAD,
                    f"only {bd.n_gpu_layers} of {bd.n_layers + 1} layers fit on the GPU; the rest "
                    "run on the CPU (much slower)",
                )
            )
    elif dev.shared_used > dev.shared_cap:
        reasons.append(
            Reason(
                ReasonCode.EXCEEDS_GPU_MEMORY,
                f"the GPU needs {format_bytes(dev.total)} but can address "
                f"{format_bytes(dev.dedicated_cap + dev.shared_cap)} ({pools.shared_name} "
                f"{format_bytes(pools.shared_bytes)} + dedicated "
                f"{format_bytes(pools.dedicated_bytes)})",
            )
        )
    elif dev.shared_used and pools.dedicated_bytes and pools.shared_is_slow:
        reasons.append(
            Reason(
                ReasonCode.SPILLS_TO_SHARED,
                f"{format_bytes(dev.shared_used)} does not fit the "
                f"{format_bytes(pools.dedicated_bytes)} carve-out and spills into shared GPU "
                "memory: it runs, but slower",
            )
        )
    elif dev.shared_used and pools.dedicated_bytes:
        reasons.append(
            Reason(
                ReasonCode.USES_GTT,
                f"{format_bytes(dev.shared_used)} lives in {pools.shared_name} beyond the "
                "carve-out (no speed penalty on Linux per AMD)",
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
    return Reason(
        ReasonCode.CARVE_OUT_NOT_A_STEP,
        f"{format_bytes(carve)} is not one of this machine's BIOS steps (nearest: "
        f"{' or '.join(format_bytes(s) for s in near)})",
    )


def _ram_use(
    state: MachineState,
    settings: RuntimeSettings,
    pools: Pools,
    bd: MemoryBreakdown,
    dev: _DevicePlacement,
) -> _RamUse:
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
    staging = 0
    if not kept:
        staging = weights_dev if _windows_carve_out(state, pools) else LOAD_STAGING_SMALL
    visible = pools.system_ram_bytes
    desktop_left = visible - bd.host_bytes - gpu_from_ram
    return _RamUse(tuple(segments), visible - steady, steady + staging, desktop_left)


def _windows_carve_out(state: MachineState, pools: Pools) -> bool:
    """On Windows with a carve-out the CPU cannot write the dedicated memory: weights are
    staged in OS-visible RAM on their way in."""
    return state.os == OsName.WINDOWS and state.machine.unified_memory and pools.dedicated_bytes > 0


def _ram_reasons(state: MachineState, pools: Pools, ram: _RamUse) -> list[Reason]:
    visible = pools.system_ram_bytes
    kept = any(s.kind == SegmentKind.KEPT for s in ram.segments)
    if ram.load_peak > visible:
        why = "the OS baseline, "
        if _windows_carve_out(state, pools):
            why = "the weights staged for upload (the CPU cannot write the carve-out), "
        if kept:
            why = "the copy the runtime keeps in memory, "
        return [
            Reason(
                ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM,
                f"loading needs {format_bytes(ram.load_peak)} of system RAM ({why}host buffers and "
                f"spilled GPU memory) but only {format_bytes(visible)} is left to the OS",
            )
        ]
    if ram.left < state.baseline:
        return [
            Reason(
                ReasonCode.LOW_SYSTEM_RAM,
                f"only {format_bytes(ram.left)} of RAM is left for the OS and apps after loading: "
                "the desktop will stutter",
            )
        ]
    if ram.desktop_left < state.desktop_ram:
        os_label = OsName(state.os).label
        return [
            Reason(
                ReasonCode.DESKTOP_RAM_LOW,
                f"{format_bytes(ram.desktop_left)} of RAM is left for {os_label} and its apps once "
                f"the model is loaded; a desktop needs about {format_bytes(state.desktop_ram)} to "
                "stay smooth, so expect stutter",
            )
        ]
    return []


def _speed(
    spec: ModelSpec,
    state: MachineState,
    *,
    pools: Pools,
    bd: MemoryBreakdown,
    dev: _DevicePlacement,
    prompt_tokens: int | None,
    calibration: float | None,
    image_size: tuple[int, int] | None = None,
) -> SpeedEstimate:
    m = state.machine
    backend = state.resolved_backend
    return estimate_speed(
        spec=spec,
        machine=m,
        backend=backend,
        os=state.os,
        runtime=state.runtime,
        breakdown=bd,
        shared_bytes={s.kind: s.n_bytes for s in dev.shared} if pools.shared_is_slow else None,
        prompt_tokens=prompt_tokens or 1024,
        calibration=calibration,
        image_size=image_size,
    )


def _model_reasons(
    spec: ModelSpec, settings: RuntimeSettings, bd: MemoryBreakdown, speed: SpeedEstimate | None
) -> list[Reason]:
    """Notes on the model itself; no speed note for a model that will not load."""
    reasons: list[Reason] = []
    n_train = n_ctx_train(spec)
    if n_train and settings.ctx_size and settings.ctx_size > n_train:
        reasons.append(
            Reason(
                ReasonCode.CONTEXT_EXCEEDS_TRAINING,
                f"context {settings.ctx_size} is beyond the model's training context {n_train}: "
                "quality degrades",
            )
        )
    if speed is not None and speed.decode_tokens_per_second < SLOW_DECODE_TPS:
        reasons.append(
            Reason(
                ReasonCode.SLOW_DECODE,
                f"about {speed.decode_tokens_per_second:.1f} tok/s expected: below the ~10 tok/s "
                "that feels usable",
            )
        )
    if bd.approximate and not spec.synthesized:
        # A file of an architecture the estimate knows only by its generic rules: say so.
        arch = spec.architecture or "?"
        reasons.append(
            Reason(
                ReasonCode.APPROXIMATE_ESTIMATE,
                f"architecture {arch!r} is not one vramtui knows: memory is estimated with the "
                "generic rules (dense attention on every layer)",
            )
        )
    return reasons


def _pool_usage(
    state: MachineState, pools: Pools, dev: _DevicePlacement, ram: _RamUse
) -> tuple[PoolUsage, ...]:
    usage = []
    if pools.dedicated_bytes:
        desktop = [Segment("desktop", SegmentKind.OS, dev.desktop_dedicated)]
        shown = desktop if dev.desktop_dedicated and not state.machine.discrete else []
        usage.append(PoolUsage("dedicated", pools.dedicated_bytes, (*shown, *dev.dedicated)))
    if pools.shared_bytes:
        overflow = dev.desktop_shared
        desktop = [Segment("desktop", SegmentKind.OS, overflow)] if overflow else []
        usage.append(PoolUsage(pools.shared_name, pools.shared_bytes, (*desktop, *dev.shared)))
    usage.append(PoolUsage("system RAM", pools.system_ram_bytes, ram.segments))
    return tuple(usage)


def _gpu_memory_used(state: MachineState, dev: _DevicePlacement) -> int:
    """GPU memory in use with the model loaded, as Windows Task Manager ("Dedicated" +
    "Shared GPU memory") or amdgpu's mem_info_vram_used + mem_info_gtt_used show it: the
    runtime's device buffers plus what the desktop itself holds on the GPU."""
    return dev.total + desktop_gpu_reserve(state)


@dataclass(frozen=True)
class MemoryJudgement:
    """A breakdown placed in one machine's pools and judged on memory alone (no speed): what
    a node of a cluster gets."""

    reasons: tuple[Reason, ...]
    gpu_used_bytes: int
    system_ram_left_bytes: int
    load_peak_bytes: int

    @property
    def verdict(self) -> Verdict:
        return Verdict.from_severities({r.severity for r in self.reasons})


def judge_memory(
    bd: MemoryBreakdown, state: MachineState, settings: RuntimeSettings
) -> MemoryJudgement:
    """The fit's placement and memory rules for a breakdown built elsewhere."""
    pools = compute_pools(state)
    dev = _place_device(bd, pools, desktop_gpu_reserve(state))
    ram = _ram_use(state, settings, pools, bd, dev)
    reasons = tuple(_gpu_reasons(state, pools, bd, dev) + _ram_reasons(state, pools, ram))
    return MemoryJudgement(reasons, dev.total, max(ram.left, 0), ram.load_peak)


def evaluate_fit(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    *,
    prompt_tokens: int | None = None,
    calibration: float | None = None,
    image_size: tuple[int, int] | None = None,
) -> FitResult:
    """Place the estimate in the machine's pools and judge it. Pure: `calibration` is the
    decode factor the caller looked up (vramtui.core.probe.calibration), None for the raw model;
    `image_size` (width, height) is the image of a vision prompt (speed.DEFAULT_IMAGE_SIZE)."""
    m = state.machine
    backend = state.resolved_backend
    pools = compute_pools(state)
    s = resolve_settings(spec, settings, state)
    if m.discrete and s.n_gpu_layers is None:
        bd = _auto_offload(spec, s, backend, m.gpu_vram_bytes - DISCRETE_MARGIN)
    else:
        bd = _estimate(spec, s, backend)
    dev = _place_device(bd, pools, desktop_gpu_reserve(state))
    ram = _ram_use(state, s, pools, bd, dev)
    speed = _speed(
        spec,
        state,
        pools=pools,
        bd=bd,
        dev=dev,
        prompt_tokens=prompt_tokens,
        calibration=calibration,
        image_size=image_size,
    )
    reasons = _gpu_reasons(state, pools, bd, dev) + _ram_reasons(state, pools, ram)
    loads = all(r.severity != Severity.ERROR for r in reasons)
    reasons += _model_reasons(spec, s, bd, speed if loads else None)
    hx = 0 if backend == "cpu" else host_expert_bytes(spec, s, bd.n_gpu_layers)  # -ot, -ncmoe
    if note := host_expert_note(hx, gains_nothing=m.unified_memory and not pools.dedicated_bytes):
        reasons.append(Reason(ReasonCode.EXPERTS_ON_HOST, note))
    return FitResult(
        verdict=Verdict.from_severities({r.severity for r in reasons}),
        reasons=tuple(reasons),
        pools=pools,
        pool_usage=_pool_usage(state, pools, dev, ram),
        dedicated_used_bytes=dev.dedicated_used,
        shared_used_bytes=dev.shared_used,
        system_ram_left_bytes=max(ram.left, 0),
        load_peak_bytes=ram.load_peak,
        gpu_memory_used_bytes=_gpu_memory_used(state, dev),
        breakdown=bd,
        speed=speed,
        n_gpu_layers=bd.n_gpu_layers,
        backend=backend,
        settings=s,
    )


def n_ctx_train(spec: ModelSpec) -> int:
    """The model's training context (0 if the header does not say)."""
    value = spec.meta("context_length")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0
