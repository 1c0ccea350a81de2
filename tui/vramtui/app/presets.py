"""Scenario presets from the app: the screen's `Choice` as a complete scenario and back, the
`vramtui check` line that reproduces it, and a shareable text for the clipboard.

The files and their validation belong to `vramtui.core.scenario.files`, the way from a scenario
to a machine state to `vramtui.core.scenario.resolve`; the dialogs are `MainScreen`'s flows.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

from vramtui.app.state import Choice, Evaluation
from vramtui.core.hardware.embedded import definition_for
from vramtui.core.scenario.also import AlsoModel
from vramtui.core.scenario.files import Scenario, scenario_to_toml
from vramtui.core.scenario.resolve import ResolvedScenario, scenario_args, scenario_state
from vramtui.core.sizes import format_gib, format_tokens, size_arg
from vramtui.present.reasons import reason_text
from vramtui.present.speed_words import decode_words, figure_words
from vramtui.present.untrusted import plain

SHARE_LINE_LIMIT = 2000  # characters of one comment line (a long check command fits)


def resolved_from_choice(choice: Choice) -> ResolvedScenario:
    """The complete scenario the screen shows."""
    mmproj = "auto" if choice.projector else "none"
    also = tuple(
        AlsoModel(m.model_ref, m.settings, "auto" if m.spec.mmproj is not None else "none")
        for m in choice.also
    )
    return ResolvedScenario(choice.model_ref, mmproj, choice.settings, choice.machine, also=also)


def check_command(choice: Choice) -> str:
    """The `vramtui check` line that reproduces this answer exactly."""
    return shlex.join(["vramtui", "check", *scenario_args(resolved_from_choice(choice))])


def share_text(evaluation: Evaluation) -> str:
    """A text a user can paste in a chat or an issue, and that `vramtui preset import` takes
    as it is: the scenario's TOML, with the answer and the instructions as TOML comments above
    it (each comment one line of harmless characters, whatever the model's name holds)."""
    choice = evaluation.choice
    state = choice.machine
    name = choice.spec.name if choice.spec else choice.model_ref
    lines = [
        f"{name} on {state.machine.name}, {format_gib(state.carve_out_bytes, 0)} carve-out, "
        f"{state.os}, context {format_tokens(choice.settings.ctx_size)}:",
    ]
    fit = evaluation.fit
    if fit is None:
        lines.append(f"  {evaluation.error}")
    else:
        lines.append(f"  verdict: {fit.verdict.label}")
        lines.extend(f"  - {reason_text(reason)}" for reason in fit.reasons)
        # As in check: a model that will not fit has no speed and no RAM left to state.
        left = f", RAM left for the OS {format_gib(fit.system_ram_left_bytes)}" if fit.runs else ""
        # GPU memory as the screen's bars and Task Manager show it: the desktop's share in.
        lines.append(f"  GPU memory in use {format_gib(fit.gpu_memory_used_bytes)}{left}")
        if fit.runs:
            lines.append(
                f"  {decode_words(fit.speed)}, first token in {figure_words(fit.speed, 'ttft')}"
            )
    lines.append(f"  {check_command(choice)}")
    lines.append("  (estimated by vramtui)")
    lines.append("To import this scenario: save this whole text as a file, e.g. shared.toml,")
    lines.append("then run `vramtui preset import shared.toml`.")
    comments = "\n".join(f"# {plain(line, SHARE_LINE_LIMIT)}".rstrip() for line in lines)
    preset = default_preset_name(choice) or "shared"
    return comments + "\n\n" + scenario_to_toml(scenario_from_choice(choice, preset))


def scenario_from_choice(choice: Choice, name: str) -> Scenario:
    """The core's scenario record for this choice, every value written out; on the user's own
    machine it carries that machine's file, so it works for a friend too."""
    scenario = resolved_from_choice(choice).to_scenario(name)
    definition = definition_for(choice.machine.machine)
    return replace(scenario, machine_definition=definition) if definition else scenario


def choice_from_scenario(scenario: Scenario, current: Choice) -> Choice:
    """Apply a loaded scenario to the current choice (the model is reopened by the caller)."""
    return replace(
        current,
        settings=scenario.settings,
        machine=scenario_state(scenario),
        projector=scenario.mmproj != "none",
    )


def preset_name(text: str) -> str:
    """A valid preset name from free text: lower case letters, digits, '.', '_', '-'."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:64]


def default_preset_name(choice: Choice) -> str:
    base = choice.model_ref.split("/")[-1].removesuffix(".gguf")
    return preset_name(f"{base}-{size_arg(choice.machine.carve_out_bytes)}")
