"""Which BIOS carve-out to reboot into: the fit at every step, and the one to pick.

Recommended: among the steps where the model runs cleanly (verdict "fits"), the one that leaves
the OS the most RAM; if none runs cleanly, the warning-only step with the fastest decode.
On Linux the small-carve-out + GTT alternative is offered too (AMD's own advice: keep the
carve-out small and raise the TTM/GTT limit; ROCm docs strixhalo.rst).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tui.core.estimate.settings import RuntimeSettings
from tui.core.machine.fit import (
    FitResult,
    MachineState,
    evaluate_fit,
    kernel_param_line,
    n_ctx_train,
)
from tui.core.model.spec import ModelSpec
from tui.core.sizes import GiB
from tui.core.vocab import Verdict

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

    def to_json(self) -> dict[str, Any]:
        return {
            "carve_out_bytes": self.carve_out_bytes,
            "verdict": self.fit.verdict,
            "reasons": list(self.fit.codes),
            "gpu_used_bytes": self.fit.dedicated_used_bytes + self.fit.shared_used_bytes,
            "gpu_left_bytes": self.gpu_left_bytes,
            "system_ram_left_bytes": self.system_ram_left_bytes,
            "max_clean_context": self.max_clean_context,
            "decode_tokens_per_second": round(self.decode_tps, 2),
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
            "system_ram_left_bytes": self.fit.system_ram_left_bytes,
            "decode_tokens_per_second": round(self.fit.speed.decode_tokens_per_second, 2),
        }


@dataclass(frozen=True)
class Recommendation:
    rows: tuple[StepRow, ...]
    recommended_index: int | None
    linux_gtt_alternative: GttAlternative | None
    context_sweep: tuple[tuple[int, Verdict], ...]  # (ctx, verdict) at the recommended step

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": [r.to_json() for r in self.rows],
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


def max_clean_context(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    *,
    calibration: float | None = None,
) -> int:
    """Largest context (a multiple of 256, up to the training context) with verdict "fits";
    0 if even 256 does not. Memory grows with context, so a binary search is exact."""
    top = n_ctx_train(spec) or 131072
    hi = top // CTX_STEP
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        fit = evaluate_fit(
            spec, settings.with_changes(ctx_size=mid * CTX_STEP), state, calibration=calibration
        )
        if fit.verdict == Verdict.FITS:
            lo = mid
        else:
            hi = mid - 1
    return lo * CTX_STEP


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
        rows.append(StepRow(
            carve_out_bytes=carve, fit=fit, gpu_left_bytes=fit.gpu_left_bytes,
            system_ram_left_bytes=fit.system_ram_left_bytes,
            max_clean_context=max_clean_context(spec, settings, st, calibration=calibration),
            decode_tps=fit.speed.decode_tokens_per_second,
        ))  # fmt: skip
    clean = [i for i, r in enumerate(rows) if r.fit.verdict == Verdict.FITS]
    index: int | None = None
    if clean:
        index = max(clean, key=lambda i: (rows[i].system_ram_left_bytes, rows[i].decode_tps))
    else:
        warn = [i for i, r in enumerate(rows) if r.fit.verdict == Verdict.FITS_WITH_WARNINGS]
        if warn:
            index = max(warn, key=lambda i: rows[i].decode_tps)
    alt = None
    if state.os == "linux" and m.carve_out_steps and not m.discrete:
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
    return Recommendation(tuple(rows), index, alt, tuple(sweep))
