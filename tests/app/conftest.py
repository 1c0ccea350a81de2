"""Pilot helpers: build the app through the same factory the CLI uses, with discovery off."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.support.waiting import record_notifications, wait_until
from vramtui.app.app import VramtuiApp
from vramtui.app.factory import create_app
from vramtui.app.screens.main import MainScreen

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


@pytest.fixture(autouse=True)
def _notifications_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read what the app said from a record, not from toasts that time out."""
    record_notifications(monkeypatch)


def make_app(**kwargs: object) -> VramtuiApp:
    kwargs.setdefault("discover", False)
    if "preset" not in kwargs:
        kwargs.setdefault("machine", ZBOOK_MACHINE)
    return create_app(**kwargs)  # type: ignore[arg-type]


def idle(pilot: Pilot[None]) -> bool:
    """Nothing left to do: no worker running and, on the main screen, no edit waiting to be
    committed, no carve-out sweep waiting to start or running, and the sweep on screen is for
    the question on screen."""
    if any(worker.is_running for worker in pilot.app.workers):
        return False
    screen = pilot.app.screen
    if not isinstance(screen, MainScreen):
        return True
    choice, result = screen.choice, screen.sweep_result
    swept = (
        choice is None or choice.spec is None or (result is not None and result.choice == choice)
    )
    pending = screen._commit_pending or screen._sweeps.busy
    return swept and not pending


async def settle(pilot: Pilot[None]) -> None:
    """Let workers (model reads, the carve-out sweep) finish and the screen repaint."""
    await wait_until(pilot, lambda: idle(pilot), "the app settling")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def main_screen(app: VramtuiApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen), f"expected the main screen, got {screen!r}"
    return screen
