"""The one app factory, shared by the CLI (`vramtui`) and the tests.

Bad input (an unknown machine, a bad size, a missing preset, an unreadable local model) raises a
`VramtuiError` here, before the app starts, so the CLI prints one line and exits 2. A remote
model is read inside the app, in a worker with visible progress.
"""

from __future__ import annotations

from dataclasses import replace

from tui.app.app import VramtuiApp
from tui.app.presets import state_from_scenario
from tui.app.state import Choice
from tui.core.estimate.settings import RuntimeSettings
from tui.core.machine.fit import MachineState
from tui.core.machine.presets import get_machine
from tui.core.machine.scenario import load_scenario
from tui.core.model.catalog import DEFAULT_MODEL_REF
from tui.core.model.source import is_remote_reference, open_model
from tui.core.sizes import parse_size

DEFAULT_MACHINE = "hp-zbook-ultra-g1a-64gb"  # the seed's 64 GB Ryzen AI Max+ 395 laptop
DEFAULT_CONTEXT = 16384  # the seed's measurements were taken at 16K


def create_app(
    *,
    model: str | None = None,
    preset: str | None = None,
    machine: str | None = None,
    carve_out: str | None = None,
    os_name: str | None = None,
    mmproj: str = "auto",
    discover: bool = True,
) -> VramtuiApp:
    """Build the app on the given (or bundled default) model, machine and settings."""
    settings = RuntimeSettings(ctx_size=DEFAULT_CONTEXT)
    model_ref = DEFAULT_MODEL_REF
    projector = True
    if preset is not None:
        scenario = load_scenario(preset)
        model_ref = scenario.model_ref
        settings = scenario.settings
        projector = scenario.mmproj != "none"
        if mmproj == "auto" and scenario.mmproj not in ("auto", "none"):
            mmproj = scenario.mmproj
        if machine is not None and machine != scenario.machine_id:
            state = MachineState.default_for(get_machine(machine))
        else:
            state = state_from_scenario(scenario)
    else:
        state = MachineState.default_for(get_machine(machine or DEFAULT_MACHINE))
    if model is not None:
        model_ref = model
    if carve_out is not None:
        state = replace(state, carve_out_bytes=parse_size(carve_out, "--carve-out"))
    if os_name is not None:
        state = replace(state, os=os_name)
    pending: str | None = None
    spec = None
    if is_remote_reference(model_ref):
        pending = model_ref
    else:
        spec = open_model(model_ref, mmproj=mmproj)
    choice = Choice(
        model_ref=model_ref, spec=spec, settings=settings, machine=state, projector=projector
    )
    return VramtuiApp(choice, pending_ref=pending, discover=discover)


def run_app(
    *,
    model: str | None = None,
    preset: str | None = None,
    machine: str | None = None,
    carve_out: str | None = None,
    os_name: str | None = None,
    mmproj: str = "auto",
) -> int:
    """Create the app and run it; the exit code (0 unless the app says otherwise)."""
    app = create_app(
        model=model,
        preset=preset,
        machine=machine,
        carve_out=carve_out,
        os_name=os_name,
        mmproj=mmproj,
    )
    app.run()
    return app.return_code or 0
