"""Advice as actions: each item is one change (a carve-out step, a context, a KV cache type, a
quant, expert offload, a runtime option) with the flags that apply it and the answer that change
gives, found by running the fit with it.

An item is offered only when it makes the answer better: a better verdict, or the same verdict
with more RAM left for the OS. None leads to "will not fit". The changes are tried in the order
a person would try them without rebooting (context, KV cache, expert offload, quant, runtime
option), the carve-out last: it needs a trip into the BIOS. Among items with the same verdict
the earlier kind comes first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from vramtui.core.advice.backend import BackendChoice, backend_choice
from vramtui.core.advice.moe_offload import expert_offload
from vramtui.core.catalog.entries import catalog_entry, split_catalog_ref
from vramtui.core.errors import VramtuiError
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.sizes import format_bytes, short_tokens
from vramtui.core.speed.predict import rounded_range
from vramtui.core.vocab import AdviceKind, Verdict

# Context advice goes down in whole KiB of tokens and stops at 2K: below that no chat fits.
CTX_GRAIN = 1024
CTX_FLOOR = 2048
# A quantized V cache needs flash attention in llama.cpp (llama-context.cpp refuses
# "V cache quantization requires flash_attn"); q8_0 halves the cache at a quality cost the
# llama.cpp PR #7412 perplexity tables put near zero.
KV_QUANT = "q8_0"

# With the same verdict a change must free at least this much RAM to be worth a line: a guess
# (no measurement says where a person stops caring), about one browser window's worth.
MIN_RAM_GAIN = 1 << 30

_RANK = {Verdict.FITS: 0, Verdict.FITS_WITH_WARNINGS: 1, Verdict.WILL_NOT_FIT: 2}

FitFn = Callable[[ModelSpec, RuntimeSettings, MachineState], FitResult]


@dataclass(frozen=True)
class Advice:
    """One change and the answer it gives. `args` are the flags that apply it, as `check`
    takes them; a quant change names the model reference to use instead (`model_ref`)."""

    kind: AdviceKind
    args: tuple[str, ...]
    fit: FitResult
    value: str  # the new value in words a person reads: "16K", "q8_0", "Q5_K_M", "32 GiB"
    carve_out_bytes: int
    model_ref: str | None = None
    backend_choice: BackendChoice | None = None  # the comparison behind a backend item

    def to_json(self, summary: str) -> dict[str, Any]:
        fit = self.fit
        extra: dict[str, Any] = {}
        if (c := self.backend_choice) is not None:
            extra["backend_choice"] = {
                "current": c.current,
                "other": c.other,
                "decode_tokens_per_second": [round(v, 2) for v in c.decode],
                "decode_tokens_per_second_range": [rounded_range(r, 2) for r in c.decode_ranges],
                "long_prompt_tokens": c.long_prompt,
                "long_prompt_prefill_s": [round(v, 2) for v in c.long_prefill_s],
            }
        return {
            **extra,
            "kind": self.kind,
            "args": list(self.args),
            "summary": summary,
            "verdict": fit.verdict,
            "reasons": list(fit.codes),
            "system_ram_left_bytes": fit.system_ram_left_bytes if fit.runs else None,
            "decode_tokens_per_second": (
                round(fit.speed.decode_tokens_per_second, 2) if fit.runs else None
            ),
            "decode_tokens_per_second_range": fit.speed.decode_range_json() if fit.runs else None,
        }


def better(new: FitResult, old: FitResult) -> bool:
    """A better verdict, or the same one (that runs) with MIN_RAM_GAIN more RAM left."""
    if _RANK[new.verdict] != _RANK[old.verdict]:
        return _RANK[new.verdict] < _RANK[old.verdict]
    return new.runs and new.system_ram_left_bytes >= old.system_ram_left_bytes + MIN_RAM_GAIN


def advise(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    fit: FitResult,
    *,
    model_ref: str = "",
    fit_fn: FitFn | None = None,
) -> tuple[Advice, ...]:
    """The changes that make `fit` better, each checked by the fit, best answer first.
    `fit_fn(spec, settings, state)` is the caller's fit (its calibration and prompt)."""
    run: FitFn = fit_fn or evaluate_fit
    backend = _backend(spec, settings, state, fit, run)
    if fit.verdict == Verdict.FITS:
        return (backend,) if backend else ()
    found = [
        _shorter_context(spec, settings, state, fit, run),
        _quantized_kv(spec, settings, state, fit, run),
        _expert_offload(spec, settings, state, fit),
        _smaller_quant(spec, settings, state, fit, run, model_ref=model_ref),
        _carve_out(spec, settings, state, fit, run),
    ]
    items = [a for a in found if a is not None and better(a.fit, fit) and a.fit.runs]
    if backend is not None:  # offered for speed, whatever it does to the verdict and RAM
        items.append(backend)
    order = list(AdviceKind)
    return tuple(sorted(items, key=lambda a: (_RANK[a.fit.verdict], order.index(a.kind))))


def _backend(
    spec: ModelSpec, settings: RuntimeSettings, state: MachineState, fit: FitResult, run: FitFn
) -> Advice | None:
    """Vulkan or ROCm on Strix Halo: the other one where the model says it is faster in decode
    or in a long prompt's prefill (core/advice/backend.py)."""
    found = backend_choice(spec, settings, state, fit, run)
    if found is None:
        return None
    choice, new = found
    if _RANK[new.verdict] > _RANK[fit.verdict]:
        return None
    args = ("--backend", choice.other.value)
    return Advice(
        AdviceKind.BACKEND,
        args,
        new,
        choice.other.value,
        state.carve_out_bytes,
        backend_choice=choice,
    )


