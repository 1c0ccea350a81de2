"""Scenario presets from the app: save, load, export, and a shareable text for the clipboard.

The files and their validation belong to `tui.core.machine.scenario`; this module only turns the
screen's `Choice` into a scenario and back, and asks the user for names and paths.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tui.app.screens.dialogs import AskText, PickOne
from tui.app.state import Choice, Evaluation
from tui.core.errors import VramtuiError
from tui.core.machine.fit import MachineState
from tui.core.machine.scenario import (
    Scenario,
    export_scenario,
    list_scenarios,
    load_scenario,
    save_scenario,
    scenario_machine_state,
    scenario_to_toml,
)
from tui.core.sizes import GiB, format_gib, format_tokens

if TYPE_CHECKING:
    from tui.app.screens.main import MainScreen

VERDICT_WORDS = {
    "fits": "fits",
    "fits_with_warnings": "fits, with warnings",
    "will_not_fit": "will not fit",
}


def _size_arg(n_bytes: int) -> str:
    if n_bytes % GiB == 0:
        return f"{n_bytes // GiB}G"
    return f"{n_bytes // (1024 * 1024)}M"


def check_command(choice: Choice) -> str:
    """The `vramtui check` line that reproduces this answer."""
    state = choice.machine
    s = choice.settings
    parts = [
        "vramtui check",
        choice.model_ref,
        f"--machine {state.machine.id}",
        f"--carve-out {_size_arg(state.carve_out_bytes)}",
        f"--os {state.os}",
        f"-c {s.ctx_size}",
    ]
    if s.cache_type_k != "f16":
        parts.append(f"-ctk {s.cache_type_k}")
    if s.cache_type_v != "f16":
        parts.append(f"-ctv {s.cache_type_v}")
    if s.flash_attn != "auto":
        parts.append(f"-fa {s.flash_attn}")
    if s.parallel != 1:
        parts.append(f"-np {s.parallel}")
    if s.n_gpu_layers is not None:
        parts.append(f"-ngl {s.n_gpu_layers}")
    return " ".join(parts)


def share_text(evaluation: Evaluation) -> str:
    """A few lines a user can paste in a chat or an issue."""
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
        lines.append(f"  verdict: {VERDICT_WORDS.get(fit.verdict, fit.verdict)}")
        lines.extend(f"  - {reason.message}" for reason in fit.reasons)
        lines.append(
            f"  GPU dedicated {format_gib(fit.dedicated_used_bytes)}, shared "
            f"{format_gib(fit.shared_used_bytes)}, RAM left for the OS "
            f"{format_gib(fit.system_ram_left_bytes)}"
        )
        if fit.speed is not None:
            lines.append(
                f"  ~{fit.speed.decode_tokens_per_second:.1f} tok/s, first token in "
                f"{fit.speed.time_to_first_token_s:.2f} s"
            )
    lines.append(f"  {check_command(choice)}")
    lines.append("  (estimated by vramtui; the preset below imports with `vramtui preset import`)")
    lines.append("")
    lines.append(scenario_to_toml(scenario_from_choice(choice, "shared")).rstrip())
    return "\n".join(lines)


def scenario_from_choice(choice: Choice, name: str) -> Scenario:
    """The core's scenario record for this choice."""
    state = choice.machine
    return Scenario(
        model_ref=choice.model_ref,
        machine_id=state.machine.id,
        carve_out_bytes=state.carve_out_bytes,
        os=state.os,
        settings=choice.settings,
        mmproj="auto" if choice.projector else "none",
        gtt_bytes=state.gtt_bytes,
        wired_limit_bytes=state.wired_limit_bytes,
        os_baseline_bytes=state.os_baseline_bytes,
        runtime=state.runtime,
        backend=state.backend,
        name=name,
    )


def state_from_scenario(scenario: Scenario) -> MachineState:
    """The machine state a scenario describes (the core's rule, shared with the CLI)."""
    return scenario_machine_state(scenario)


def choice_from_scenario(scenario: Scenario, current: Choice) -> Choice:
    """Apply a loaded scenario to the current choice (the model is reopened by the caller)."""
    state = state_from_scenario(scenario)
    return replace(
        current,
        settings=scenario.settings,
        machine=state,
        projector=scenario.mmproj != "none",
    )


def _preset_name(text: str) -> str:
    """A valid preset name from free text: lower case letters, digits, '.', '_', '-'."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:64]


def save_flow(screen: MainScreen) -> None:
    """Ask for a name, then save (asking before overwriting a preset of that name)."""
    choice = screen.choice
    if choice is None:
        return

    def save(name: str, force: bool) -> None:
        try:
            path = save_scenario(scenario_from_choice(choice, name), force=force)
        except VramtuiError as err:
            screen.notify(str(err), title="Not saved", severity="error")
            return
        screen.notify(f"Saved preset {name!r} ({path})", timeout=4)

    def named(name: str | None) -> None:
        if not name:
            return
        if name in {s.name for s in list_scenarios()}:

            def confirmed(answer: str | None) -> None:
                if answer == "overwrite":
                    save(name, True)

            screen.app.push_screen(
                PickOne(
                    f"A preset named {name!r} exists.",
                    [("overwrite", "Overwrite it"), ("keep", "Keep the old one")],
                ),
                confirmed,
            )
            return
        save(name, False)

    base = choice.model_ref.split("/")[-1].removesuffix(".gguf")
    default = _preset_name(f"{base}-{_size_arg(choice.machine.carve_out_bytes)}")
    screen.app.push_screen(AskText("Save this scenario as a preset named:", value=default), named)


OPEN_FILE = "\x00open-file"


def load_flow(screen: MainScreen) -> None:
    """Pick a saved preset (or a file) and apply it."""
    items = [
        (item.name, item.name if item.error is None else f"{item.name}  (broken: {item.error})")
        for item in list_scenarios()
    ]
    items.append((OPEN_FILE, "Open a preset file…"))

    def picked(name: str | None) -> None:
        if name == OPEN_FILE:
            screen.app.push_screen(
                AskText("Preset file to load:", placeholder="~/friend-setup.toml"),
                lambda path: apply_preset(screen, path) if path else None,
            )
        elif name:
            apply_preset(screen, name)

    screen.app.push_screen(PickOne("Load a scenario preset", items), picked)


def apply_preset(screen: MainScreen, name_or_file: str) -> None:
    """Load a preset by name or file and make it the current choice."""
    choice = screen.choice
    if choice is None:
        return
    try:
        scenario = load_scenario(name_or_file)
        new = choice_from_scenario(scenario, choice)
    except VramtuiError as err:
        screen.notify(str(err), title="Preset not loaded", severity="error")
        return
    screen.update_choice(new)
    if scenario.model_ref != choice.model_ref:
        screen.open_model(scenario.model_ref)
    screen.notify(f"Loaded preset {name_or_file!r}", timeout=3)


def export_flow(screen: MainScreen) -> None:
    """Write the current scenario to a TOML file a friend can `vramtui preset import`."""
    choice = screen.choice
    if choice is None:
        return

    def chosen(path_text: str | None) -> None:
        if not path_text:
            return
        path = Path(path_text).expanduser()
        try:
            name = _preset_name(path.stem) or "scenario"
            path = export_scenario(scenario_from_choice(choice, name), path, force=True)
        except (VramtuiError, OSError) as err:
            screen.notify(str(err), title="Not exported", severity="error")
            return
        screen.notify(f"Exported to {path}", timeout=4)

    screen.app.push_screen(
        AskText("Export this scenario to the file:", value="vramtui-scenario.toml"), chosen
    )
