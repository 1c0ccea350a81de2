"""The fit verdict: a memory estimate placed into a machine's pools under its OS's rules, with
its speed, and the reasons that make the verdict.

Device placement (dedicated, shared, partial offload) is in placement.py and the system RAM
rules (loading, what the OS and the desktop keep) in ram.py, each with its sources; the pools
themselves and their OS rules are in hardware/pools.py. Here:
- LM Studio leaves flash attention off unless asked (its load config default), and
  Vulkan/ROCm have no flash-attention kernel for MLA heads (576/512; memory.py), so "auto" is
  resolved off there: at 198K context GLM-4.7-Flash's attention scores then need ~8 GB, which
  is why it did not load at 512 MB while its weights + KV alone would have.
- Below ~10 tok/s decode (the 2026-02-02 ZBook article's bar for daily use) is `slow_decode`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vramtui.core.estimate.breakdown import MemoryBreakdown
from vramtui.core.estimate.placement import host_expert_bytes
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.placement import (
    DISCRETE_MARGIN,
    DevicePlacement,
    auto_offload,
    estimate_on,
    gpu_memory_used,
    gpu_reasons,
    place_device,
)
from vramtui.core.fit.platform import platform_reasons
from vramtui.core.fit.ram import RamUse, ram_reasons, ram_use
from vramtui.core.fit.types import PoolUsage, Reason, Segment
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState, Pools, compute_pools
from vramtui.core.speed.bands import release_factor
from vramtui.core.speed.predict import SpeedEstimate, estimate_speed
from vramtui.core.speed.releases import release_window
from vramtui.core.vocab import Backend, ReasonCode, Runtime, SegmentKind, Severity, Verdict

SLOW_DECODE_TPS = 10.0  # the 2026-02-02 ZBook article's bar for daily use


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
    backend: Backend
    settings: RuntimeSettings
    extra: dict[str, Any] = field(default_factory=dict)
    kept_shared_bytes: int = 0  # of shared_used_bytes: what the platform keeps there anyway

    @property
    def spilled_bytes(self) -> int:
        """Shared memory taken because the carve-out is full (placement.DevicePlacement)."""
        return self.shared_used_bytes - self.kept_shared_bytes

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
                    "decode_tokens_per_second_range",
                    "prefill_tokens_per_second_range",
                    "time_to_first_token_s_range",
                    "speed",
                )
            )
        return {
            "decode_tokens_per_second": round(sp.decode_tokens_per_second, 2),
            "prefill_tokens_per_second": round(sp.prefill_tokens_per_second, 1),
            "time_to_first_token_s": round(sp.time_to_first_token_s, 3),
            **sp.range_json(),
            "speed": sp.to_json(),
        }

    def to_json(self) -> dict[str, Any]:
        """The answer's figures and reason codes; each face adds the reasons' sentences
        (vramtui.present.reasons.with_messages)."""
        return {
            "verdict": self.verdict,
            "reasons": [r.code for r in self.reasons],
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


def resolve_settings(
    spec: ModelSpec, settings: RuntimeSettings, state: MachineState
) -> RuntimeSettings:
    """Apply the runtime's and backend's defaults the estimate cannot know (see module doc)."""
    if settings.flash_attn != "auto":
        return settings
    backend = state.resolved_backend
    mla = spec.architecture in {"deepseek2", "deepseek3", "kimi_k2", "glm4moe_lite"}
    if state.runtime == Runtime.LMSTUDIO or (mla and backend in {Backend.VULKAN, Backend.ROCM}):
        return settings.with_changes(flash_attn="off")
    return settings


def _speed(
    spec: ModelSpec,
    state: MachineState,
    *,
    pools: Pools,
    bd: MemoryBreakdown,
    dev: DevicePlacement,
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
        llama_build=bd.settings.llama_build or None,
        rocm_release=bd.settings.rocm_release,
    )


def model_reasons(
    spec: ModelSpec, settings: RuntimeSettings, bd: MemoryBreakdown, speed: SpeedEstimate | None
) -> list[Reason]:
    """Notes on the model itself; no speed note for a model that will not load."""
    reasons: list[Reason] = []
    n_train = n_ctx_train(spec)
    if n_train and settings.ctx_size and settings.ctx_size > n_train:
        reasons.append(
            Reason.of(ReasonCode.CONTEXT_EXCEEDS_TRAINING, ctx=settings.ctx_size, train_ctx=n_train)
        )
    if speed is not None and speed.decode_tokens_per_second < SLOW_DECODE_TPS:
        span = speed.decode_range()
        ends = {"tps_low": span[0], "tps_high": span[1]} if span else {}
        reasons.append(
            Reason.of(ReasonCode.SLOW_DECODE, tps=speed.decode_tokens_per_second, **ends)
        )
    slow_release = _slow_release(settings, speed)
    if slow_release is not None:
        reasons.append(slow_release)
    if bd.approximate and not spec.synthesized:
        # A file of an architecture the estimate knows only by its generic rules: say so.
        reasons.append(
            Reason.of(ReasonCode.APPROXIMATE_ESTIMATE, architecture=spec.architecture or "")
        )
    return reasons


def _slow_release(settings: RuntimeSettings, speed: SpeedEstimate | None) -> Reason | None:
    """The ROCm release's prefill slowdown at this build, where the runs fall in a window."""
    if speed is None or speed.inputs is None:
        return None
    build = settings.llama_build or None
    window = release_window(speed.inputs.key, settings.rocm_release, build)
    if window is None or build is None:
        return None
    factor, rows = release_factor(window)
    return Reason.of(
        ReasonCode.ROCM_RELEASE_SLOW_PREFILL,
        release=window.release.value,
        build=build,
        factor=factor,
        rows=rows,
        measured=window.measured,
        end_build=window.end_build,
    )


