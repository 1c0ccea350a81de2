"""Which BIOS carve-out to reboot into: the fit at every step, and the one to pick.

Recommended: among the steps where the model runs cleanly (verdict "fits"), the one that leaves
the OS the most RAM; if none runs cleanly, the warning-only step with the fastest decode.
On Linux the small-carve-out + GTT alternative is offered too (AMD's own advice: keep the
carve-out small and raise the TTM/GTT limit; ROCm docs strixhalo.rst).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vramtui.core.advice.moe_offload import ExpertOffload, expert_offload
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit, n_ctx_train
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState, kernel_param_line
from vramtui.core.sizes import GiB
from vramtui.core.speed.predict import rounded_range
from vramtui.core.vocab import OsName, Verdict

CTX_STEP = 256
GTT_OS_RESERVE = 4 * GiB  # kyuz0 leaves >= 4 GiB to the OS (124 of 128 GiB to the GPU)


@dataclass(frozen=True)
class StepRow:
    carve_out_bytes: int
    fit: FitResult
    gpu_left_bytes: int
    system_ram_left_bytes: int
    max_clean_context: int
    decode_tps: float
    max_loading_context: int = 0  # largest context that loads at all (verdict not "will not fit")

    def to_json(self) -> dict[str, Any]:
        return {
            "carve_out_bytes": self.carve_out_bytes,
            "verdict": self.fit.verdict,
            "reasons": list(self.fit.codes),
            "gpu_used_bytes": self.fit.dedicated_used_bytes + self.fit.shared_used_bytes,
            "gpu_left_bytes": self.gpu_left_bytes if self.fit.runs else None,
            "system_ram_left_bytes": self.system_ram_left_bytes if self.fit.runs else None,
            "max_clean_context": self.max_clean_context,
            "max_loading_context": self.max_loading_context,
            "decode_tokens_per_second": round(self.decode_tps, 2) if self.fit.runs else None,
            "decode_tokens_per_second_range": (
                self.fit.speed.decode_range_json() if self.fit.runs else None
            ),
        }


@dataclass(frozen=True)
class GttAlternative:
    carve_out_bytes: int
    gtt_bytes: int
    kernel_params: str
    fit: FitResult

    def to_json(self) -> dict[str, Any]:
        return {
            "carve_out_bytes": self.carve_out_bytes,
            "gtt_bytes": self.gtt_bytes,
            "kernel_params": self.kernel_params,
            "verdict": self.fit.verdict,
            "reasons": list(self.fit.codes),
            "system_ram_left_bytes": self.fit.system_ram_left_bytes if self.fit.runs else None,
            "decode_tokens_per_second": (
                round(self.fit.speed.decode_tokens_per_second, 2) if self.fit.runs else None
            ),
            "decode_tokens_per_second_range": (
                self.fit.speed.decode_range_json() if self.fit.runs else None
            ),
        }


@dataclass(frozen=True)
class Recommendation:
    rows: tuple[StepRow, ...]
    recommended_index: int | None
    linux_gtt_alternative: GttAlternative | None
    context_sweep: tuple[tuple[int, Verdict], ...]  # (ctx, verdict) at the recommended step
    # MoE models that do not fit the GPU at the recommended step: the smallest --n-cpu-moe
    # that does, beside spilling (moe_offload.py)
    expert_offload: ExpertOffload | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": [r.to_json() for r in self.rows],
            "expert_offload": self.expert_offload.to_json() if self.expert_offload else None,
            "recommended_index": self.recommended_index,
            "recommended_carve_out_bytes": (
                self.rows[self.recommended_index].carve_out_bytes
                if self.recommended_index is not None
                else None
            ),
            "linux_gtt_alternative": (
                self.linux_gtt_alternative.to_json() if self.linux_gtt_alternative else None
            ),
            "context_sweep": [{"ctx": c, "verdict": v} for c, v in self.context_sweep],
        }


def _max_context(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    accept: frozenset[Verdict],
    calibration: float | None,
) -> int:
    """Largest context whose verdict is in `accept`: the training context itself, else a
    multiple of 256 below it; 0 if even 256 is not. Memory grows with context, so a binary
    search is exact; the top is tried first, since many models load at their full context."""
    top = n_ctx_train(spec) or 131072

    def ok(ctx: int) -> bool:
        fit = evaluate_fit(
            spec, settings.with_changes(ctx_size=ctx), state, calibration=calibration
        )
        return fit.verdict in accept

    if ok(top):
        return top
    hi = top // CTX_STEP
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid * CTX_STEP < top and ok(mid * CTX_STEP):
            lo = mid
        else:
            hi = mid - 1
    return lo * CTX_STEP


_CLEAN = frozenset({Verdict.FITS})
_LOADS = frozenset({Verdict.FITS, Verdict.FITS_WITH_WARNINGS})


def max_clean_context(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    *,
    calibration: float | None = None,
) -> int:
    """Largest context (a multiple of 256, up to the training context) with verdict "fits";
    0 if even 256 does not."""
    return _max_context(spec, settings, state, _CLEAN, calibration)


def max_loading_context(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    *,
    calibration: float | None = None,
) -> int:
    """Largest context that loads at all (verdict "fits" or "fits, with warnings")."""
    return _max_context(spec, settings, state, _LOADS, calibration)


@dataclass(frozen=True)
class ContextPoint:
    """Memory at one context length: what the GPU holds and what the OS keeps."""

    ctx: int
    verdict: Verdict
    gpu_memory_used_bytes: int  # model buffers plus the desktop's own GPU memory
    system_ram_left_bytes: int
    decode_tps: float
    decode_range: tuple[float, float] | None = None  # tok/s, core/speed/bands.py

    @classmethod
    def of(cls, ctx: int, fit: FitResult) -> ContextPoint:
        """The point a fit at context `ctx` gives (one model's or a set's)."""
        return cls(
            ctx,
            fit.verdict,
            fit.gpu_memory_used_bytes,
            fit.system_ram_left_bytes,
            fit.speed.decode_tokens_per_second,
            fit.speed.decode_range(),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ctx": self.ctx,
            "verdict": self.verdict,
            "gpu_memory_used_bytes": self.gpu_memory_used_bytes,
            "system_ram_left_bytes": self.system_ram_left_bytes,
            "decode_tokens_per_second": round(self.decode_tps, 2),
            "decode_tokens_per_second_range": rounded_range(self.decode_range, 2),
        }


def curve_contexts(top: int, per_octave: int = 1, start: int = 4096) -> list[int]:
    """Contexts from `start` to `top` (always included), `per_octave` points per doubling,
    each a multiple of 256."""
    out: list[int] = []
    k = 0
    while True:
        ctx = int(start * 2 ** (k / per_octave)) // CTX_STEP * CTX_STEP
        if ctx >= top:
            break
        out.append(ctx)
        k += 1
    return [*out, top]


def context_curve(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    *,
    per_octave: int = 1,
    calibration: float | None = None,
) -> tuple[ContextPoint, ...]:
    """Device memory and RAM left from 4K to the model's maximum context, at this state."""
    top = n_ctx_train(spec) or 131072
    points = []
    for ctx in curve_contexts(top, per_octave):
        fit = evaluate_fit(
            spec, settings.with_changes(ctx_size=ctx), state, calibration=calibration
        )
        points.append(ContextPoint.of(ctx, fit))
    return tuple(points)


