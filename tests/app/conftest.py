"""Pilot helpers: build the app through the same factory the CLI uses, with discovery off."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from vramtui.app.app import VramtuiApp
from vramtui.app.factory import create_app
from vramtui.app.screens.main import MainScreen
from vramtui.app.sweep import SWEEP_DELAY_S

# The app opens on the machine it runs on; tests pin the ZBook article's laptop so that what they
# does not depend on the machine running them.
ZBOOK_MACHINE = "hp-zbook-ultra-g1a-64gb"

# The four kinds of machine every layout must serve (snapshots and geometry tests).
MACHINES: dict[str, dict[str, Any]] = {
    "windows-carve-out": {"machine": ZBOOK_MACHINE, "carve_out": "512M"},
    "linux-gtt": {"machine": "framework-desktop-128gb", "os_name": "linux"},
    "mac": {"machine": "apple-m4-max-128gb"},
    "discrete-gpu": {"machine": "desktop-rtx-4090"},
}


def make_app(**kwargs: object) -> VramtuiApp:
    kwargs.setdefault("discover", False)
    if "preset" not in kwargs:
        kwargs.setdefault("machine", ZBOOK_MACHINE)
    return create_app(**kwargs)  # type: ignore[arg-type]


async def settle(pilot: Pilot[None]) -> None:
    """Let workers (model reads, the carve-out sweep) finish and the screen repaint.

    The sweep starts SWEEP_DELAY_S after the last change, so wait that out first.
    """
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(SWEEP_DELAY_S + 0.1)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def main_screen(app: VramtuiApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen), f"expected the main screen, got {screen!r}"
    return screen
