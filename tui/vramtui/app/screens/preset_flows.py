"""The app's preset round trips (save, load, export) as flat async flows.

Each flow runs inside a worker of the screen that started it (`@work` actions on `MainScreen`)
and asks its questions with `push_screen_wait`, so the code reads top to bottom. The screen is
seen through `ScenarioHost`, the little it must offer, so this module does not import it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from textual.app import App

from vramtui.app.presets import (
    choice_from_scenario,
    default_preset_name,
    preset_name,
    scenario_from_choice,
)
from vramtui.app.screens.dialogs import AskText, PickOne
from vramtui.app.state import Choice
from vramtui.core.errors import VramtuiError
from vramtui.core.hardware.embedded import embedded_machine, install_machine
from vramtui.core.scenario.also import open_members
from vramtui.core.scenario.files import (
    Scenario,
    export_scenario,
    list_scenarios,
    load_scenario,
    save_scenario,
)

OPEN_FILE = "\x00open-file"


class ScenarioHost(Protocol):
    """What a flow needs of the screen it runs for."""

    @property
    def app(self) -> App[None]: ...

    @property
    def latest(self) -> Choice | None: ...

    def update_choice(self, choice: Choice) -> None: ...

    def open_model(self, ref: str) -> None: ...

    def reload_machines(self) -> None: ...


async def save_flow(host: ScenarioHost) -> None:
    """Ask for a name, then save (asking before overwriting a preset of that name)."""
    choice = host.latest
    if choice is None:
        return
    app = host.app
    name = await app.push_screen_wait(
        AskText("Save this scenario as a preset named:", value=default_preset_name(choice))
    )
    if not name:
        return
    force = False
    if name in {s.name for s in list_scenarios()}:
        answer = await app.push_screen_wait(
            PickOne(
                f"A preset named {name!r} exists.",
                [("overwrite", "Overwrite it"), ("keep", "Keep the old one")],
            )
        )
        if answer != "overwrite":
            return
        force = True
    try:
        path = save_scenario(scenario_from_choice(choice, name), force=force)
    except VramtuiError as err:
        app.notify(str(err), title="Not saved", severity="error", markup=False)
        return
    app.notify(f"Saved preset {name!r} ({path})", timeout=4, markup=False)


async def load_flow(host: ScenarioHost) -> None:
    """Pick a saved preset (or a file) and apply it."""
    items = [
        (item.name, item.name if item.error is None else f"{item.name}  (broken: {item.error})")
        for item in list_scenarios()
    ]
    items.append((OPEN_FILE, "Open a preset file…"))
    app = host.app
    picked = await app.push_screen_wait(PickOne("Load a scenario preset", items))
    if picked == OPEN_FILE:
        picked = await app.push_screen_wait(
            AskText("Preset file to load:", placeholder="~/friend-setup.toml")
        )
    if picked:
        await apply_preset(host, picked)


async def _install_machine(host: ScenarioHost, scenario: Scenario) -> bool:
    """A preset that carries its own machine installs it first, asking before it replaces a
    different machine of that id. False: the user kept theirs, nothing is loaded."""
    definition = scenario.machine_definition
    if definition is None:
        return True
    source = scenario.name
    plan = embedded_machine(definition, source, scenario.machine_id)
    if not plan.needed:
        return True
    if plan.replaces:
        answer = await host.app.push_screen_wait(
            PickOne(
                f"This preset carries its own machine {scenario.machine_id!r}, and a different "
                f"one of that id is here ({plan.target}).",
                [("replace", "Replace it with the preset's machine"), ("keep", "Cancel")],
            )
        )
        if answer != "replace":
            return False
    path = install_machine(definition, source, scenario.machine_id, replace=True)
    host.reload_machines()
    host.app.notify(f"Installed machine {scenario.machine_id!r} ({path})", timeout=5, markup=False)
    return True


async def apply_preset(host: ScenarioHost, name_or_file: str) -> None:
    """Load a preset by name or file and make it the current choice."""
    choice = host.latest
    if choice is None:
        return
    try:
        scenario = load_scenario(name_or_file)
        if not await _install_machine(host, scenario):
            return
        # The preset's other models (a set): opened off the screen's thread, like any model.
        also = await asyncio.to_thread(open_members, scenario.also)
        new = replace(choice_from_scenario(scenario, choice), also=also)
    except (VramtuiError, OSError) as err:
        host.app.notify(str(err), title="Preset not loaded", severity="error", markup=False)
        return
    host.update_choice(new)
    if scenario.model_ref != choice.model_ref:
        host.open_model(scenario.model_ref)
    host.app.notify(f"Loaded preset {name_or_file!r}", timeout=3, markup=False)


async def export_flow(host: ScenarioHost) -> None:
    """Write the current scenario to a TOML file a friend can `vramtui preset import`."""
    choice = host.latest
    if choice is None:
        return
    app = host.app
    suggested = Path.cwd() / f"{default_preset_name(choice) or 'scenario'}.toml"
    path_text = await app.push_screen_wait(
        AskText("Export this scenario to the file:", value=str(suggested))
    )
    if not path_text:
        return
    path = Path(path_text).expanduser().absolute()
    name = preset_name(path.stem) or "scenario"
    if path.is_dir():
        path = path / f"{name}.toml"
    if path.exists():
        answer = await app.push_screen_wait(
            PickOne(f"{path} exists.", [("keep", "Keep it"), ("overwrite", "Replace it")])
        )
        if answer != "overwrite":
            app.notify(f"Not exported: {path} kept as it was.", timeout=4, markup=False)
            return
    try:
        path = export_scenario(scenario_from_choice(choice, name), path, force=True)
    except (VramtuiError, OSError) as err:
        app.notify(str(err), title="Not exported", severity="error", markup=False)
        return
    app.notify(f"Exported to {path}", timeout=6, markup=False)
