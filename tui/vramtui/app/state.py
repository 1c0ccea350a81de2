"""What the main screen shows, as one immutable value, and the pure step from it to a verdict.

`Choice` is the user's whole question (model, runtime settings, machine state); the screen keeps
it in a reactive and replaces it on every change, so equal choices never recompute.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vramtui.core.advice.actions import Advice, advise
from vramtui.core.advice.recommend import ContextPoint, Recommendation, context_curve, recommend
from vramtui.core.advice.set_sweep import set_curve, set_steps
from vramtui.core.errors import VramtuiError
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.fit.set import SetFit, SetMember, evaluate_set
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.scenario.answer import check_answer
from vramtui.core.scenario.resolve import ResolvedScenario

# Context quick steps (tokens); the model's own maximum is added at the end.
CONTEXT_STEPS = (4096, 8192, 16384, 24576, 32768, 65536, 131072, 262144)


@dataclass(frozen=True)
class Choice:
    """The question: this model, with these settings, on this machine state."""

    model_ref: str
    spec: ModelSpec | None
    settings: RuntimeSettings
    machine: MachineState
    projector: bool = True  # count the multimodal projector (when the model has one)
    calibration: float | None = (
        None  # decode factor from the probe history, looked up by the screen
    )
    # Where the machine came from: "given", "preset", or "detected" (the machine the app runs on).
    machine_source: str = "given"
    use_calibration: bool = True  # the app's toggle: earlier probes of this model, or raw
    calibration_note: str = ""  # "calibrated x1.12 from 3 probes"
    # More models loaded at the same time (opened), in the order they start; () for one model.
    also: tuple[SetMember, ...] = ()

    def members(self) -> tuple[SetMember, ...]:
        """The whole set, this model first (empty while the model is not open)."""
        spec = self.effective_spec
        if spec is None:
            return ()
        return (SetMember(spec, self.settings, self.model_ref), *self.also)

    @property
    def effective_spec(self) -> ModelSpec | None:
        """The spec the estimate sees: without its projector when the user turned it off."""
        if self.spec is None or self.projector or self.spec.mmproj is None:
            return self.spec
        return replace(self.spec, mmproj=None)

    def with_settings(self, **changes: Any) -> Choice:
        return replace(self, settings=self.settings.with_changes(**changes))

    def with_machine(self, **changes: Any) -> Choice:
        return replace(self, machine=replace(self.machine, **changes))


@dataclass(frozen=True)
class Evaluation:
    """The answer for one `Choice`: a fit, or the one-line reason there is none."""

    choice: Choice
    fit: FitResult | None
    error: str = ""
    set_fit: SetFit | None = None  # the set's answer, when other models are loaded beside it


def evaluate(choice: Choice) -> Evaluation:
    """Run the (pure, fast) fit; a bad setting becomes a message, never an exception."""
    spec = choice.effective_spec
    if spec is None:
        return Evaluation(choice, None, "loading the model…")
    try:
        if choice.also:
            found = evaluate_set(choice.members(), choice.machine, calibration=choice.calibration)
            return Evaluation(choice, found.fit, set_fit=found)
        return Evaluation(
            choice,
            evaluate_fit(spec, choice.settings, choice.machine, calibration=choice.calibration),
        )
    except VramtuiError as err:
        return Evaluation(choice, None, str(err))


def training_context(spec: ModelSpec | None) -> int | None:
    """The model's trained context length (`<arch>.context_length`), if the header has it."""
    if spec is None:
        return None
    value = spec.meta("context_length")
    return value if isinstance(value, int) and value > 0 else None


def context_steps(spec: ModelSpec | None) -> list[int]:
    """Quick context steps from 4K up to the model's maximum (which is always the last)."""
    top = training_context(spec)
    if top is None:
        return list(CONTEXT_STEPS)
    steps = [s for s in CONTEXT_STEPS if s < top]
    return [*steps, top]


@dataclass(frozen=True)
class Sweep:
    """The slower answers for one `Choice`, worked out off the screen's thread: every BIOS
    step side by side, and memory against context at the chosen step."""

    choice: Choice
    recommendation: Recommendation | None
    curve: tuple[ContextPoint, ...]
    advice: tuple[Advice, ...] = ()  # the changes that make this choice's answer better


def sweep_pending(choice: Choice, result: Sweep | None) -> bool:
    """A sweep for `choice` is still to come: it has a model, and the newest sweep is for an
    earlier question. Without a model nothing is being worked out (a failed open included)."""
    return choice.spec is not None and (result is None or result.choice != choice)


# Quarter-octave points: smooth enough for the chart, ~25 fits from 4K to 256K.
CURVE_POINTS_PER_OCTAVE = 4


def sweep(choice: Choice) -> Sweep:
    """The carve-out comparison and the context curve for `choice` (empty when it has no
    model yet or a setting is invalid: the banner already says why)."""
    spec = choice.effective_spec
    if spec is None:
        return Sweep(choice, None, ())
    if choice.also:
        return _set_sweep(choice, spec)
    try:
        rec = recommend(spec, choice.settings, choice.machine, calibration=choice.calibration)
        curve = context_curve(
            spec,
            choice.settings,
            choice.machine,
            per_octave=CURVE_POINTS_PER_OCTAVE,
            calibration=choice.calibration,
        )
        fit = evaluate_fit(spec, choice.settings, choice.machine, calibration=choice.calibration)

        def fit_with(sp: ModelSpec, se: RuntimeSettings, st: MachineState) -> FitResult:
            return evaluate_fit(sp, se, st, calibration=choice.calibration)

        items = advise(
            spec, choice.settings, choice.machine, fit, model_ref=choice.model_ref, fit_fn=fit_with
        )
    except VramtuiError:
        return Sweep(choice, None, ())
    return Sweep(choice, rec, curve, items)


def _set_sweep(choice: Choice, spec: ModelSpec) -> Sweep:
    """The sweep for a set: every step and the context curve from the set's fit, and the
    advice `check` gives for the set (vramtui.core.scenario.answer), so the faces agree."""
    members = choice.members()
    try:
        rec = set_steps(members, choice.machine, calibration=choice.calibration)
        curve = set_curve(
            members,
            choice.machine,
            per_octave=CURVE_POINTS_PER_OCTAVE,
            calibration=choice.calibration,
        )
        answer = check_answer(
            ResolvedScenario(choice.model_ref, "auto", choice.settings, choice.machine),
            spec,
            choice.settings,
            calibration=choice.calibration,
            others=choice.also,
        )
    except VramtuiError:
        return Sweep(choice, None, ())
    return Sweep(choice, rec, curve, answer.advice)
