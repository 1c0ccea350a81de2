"""Vulkan or ROCm on Strix Halo, for this model and context: the other backend's fit, with decode
at this context and the time to prefill a long prompt on each.

llama.cpp runs both on the Radeon 8060S, and the public rows disagree by figure: on the kyuz0
toolbox rows RADV decodes faster at short context while ROCm prefills faster deep into a long
context (`python -m bench speed` prints how often the model picks the measured winner). The
advice names the other backend where it is faster by MARGIN in one of the two figures, and
both figures for both, so a person with short prompts and one with long documents each see
their case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.speed.bands import prefill_build_factor
from vramtui.core.speed.predict import prefill_seconds
from vramtui.core.vocab import Backend, MachineKind

# A speed-up worth a line: a guess for the words (no measurement says where a person switches),
# well inside the held-back spread of either backend, so the advice says "faster by the model",
# with both ranges beside it.
MARGIN = 0.10
# The long prompt prefill is timed at: the context, up to 32K tokens (the kyuz0 rows' depth).
LONG_PROMPT = 32768
PAIR = (Backend.VULKAN, Backend.ROCM)


@dataclass(frozen=True)
class BackendChoice:
    """This backend's and the other's decode (tok/s) and seconds to prefill `long_prompt`."""

    current: Backend
    other: Backend
    decode: tuple[float, float]  # (current, other)
    long_prompt: int
    long_prefill_s: tuple[float, float]  # (current, other)
    # decode's range (tok/s) beside each figure, (current, other); None for a class with none
    decode_ranges: tuple[tuple[float, float] | None, ...] = ()

    @property
    def other_decodes_faster(self) -> bool:
        return self.decode[1] >= self.decode[0] * (1 + MARGIN)

    @property
    def other_prefills_faster(self) -> bool:
        return self.long_prefill_s[1] * (1 + MARGIN) <= self.long_prefill_s[0]


def other_backend(state: MachineState) -> Backend | None:
    """The other of Vulkan and ROCm on a Strix Halo machine that runs both, else None."""
    if state.machine.kind != MachineKind.STRIX_HALO:
        return None
    current = state.resolved_backend
    if current not in PAIR:
        return None
    other = PAIR[1 - PAIR.index(current)]
    return other if other in state.machine.backends else None


def backend_choice(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    fit: FitResult,
    run_fit: Callable[[ModelSpec, RuntimeSettings, MachineState], FitResult],
) -> tuple[BackendChoice, FitResult] | None:
    """The comparison and the other backend's fit, where the other backend is faster by MARGIN
    in decode or in a long prompt's prefill (and the model runs on both)."""
    other = other_backend(state)
    if other is None or not fit.runs:
        return None
    new = run_fit(spec, settings, replace(state, backend=other))
    if not new.runs or fit.speed.inputs is None or new.speed.inputs is None:
        return None
    n = min(fit.breakdown.n_ctx or LONG_PROMPT, LONG_PROMPT)
    build = settings.llama_build or None

    def long_prefill(f: FitResult) -> float:
        inp = f.speed.inputs
        assert inp is not None
        factor = prefill_build_factor(inp.key, build, settings.rocm_release)
        return prefill_seconds(inp, n) / factor

    choice = BackendChoice(
        current=state.resolved_backend,
        other=other,
        decode=(fit.speed.decode_tokens_per_second, new.speed.decode_tokens_per_second),
        long_prompt=n,
        long_prefill_s=(long_prefill(fit), long_prefill(new)),
        decode_ranges=(fit.speed.decode_range(), new.speed.decode_range()),
    )
    if choice.other_decodes_faster or choice.other_prefills_faster:
        return choice, new
    return None