def recommend(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    *,
    calibration: float | None = None,
) -> Recommendation:
    """The fit at every BIOS step, the step to pick, the Linux GTT route and a context sweep.
    `calibration` is passed to every evaluate_fit (looked up once by the caller)."""
    m = state.machine
    steps = m.carve_out_steps or (0,)
    rows: list[StepRow] = []
    for carve in steps:
        st = replace(state, carve_out_bytes=carve)
        fit = evaluate_fit(spec, settings, st, calibration=calibration)
        rows.append(
            StepRow(
                carve_out_bytes=carve,
                fit=fit,
                gpu_left_bytes=fit.gpu_left_bytes,
                system_ram_left_bytes=fit.system_ram_left_bytes,
                max_clean_context=max_clean_context(spec, settings, st, calibration=calibration),
                max_loading_context=max_loading_context(
                    spec, settings, st, calibration=calibration
                ),
                decode_tps=fit.speed.decode_tokens_per_second,
            )
        )
    clean = [i for i, r in enumerate(rows) if r.fit.verdict == Verdict.FITS]
    index: int | None = None
    if clean:
        index = max(clean, key=lambda i: (rows[i].system_ram_left_bytes, rows[i].decode_tps))
    else:
        warn = [i for i, r in enumerate(rows) if r.fit.verdict == Verdict.FITS_WITH_WARNINGS]
        if warn:
            index = max(warn, key=lambda i: rows[i].decode_tps)
    alt = None
    if state.os == OsName.LINUX and m.carve_out_steps and not m.discrete:
        carve = min(m.carve_out_steps)
        visible = m.total_ram_bytes - carve
        gtt = max((visible - GTT_OS_RESERVE) // GiB * GiB, 0)
        st = replace(state, carve_out_bytes=carve, gtt_bytes=gtt)
        alt = GttAlternative(
            carve,
            gtt,
            kernel_param_line(gtt),
            evaluate_fit(spec, settings, st, calibration=calibration),
        )
    sweep: list[tuple[int, Verdict]] = []
    if index is not None:
        st = replace(state, carve_out_bytes=rows[index].carve_out_bytes)
        top = n_ctx_train(spec) or 131072
        ctx = 4096
        while ctx <= top:
            fit = evaluate_fit(
                spec, settings.with_changes(ctx_size=ctx), st, calibration=calibration
            )
            sweep.append((ctx, fit.verdict))
            ctx *= 2
    # Expert offload at the recommended step (the given carve-out when no step runs it).
    at = replace(state, carve_out_bytes=rows[index].carve_out_bytes) if index is not None else state
    moe = expert_offload(spec, settings, at, calibration=calibration)
    return Recommendation(tuple(rows), index, alt, tuple(sweep), moe)
