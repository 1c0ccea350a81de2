"""The user's files that could not be read: machine presets and scenario presets.

The CLI prints these on stderr; the app shows a notification at start and lists them in help.
"""

from __future__ import annotations

from vramtui.core.hardware.presets import load_machines
from vramtui.core.scenario.files import list_scenarios


def file_problems() -> list[str]:
    """One line per file that does not load, naming the file and the field."""
    problems = list(load_machines().problems)
    list_scenarios(problems)
    return problems
