"""The answer to a scenario as every face gives it: the fit (of the one model, or of the set
when other models are loaded beside it) and the advice checked by that same fit. The CLI's
`check` and the app both ask here, so they cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass

from vramtui.core.advice.actions import Advice, advise
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.fit.set import SetFit, SetMember, evaluate_set
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.scenario.also import open_members
from vramtui.core.scenario.resolve import ResolvedScenario
from vramtui.core.vocab import AdviceKind


@dataclass(frozen=True)
class CheckAnswer:
    fit: FitResult  # the set's when `set_fit` is given
    advice: tuple[Advice, ...]
    set_fit: SetFit | None = None  # None: one model alone


def check_answer(
    resolved: ResolvedScenario,
    spec: ModelSpec,
    settings: RuntimeSettings,
    *,
    prompt_tokens: int | None = None,
    calibration: float | None = None,
    image_size: tuple[int, int] | None = None,
    timeout: float | None = None,
    allow_redirects: bool = False,
    others: tuple[SetMember, ...] | None = None,
) -> CheckAnswer:
    """The fit and its advice. `others` are the set's other models already opened (else
    `resolved.also` is opened here). Advice for a set changes the first model and is checked
    by the set's fit; expert offload, which is checked for one model alone, is left out."""
    state = resolved.state
    if others is None:
        others = open_members(resolved.also, timeout=timeout, allow_redirects=allow_redirects)
    if not others:

        def fit_one(sp: ModelSpec, se: RuntimeSettings, st: MachineState) -> FitResult:
            return evaluate_fit(
                sp,
                se,
                st,
                prompt_tokens=prompt_tokens,
                calibration=calibration,
                image_size=image_size,
            )

        fit = fit_one(spec, settings, state)
        items = advise(spec, settings, state, fit, model_ref=resolved.model_ref, fit_fn=fit_one)
        return CheckAnswer(fit, items)
    ref = resolved.model_ref

    def set_with(sp: ModelSpec, se: RuntimeSettings, st: MachineState) -> SetFit:
        first = SetMember(sp, se, ref)
        return evaluate_set(
            (first, *others), st, prompt_tokens=prompt_tokens, calibration=calibration
        )

    whole = set_with(spec, settings, state)
    items = advise(
        spec,
        settings,
        state,
        whole.fit,
        model_ref=ref,
        fit_fn=lambda sp, se, st: set_with(sp, se, st).fit,
    )
    kept = tuple(a for a in items if a.kind != AdviceKind.EXPERT_OFFLOAD)
    return CheckAnswer(whole.fit, kept, whole)