def pool_usage(
    state: MachineState, pools: Pools, dev: DevicePlacement, ram: RamUse
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
    dev = place_device(bd, pools, state)
    ram = ram_use(state, settings, pools, bd, dev)
    reasons = tuple(gpu_reasons(state, pools, bd, dev) + ram_reasons(state, pools, ram))
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
        bd = auto_offload(spec, s, backend, m.gpu_vram_bytes - DISCRETE_MARGIN)
    else:
        bd = estimate_on(spec, s, backend)
    dev = place_device(bd, pools, state)
    ram = ram_use(state, s, pools, bd, dev)
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
    reasons = gpu_reasons(state, pools, bd, dev) + ram_reasons(state, pools, ram)
    reasons += platform_reasons(state, dev.total)
    loads = all(r.severity != Severity.ERROR for r in reasons)
    reasons += model_reasons(spec, s, bd, speed if loads else None)
    hx = 0 if backend == Backend.CPU else host_expert_bytes(spec, s, bd.n_gpu_layers)  # -ot, -ncmoe
    if hx:
        # With no carve-out the GPU's memory is system RAM: experts on the host free nothing.
        gains_nothing = m.unified_memory and not pools.dedicated_bytes
        reasons.append(
            Reason.of(ReasonCode.EXPERTS_ON_HOST, host_bytes=hx, gains_nothing=gains_nothing)
        )
    return FitResult(
        verdict=Verdict.from_severities({r.severity for r in reasons}),
        reasons=tuple(reasons),
        pools=pools,
        pool_usage=pool_usage(state, pools, dev, ram),
        dedicated_used_bytes=dev.dedicated_used,
        shared_used_bytes=dev.shared_used,
        system_ram_left_bytes=max(ram.left, 0),
        load_peak_bytes=ram.load_peak,
        gpu_memory_used_bytes=gpu_memory_used(state, dev),
        breakdown=bd,
        speed=speed,
        n_gpu_layers=bd.n_gpu_layers,
        backend=backend,
        settings=s,
        kept_shared_bytes=dev.kept_shared,
    )


def n_ctx_train(spec: ModelSpec) -> int:
    """The model's training context (0 if the header does not say)."""
    value = spec.meta("context_length")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0
