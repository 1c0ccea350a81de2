"""Waiting in tests for the condition a test needs, never for a number of polls, a fixed time or
a notification's lifetime: a loaded machine makes a test slower, not red.

Every wait has the same generous bound, WAIT_S; it only ends a test that is wedged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import pytest
from textual.app import App
from textual.pilot import Pilot

from vramtui.core.probe.results import ProbeTimeouts

WAIT_S = 90.0  # the bound of every wait in the tests; nothing here is expected to come near it
POLL_S = 0.02  # how often a condition is looked at again (not how long anything takes)

# The probe's own timeouts for screen tests against servers on loopback: long enough that a busy
# machine never trips them (the failure tests set small ones on purpose, to trip them).
PATIENT_PROBE = ProbeTimeouts(
    connect=WAIT_S / 10, first_token=WAIT_S / 2, total=WAIT_S / 2, request=WAIT_S / 4
)


def _expired(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise AssertionError(f"{what}: not reached within {WAIT_S:.0f} s")


async def wait_until(
    pilot: Pilot[Any], check: Callable[[], object], what: str = "the condition"
) -> None:
    """Let the app run until `check()` is true (it is looked at after each pause)."""
    deadline = time.monotonic() + WAIT_S
    await pilot.pause()
    while not check():
        _expired(deadline, what)
        await pilot.pause(POLL_S)


async def wait_for(check: Callable[[], object], what: str = "the condition") -> None:
    """The same without an app: let the event loop run until `check()` is true."""
    deadline = time.monotonic() + WAIT_S
    while not check():
        _expired(deadline, what)
        await asyncio.sleep(POLL_S)


# Every notification an app was asked to show, kept after its toast has timed out: a test reads
# what was said, however late it gets to look.
@dataclass(frozen=True)
class Sent:
    message: str
    severity: str


_SENT: WeakKeyDictionary[App[Any], list[Sent]] = WeakKeyDictionary()


def record_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record each `App.notify` (screens and widgets notify through their app)."""
    original = App.notify

    def notify(self: App[Any], message: str, **kwargs: Any) -> None:
        severity = kwargs.get("severity", "information")
        _SENT.setdefault(self, []).append(Sent(message, severity))
        original(self, message, **kwargs)

    monkeypatch.setattr(App, "notify", notify)


def notifications(app: App[Any]) -> list[Sent]:
    """What `app` notified so far, oldest first (needs `record_notifications`)."""
    return list(_SENT.get(app, []))