def _shorter_context(
    spec: ModelSpec, settings: RuntimeSettings, state: MachineState, fit: FitResult, run: FitFn
) -> Advice | None:
    """The largest context (in whole K) whose answer is better than the current one."""
    ctx = fit.breakdown.n_ctx
    if ctx <= CTX_FLOOR:
        return None

    def at(n: int) -> FitResult:
        return run(spec, settings.with_changes(ctx_size=n), state)

    floor = at(CTX_FLOOR)
    target = _RANK[floor.verdict]
    if target >= _RANK[fit.verdict]:  # a shorter context is advised only for a better verdict
        return None
    lo, hi = CTX_FLOOR // CTX_GRAIN, (ctx - 1) // CTX_GRAIN
    best = floor
    while lo < hi:  # memory grows with context: the verdict is monotone in it
        mid = (lo + hi + 1) // 2
        f = at(mid * CTX_GRAIN)
        if _RANK[f.verdict] <= target:
            lo, best = mid, f
        else:
            hi = mid - 1
    n = lo * CTX_GRAIN
    return Advice(AdviceKind.CONTEXT, ("-c", str(n)), best, short_tokens(n), state.carve_out_bytes)


def _quantized_kv(
    spec: ModelSpec, settings: RuntimeSettings, state: MachineState, fit: FitResult, run: FitFn
) -> Advice | None:
    if settings.cache_type_k != "f16" or settings.cache_type_v != "f16":
        return None
    changes: dict[str, Any] = {"cache_type_k": KV_QUANT, "cache_type_v": KV_QUANT}
    args = ["-ctk", KV_QUANT, "-ctv", KV_QUANT]
    if settings.flash_attn != "on":
        changes["flash_attn"] = "on"
        args += ["-fa", "on"]
    new = run(spec, settings.with_changes(**changes), state)
    return Advice(AdviceKind.KV_CACHE, tuple(args), new, KV_QUANT, state.carve_out_bytes)


def _expert_offload(
    spec: ModelSpec, settings: RuntimeSettings, state: MachineState, fit: FitResult
) -> Advice | None:
    found = expert_offload(spec, settings, state)
    if found is None:
        return None
    n = found.n_cpu_moe
    return Advice(
        AdviceKind.EXPERT_OFFLOAD, ("--n-cpu-moe", str(n)), found.fit, str(n), state.carve_out_bytes
    )


def _smaller_quant(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    fit: FitResult,
    run: FitFn,
    *,
    model_ref: str,
) -> Advice | None:
    """The largest smaller quant of the same catalog model whose answer is better."""
    entry = catalog_entry(model_ref) if model_ref else None
    if entry is None:
        return None
    model_id, _ = split_catalog_ref(model_ref)
    with_projector = spec.mmproj is not None
    variants = [_catalog_variant(f"{model_id}:{q.name}", with_projector) for q in entry.quants]
    smaller = [v for v in variants if v is not None and v[1].weights_bytes < spec.weights_bytes]
    for ref, other in sorted(smaller, key=lambda v: v[1].weights_bytes, reverse=True):
        new = run(other, settings, state)
        if better(new, fit) and new.runs:
            name = ref.rsplit(":", 1)[1]
            return Advice(AdviceKind.QUANT, (ref,), new, name, state.carve_out_bytes, model_ref=ref)
    return None


@lru_cache(maxsize=256)
def _catalog_variant(ref: str, with_projector: bool) -> tuple[str, ModelSpec] | None:
    """A catalog quant's spec, synthesized once per process (the app asks on every change)."""
    from vramtui.core.model.source import open_model  # noqa: PLC0415 - only for catalog models

    try:
        return ref, open_model(ref, mmproj="auto" if with_projector else "none")
    except VramtuiError:
        return None


def _carve_out(
    spec: ModelSpec, settings: RuntimeSettings, state: MachineState, fit: FitResult, run: FitFn
) -> Advice | None:
    """The BIOS step with the best answer, by recommend's rule: the best verdict; among clean
    steps the one that leaves the OS the most RAM, among the others the fastest."""
    steps = [s for s in state.machine.carve_out_steps if s != state.carve_out_bytes]
    answers = [(s, run(spec, settings, replace(state, carve_out_bytes=s))) for s in steps]
    runs = [(s, f) for s, f in answers if f.runs]
    if not runs:
        return None

    def rank(answer: tuple[int, FitResult]) -> tuple[int, int, float]:
        f = answer[1]
        clean = f.verdict == Verdict.FITS
        ram = f.system_ram_left_bytes // MIN_RAM_GAIN if clean else 0
        return (_RANK[f.verdict], -ram, -f.speed.decode_tokens_per_second)

    step, new = min(runs, key=rank)
    label = format_bytes(step, 0 if step >= 1 << 30 else 1)
    return Advice(AdviceKind.CARVE_OUT, ("--carve-out", _size_flag(step)), new, label, step)


def _size_flag(n_bytes: int) -> str:
    """A carve-out as `--carve-out` takes it: whole GiB as `32G`, else MiB as `512M`."""
    if n_bytes % (1 << 30) == 0:
        return f"{n_bytes >> 30}G"
    return f"{n_bytes >> 20}M"
