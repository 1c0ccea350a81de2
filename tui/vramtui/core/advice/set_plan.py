"""The plan for a set of models loaded at once (vramtui.core.fit.set): which carve-out, which
quant of each, which contexts, and the commands, every choice checked by the set's fit.

- The carve-out: the current one when the set already runs cleanly there (no reboot for
  nothing), else the step whose set fit is best by `recommend`'s rule (a clean fit with the
  most RAM left to the OS, else the fastest that runs with warnings).
- The quants: as asked; when no step runs the set, the largest model that has a smaller
  quant in the bundled catalog steps down one quant at a time (the biggest model first, since
  it frees the most) until a step runs the set or nothing smaller is left.
- The contexts: each model's own (its `-c`, else the default fitted to the model).
- The commands: one `llama-server` per model on its own port (llama-swap and LM Studio run
  one engine per model alike), and a llama-swap config whose `matrix` set lets them run
  together (llama-swap config.example.yaml, "matrix": `&` means the models run together).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from vramtui.core.advice.plan import command_line, llama_server_argv
from vramtui.core.advice.platform_steps import PlatformStep, platform_steps
from vramtui.core.catalog.entries import catalog_entry, split_catalog_ref
from vramtui.core.errors import VramtuiError
from vramtui.core.fit.fit import FitResult
from vramtui.core.fit.set import SetFit, SetMember, evaluate_set
from vramtui.core.fit.types import Reason
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.vocab import Severity, Verdict

FIRST_PORT = 8080  # llama-server's own default port; the next models take the ports after it
MAX_QUANT_STEPS = 24  # quant swaps tried before the plan says nothing runs the set
_RANK = {Verdict.FITS: 0, Verdict.FITS_WITH_WARNINGS: 1, Verdict.WILL_NOT_FIT: 2}


@dataclass(frozen=True)
class SetPlan:
    """The plan's figures; vramtui.present.plan_words says them in words."""

    machine_id: str
    machine_name: str
    os: str
    has_carve_out: bool
    current_carve_out_bytes: int
    carve_out_bytes: int | None  # to set; None: no step runs the set
    reboot_needed: bool
    refs: tuple[str, ...]  # each model as the plan runs it (a smaller quant where one was picked)
    asked: tuple[str, ...]  # each model as asked
    set_fit: SetFit  # at the plan's carve-out (at the current one when nothing runs)
    commands: tuple[str, ...]  # one llama-server line per model, ports FIRST_PORT, +1, ...
    llama_swap: str  # a llama-swap config that runs them together
    current_source: str = "detected"  # how the current carve-out is known (as Plan's)
    platform: tuple[PlatformStep, ...] = ()  # the platform's own settings (as Plan's)

    @property
    def verdict(self) -> Verdict:
        return (
            self.set_fit.fit.verdict if self.carve_out_bytes is not None else Verdict.WILL_NOT_FIT
        )

    @property
    def blocker(self) -> Reason | None:
        return next((r for r in self.set_fit.fit.reasons if r.severity == Severity.ERROR), None)

    def to_json(self) -> dict[str, Any]:
        fit = self.set_fit.fit
        runs = self.carve_out_bytes is not None
        return {
            "machine": self.machine_id,
            "machine_name": self.machine_name,
            "os": self.os,
            "verdict": self.verdict,
            "reasons": [str(c) for c in fit.codes],
            "has_carve_out": self.has_carve_out,
            "current_carve_out_bytes": self.current_carve_out_bytes,
            "current_carve_out_source": self.current_source,
            "carve_out_bytes": self.carve_out_bytes,
            "platform_steps": [p.to_json() for p in self.platform],
            "reboot_needed": self.reboot_needed,
            "system_ram_left_bytes": fit.system_ram_left_bytes if runs else None,
            "models": [
                {**m, "asked": asked}
                for m, asked in zip(self.set_fit.models_json(), self.asked, strict=True)
            ],
            "commands": {"llama_server": list(self.commands), "llama_swap": self.llama_swap}
            if runs
            else None,
        }


def _best_step(
    members: tuple[SetMember, ...], state: MachineState, steps: list[int], calibration: float | None
) -> tuple[int, SetFit] | None:
    """The step that runs the set best (module doc), the current one first when it is clean."""
    now = evaluate_set(members, state, calibration=calibration)
    if now.fit.verdict == Verdict.FITS or not steps:
        return (state.carve_out_bytes, now) if now.fit.runs else None
    answers = [(state.carve_out_bytes, now)] + [
        (s, evaluate_set(members, replace(state, carve_out_bytes=s), calibration=calibration))
        for s in steps
        if s != state.carve_out_bytes
    ]
    runs = [(s, f) for s, f in answers if f.fit.runs]
    if not runs:
        return None
    return min(runs, key=lambda answer: rank_step(answer[1].fit))


def rank_step(f: FitResult) -> tuple[int, int, float]:
    """`recommend`'s order of steps: the best verdict; among clean ones the most RAM left to
    the OS (in whole GiB), among the others the fastest."""
    clean = f.verdict == Verdict.FITS
    return (
        _RANK[f.verdict],
        -(f.system_ram_left_bytes >> 30) if clean else 0,
        -f.speed.decode_tokens_per_second,
    )


