"""The last session: the model, machine, carve-out and settings on screen when the app last
changed, kept in config_dir()/session.toml as a scenario preset (the same strict format, so a
damaged or hand-edited file is refused with a reason, never half-applied).

Written atomically, a moment after each change and when the app closes. Restored at the next
start unless a preset or a model / machine on the command line says otherwise.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from vramtui.app.presets import scenario_from_choice
from vramtui.app.state import Choice
from vramtui.core.atomic import read_text_capped, write_atomic
from vramtui.core.catalog.entries import DEFAULT_MODEL_REF
from vramtui.core.errors import VramtuiError
from vramtui.core.paths import config_dir
from vramtui.core.scenario.files import Scenario, scenario_from_toml, scenario_to_toml
from vramtui.core.scenario.resolve import ResolvedScenario, ScenarioOverrides, resolve_scenario

SESSION_NAME = "session.toml"
SESSION_PRESET_NAME = "last-session"


def session_path() -> Path:
    return config_dir() / SESSION_NAME


def load_session() -> Scenario | None:
    """The saved session, or None when there is none or it cannot be read (never fatal)."""
    path = session_path()
    try:
        text = read_text_capped(path, 1 << 20)
        return scenario_from_toml(text, str(path))
    except (OSError, UnicodeDecodeError, VramtuiError):
        return None


def save_session(choice: Choice) -> None:
    """Remember `choice` for the next start. Never an error: a read-only config folder, or a
    value the preset format cannot hold, only means the next start opens on the defaults."""
    try:
        text = scenario_to_toml(scenario_from_choice(choice, SESSION_PRESET_NAME))
        write_atomic(session_path(), text)
    except (OSError, TypeError, ValueError, VramtuiError):
        return


def forget_session() -> None:
    with contextlib.suppress(OSError):
        session_path().unlink(missing_ok=True)


def default_scenario() -> ResolvedScenario:
    """What a first start shows: the bundled default model on this machine (or the default
    machine where it cannot be recognised), every setting at its default."""
    return resolve_scenario(None, ScenarioOverrides(model_ref=DEFAULT_MODEL_REF))
