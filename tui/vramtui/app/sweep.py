"""The carve-out sweep behind the main screen: off the event loop, one at a time, always for
the newest question.

Every BIOS step side by side and memory against context take tens of milliseconds, too slow
to run on each key. So the sweep waits for the keys to pause (the first one starts at once),
runs in a thread, and when the question changed meanwhile goes again with the newest, never
with the ones in between: a burst of keys costs at most one sweep in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from textual.timer import Timer

from vramtui.app.state import Choice, Sweep, sweep

SWEEP_DELAY_S = 0.15  # the sweep waits for the keys to pause this long


class SweepHost(Protocol):
    """The screen a sweep runs for (the main screen), as far as the sweep needs it."""

    choice: Choice | None  # the committed question
    sweep_result: Sweep | None  # the newest finished sweep

    def set_timer(self, delay: float, callback: Callable[[], Any]) -> Timer: ...

    def call_after_refresh(self, callback: Callable[[], Any]) -> bool: ...

    def run_worker(self, work: Any, *, group: str, exit_on_error: bool) -> Any: ...


class SweepRunner:
    """Starts sweeps for `host` and hands each result back as `host.sweep_result`."""

    def __init__(self, host: SweepHost) -> None:
        self._host = host
        self._timer: Timer | None = None
        self._running = False

    def schedule(self) -> None:
        """Start the sweep once the keys pause (the first one right away)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._host.sweep_result is None:
            self._host.call_after_refresh(self._start)
        else:
            self._timer = self._host.set_timer(SWEEP_DELAY_S, self._start)

    @property
    def busy(self) -> bool:
        """A sweep is scheduled or running."""
        return self._timer is not None or self._running

    def _start(self) -> None:
        self._timer = None
        if not self._running:
            self._running = True
            self._host.run_worker(self._run(), group="sweep", exit_on_error=False)

    async def _run(self) -> None:
        """Sweep the committed question; when it changed meanwhile and no later start is
        scheduled, go again at once with the newest (never with the ones in between)."""
        host = self._host
        try:
            while (choice := host.choice) is not None and choice.spec is not None:
                if host.sweep_result is not None and host.sweep_result.choice == choice:
                    return
                result = await asyncio.to_thread(sweep, choice)
                if result.choice == host.choice:
                    host.sweep_result = result
                    return
                if self._timer is not None:
                    return  # more keys are coming: their own start will pick up the newest
        finally:
            self._running = False