@lru_cache(maxsize=64)
def _smaller(ref: str, weights_bytes: int, with_projector: bool) -> tuple[str, ModelSpec] | None:
    """The next smaller quant of a catalog model (None: not a catalog model, or none left)."""
    from vramtui.core.model.source import open_model  # noqa: PLC0415 - only for catalog models

    entry = catalog_entry(ref)
    if entry is None:
        return None
    model_id, _ = split_catalog_ref(ref)
    found: list[tuple[str, ModelSpec]] = []
    for q in entry.quants:
        other = f"{model_id}:{q.name}"
        try:
            spec = open_model(other, mmproj="auto" if with_projector else "none")
        except VramtuiError:
            continue
        if spec.weights_bytes < weights_bytes:
            found.append((other, spec))
    return max(found, key=lambda v: v[1].weights_bytes, default=None)


def _step_down(members: tuple[SetMember, ...]) -> tuple[SetMember, ...] | None:
    """The set with its biggest model that has a smaller catalog quant one quant smaller."""
    order = sorted(range(len(members)), key=lambda i: -members[i].spec.weights_bytes)
    for i in order:
        m = members[i]
        smaller = _smaller(m.model_ref, m.spec.weights_bytes, m.spec.mmproj is not None)
        if smaller is not None:
            ref, spec = smaller
            return (*members[:i], SetMember(spec, m.settings, ref), *members[i + 1 :])
    return None


def _key(ref: str, taken: set[str]) -> str:
    """A llama-swap model id from the reference: the catalog id or file stem, made unique."""
    base = ref.rsplit("/", 1)[-1].removesuffix(".gguf").split(":", 1)[0] or "model"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


def set_commands(the_set: SetFit, members: tuple[SetMember, ...]) -> tuple[list[str], str]:
    """One llama-server line per model on its own port, and the llama-swap config."""
    lines: list[str] = []
    yaml = ["models:"]
    taken: set[str] = set()
    keys = []
    for i, (member, share) in enumerate(zip(members, the_set.members, strict=True)):
        own = replace(the_set.fit, breakdown=share.breakdown, settings=share.settings)
        argv = llama_server_argv(member.spec, own)
        lines.append(command_line([*argv, "--port", str(FIRST_PORT + i)]))
        key = _key(member.model_ref, taken)
        keys.append(key)
        swap = f"{argv[0]} --port ${{PORT}} {command_line(argv[1:])}"  # llama-swap's macro
        yaml += [f'  "{key}":', f"    cmd: {swap}"]
    names = [f"m{i + 1}" for i in range(len(keys))]
    yaml += ["matrix:", "  vars:"]
    yaml += [f"    {n}: {k}" for n, k in zip(names, keys, strict=True)]
    yaml += ["  sets:", f'    together: "{" & ".join(names)}"']
    return lines, "\n".join(yaml)


def build_set_plan(
    members: tuple[SetMember, ...],
    state: MachineState,
    *,
    calibration: float | None = None,
    current_source: str = "detected",
) -> SetPlan:
    """The plan for the set on `state` (whose carve-out is the current one, known as
    `current_source` says: detected, given, preset or default)."""
    m = state.machine
    has_carve = bool(m.carve_out_steps) and not m.discrete
    steps = list(m.carve_out_steps) if has_carve else []
    asked = tuple(x.model_ref for x in members)
    tried: tuple[SetMember, ...] | None = members
    best = None
    for _ in range(MAX_QUANT_STEPS):
        if tried is None:
            break
        best = _best_step(tried, state, steps, calibration)
        if best is not None:
            members = tried
            break
        tried = _step_down(tried)
    if best is None:
        fit = evaluate_set(members, state, calibration=calibration)
        return SetPlan(
            *(m.id, m.name, str(state.os), has_carve, state.carve_out_bytes),
            carve_out_bytes=None,
            reboot_needed=False,
            refs=asked,
            asked=asked,
            set_fit=fit,
            commands=(),
            llama_swap="",
            current_source=current_source,
            platform=_platform(members, state, None, fit),
        )
    target, fit = best
    lines, swap = set_commands(fit, members)
    return SetPlan(
        *(m.id, m.name, str(state.os), has_carve, state.carve_out_bytes),
        carve_out_bytes=target,
        reboot_needed=has_carve and target != state.carve_out_bytes,
        refs=tuple(x.model_ref for x in members),
        asked=asked,
        set_fit=fit,
        commands=tuple(lines),
        llama_swap=swap,
        current_source=current_source,
        platform=_platform(members, state, target, fit),
    )


def _platform(
    members: tuple[SetMember, ...], state: MachineState, target: int | None, the_set: SetFit
) -> tuple[PlatformStep, ...]:
    """The platform's steps for the set: the first model's, against the set's fit (the BIOS
    size, the GTT limit and the wired limit are the machine's, whatever runs on it)."""
    first = members[0]
    return platform_steps(
        first.spec,
        first.settings,
        state,
        carve_out_bytes=target,
        gtt_bytes=state.gtt_bytes,
        fit=the_set.fit if target is not None else None,
    )
