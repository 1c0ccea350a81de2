"""Expert offload as an alternative to spilling: the smallest `--n-cpu-moe` that fits the GPU.

When a mixture-of-experts model does not fit the GPU's own memory, llama.cpp users keep the
expert tensors of the first N layers in system RAM (`--n-cpu-moe N`, common/arg.cpp) instead
of leaving whole layers on the CPU (discrete cards: `-ngl` below all) or spilling into shared
GPU memory (a carve-out on Windows). A token then reads only the routed experts' rows from RAM,
at the CPU's bandwidth, while attention and the shared tensors stay on the GPU.

`expert_offload` finds the smallest N whose GPU buffers fit: on a discrete card, all layers
offloaded within VRAM less llama.cpp's 1 GiB --fit margin (fit.py); on a carve-out, nothing
beyond the dedicated memory. Device memory falls as N grows, so a binary search over
0..n_layer is exact. The spill option is the plain fit; the faster of the two by predicted
decode speed is marked. Where the GPU's memory is system RAM with no carve-out (Apple, DGX
Spark, Linux GTT alone) keeping experts on the host frees nothing, so nothing is proposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.estimate.tensor_rules import EXPS_REGEX, compiled
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState, compute_pools
from vramtui.core.vocab import Backend, ReasonCode, Verdict

N_CPU_MOE = "n_cpu_moe"
SPILL = "spill"


@dataclass(frozen=True)
class ExpertOffload:
    """The `--n-cpu-moe` proposal beside the spill option (`vramtui.present.advice_words`
    says it in words)."""

    n_cpu_moe: int
    fit: FitResult  # with --n-cpu-moe N
    spill: FitResult  # the same settings without it
    faster: str  # "n_cpu_moe" | "spill"

    @property
    def decode_tps(self) -> float:
        return self.fit.speed.decode_tokens_per_second

    @property
    def spill_decode_tps(self) -> float | None:
        return self.spill.speed.decode_tokens_per_second if self.spill.runs else None

    def to_json(self) -> dict[str, Any]:
        spill = self.spill_decode_tps
        return {
            "n_cpu_moe": self.n_cpu_moe,
            "verdict": self.fit.verdict,
            "reasons": list(self.fit.codes),
            "decode_tokens_per_second": round(self.decode_tps, 2),
            "decode_tokens_per_second_range": self.fit.speed.decode_range_json(),
            "gpu_memory_used_bytes": self.fit.gpu_memory_used_bytes,
            "system_ram_left_bytes": self.fit.system_ram_left_bytes,
            "spill_verdict": self.spill.verdict,
            "spill_decode_tokens_per_second": round(spill, 2) if spill is not None else None,
            "spill_decode_tokens_per_second_range": (
                self.spill.speed.decode_range_json() if spill is not None else None
            ),
            "faster": self.faster,
        }


def is_moe(spec: ModelSpec) -> bool:
    """True when the model has expert tensors llama.cpp's --n-cpu-moe pattern matches."""
    pattern = compiled(EXPS_REGEX)
    return any(pattern.search(t.name) for t in spec.tensors)


def _on_device(fit: FitResult, state: MachineState) -> bool:
    """Every buffer in the GPU's own memory: all layers offloaded (discrete), nothing in
    shared memory beyond the carve-out (what the platform keeps there anyway aside)."""
    if ReasonCode.EXCEEDS_GPU_MEMORY in fit.codes:
        return False
    if state.machine.discrete:
        return fit.n_gpu_layers >= fit.breakdown.n_layers + 1
    return fit.spilled_bytes == 0


def _has_rules(s: RuntimeSettings) -> bool:
    return bool(s.override_tensor or s.cpu_moe or s.n_cpu_moe)


def _gains_nothing(state: MachineState) -> bool:
    pools = compute_pools(state)
    return state.machine.unified_memory and not pools.dedicated_bytes


def expert_offload(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    *,
    calibration: float | None = None,
) -> ExpertOffload | None:
    """The smallest --n-cpu-moe that fits the GPU, when the model does not fit as it is.
    None: not a MoE model, the CPU backend, placement rules already set, a machine where it
    gains nothing, the model fits already, or even every expert on the host does not fit."""
    if (
        state.resolved_backend == Backend.CPU
        or _has_rules(settings)
        or _gains_nothing(state)
        or not is_moe(spec)
    ):
        return None

    def fit_at(n: int) -> FitResult:
        s = settings.with_changes(n_cpu_moe=n) if n else settings
        return evaluate_fit(spec, s, state, calibration=calibration)

    spill = fit_at(0)
    if _on_device(spill, state):
        return None
    lo, hi = 1, spill.breakdown.n_layers
    best = fit_at(hi)
    if not _on_device(best, state) or best.verdict == Verdict.WILL_NOT_FIT:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        f = fit_at(mid)
        if _on_device(f, state) and f.verdict != Verdict.WILL_NOT_FIT:
            hi, best = mid, f
        else:
            lo = mid + 1
    spill_tps = spill.speed.decode_tokens_per_second if spill.runs else 0.0
    faster = N_CPU_MOE if best.speed.decode_tokens_per_second >= spill_tps else SPILL
    return ExpertOffload(hi, best, spill, faster)
