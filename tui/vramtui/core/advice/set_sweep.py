"""The app's slower answers for a set of models loaded at once (vramtui.core.fit.set): the set
at every BIOS step side by side, and memory against the first model's context with the others
as they are. The same rows and points `recommend` and `context_curve` give for one model, each
from the set's fit, so the table and the chart answer for the whole set."""

from __future__ import annotations

from dataclasses import replace

from vramtui.core.advice.recommend import ContextPoint, Recommendation, StepRow, curve_contexts
from vramtui.core.advice.set_plan import rank_step
from vramtui.core.fit.fit import n_ctx_train
from vramtui.core.fit.set import SetMember, evaluate_set
from vramtui.core.hardware.pools import MachineState


def set_steps(
    members: tuple[SetMember, ...], state: MachineState, *, calibration: float | None = None
) -> Recommendation:
    """The set's fit at every BIOS step and the step the set plan would pick (no context
    search and no GTT route: those are the single model's)."""
    steps = state.machine.carve_out_steps or (state.carve_out_bytes,)
    rows = []
    for carve in steps:
        fit = evaluate_set(
            members, replace(state, carve_out_bytes=carve), calibration=calibration
        ).fit
        rows.append(
            StepRow(
                carve,
                fit,
                fit.gpu_left_bytes,
                fit.system_ram_left_bytes,
                0,
                fit.speed.decode_tokens_per_second,
            )
        )
    runs = [i for i, r in enumerate(rows) if r.fit.runs]
    best = min(runs, key=lambda i: rank_step(rows[i].fit)) if runs else None
    return Recommendation(tuple(rows), best, None, ())


def set_curve(
    members: tuple[SetMember, ...],
    state: MachineState,
    *,
    per_octave: int = 1,
    calibration: float | None = None,
) -> tuple[ContextPoint, ...]:
    """GPU memory and RAM left of the whole set as the first model's context grows."""
    first = members[0]
    top = n_ctx_train(first.spec) or 131072
    points = []
    for ctx in curve_contexts(top, per_octave):
        head = replace(first, settings=first.settings.with_changes(ctx_size=ctx))
        fit = evaluate_set((head, *members[1:]), state, calibration=calibration).fit
        points.append(ContextPoint.of(ctx, fit))
    return tuple(points)
