"""The main screen's other views: exact mode, the cluster, and the calibration toggle, opened
for the question on screen (seen through `ScenarioHost`, so this module does not import it)."""

from __future__ import annotations

from dataclasses import replace

from vramtui.app.screens.cluster import ClusterScreen
from vramtui.app.screens.exact import ExactScreen
from vramtui.app.screens.preset_flows import ScenarioHost
from vramtui.app.state import evaluate


def open_exact(host: ScenarioHost) -> None:
    """llama.cpp's own dry run beside the instant estimate, for the verdict's backend (the
    fit's, as `check --exact` runs it); without a verdict, its one-line reason."""
    choice = host.latest
    spec = None if choice is None else choice.effective_spec
    if choice is None or spec is None:
        return
    found = evaluate(choice)
    if found.fit is None:
        host.app.notify(found.error, severity="warning", timeout=4)
        return
    host.app.push_screen(ExactScreen(spec, choice.settings, found.fit.backend.value))


def open_cluster(host: ScenarioHost) -> None:
    """The model on screen over several machines."""
    choice = host.latest
    if choice is not None and choice.effective_spec is not None:
        host.app.push_screen(ClusterScreen(choice.effective_spec, choice.settings, choice.machine))


def toggle_calibration(host: ScenarioHost) -> None:
    """Earlier probes of this model on this machine, or the speed model's raw prediction."""
    choice = host.latest
    if choice is None:
        return
    host.update_choice(replace(choice, use_calibration=not choice.use_calibration))
    state = "off: the raw prediction" if choice.use_calibration else "on"
    host.app.notify(f"Calibration from earlier probes of this model {state}", timeout=3)
