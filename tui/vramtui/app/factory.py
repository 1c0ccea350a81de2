"""The one app factory, shared by the CLI (`vramtui`) and the tests.

Bad input (an unknown machine, a bad size, a missing preset, an unreadable local model) raises a
`VramtuiError` here, before the app starts, so the CLI prints one line and exits 2. A remote
model is read inside the app, in a worker with visible progress.
"""

from __future__ import annotations

from dataclasses import replace

from vramtui.app.app import VramtuiApp
from vramtui.app.session import load_session
from vramtui.app.state import Choice
from vramtui.core.catalog.entries import DEFAULT_MODEL_REF
from vramtui.core.errors import VramtuiError
from vramtui.core.model.source import is_remote_reference, open_model
from vramtui.core.scenario.also import open_members
from vramtui.core.scenario.files import Scenario, load_scenario
from vramtui.core.scenario.resolve import ScenarioOverrides, resolve_scenario
from vramtui.core.sizes import parse_size
from vramtui.core.vocab import OsName


def create_app(
    *,
    model: str | None = None,
    preset: str | None = None,
    machine: str | None = None,
    carve_out: str | None = None,
    os_name: str | None = None,
    mmproj: str = "auto",
    discover: bool = True,
    restore: bool = True,
    overrides: ScenarioOverrides | None = None,
) -> VramtuiApp:
    """Build the app on the given (or bundled default) model, machine and settings, through
    the same scenario resolver the CLI uses. `overrides` is everything the command line said
    (every flag `check` takes); the single keywords are a short form of it. Without a preset,
    the last session is the base (`restore`) only when the command line names no scenario of
    its own: a question asked there is answered as asked, never mixed with the last session's
    context or settings. A session that no longer resolves is dropped for the defaults."""
    scenario = load_scenario(preset) if preset is not None else None
    said = False  # the short keywords keep the last session as their base
    if overrides is None:
        overrides = ScenarioOverrides(
            model_ref=model,
            mmproj=None if mmproj == "auto" else mmproj,
            machine_id=machine,
            carve_out_bytes=parse_size(carve_out, "--carve-out") if carve_out is not None else None,
            os=OsName(os_name) if os_name is not None else None,
        )
    else:
        said = overrides != ScenarioOverrides(mmproj=overrides.mmproj)
    return _resolved_app(scenario, overrides, discover=discover, restore=restore and not said)


def _resolved_app(
    scenario: Scenario | None, overrides: ScenarioOverrides, *, discover: bool, restore: bool
) -> VramtuiApp:
    if scenario is None and restore and (session := load_session()) is not None:
        try:
            return _app_for(session, overrides, discover)
        except VramtuiError:
            pass
    if scenario is None and overrides.model_ref is None:
        overrides = replace(overrides, model_ref=DEFAULT_MODEL_REF)
    return _app_for(scenario, overrides, discover)


def _app_for(scenario: Scenario | None, overrides: ScenarioOverrides, discover: bool) -> VramtuiApp:
    resolved = resolve_scenario(scenario, overrides)
    pending: str | None = None
    spec = None
    settings = resolved.settings
    if is_remote_reference(resolved.model_ref):
        pending = resolved.model_ref
    else:
        spec = open_model(resolved.model_ref, mmproj=resolved.mmproj)
        settings = resolved.settings_for(spec)
    choice = Choice(
        model_ref=resolved.model_ref,
        spec=spec,
        settings=settings,
        machine=resolved.state,
        projector=resolved.mmproj != "none",
        machine_source=resolved.machine_source,
        also=open_members(resolved.also),
    )
    return VramtuiApp(choice, pending_ref=pending, discover=discover)


def run_app(app: VramtuiApp) -> int:
    """Run the app; the exit code (0 unless the app says otherwise)."""
    app.run()
    return app.return_code or 0
