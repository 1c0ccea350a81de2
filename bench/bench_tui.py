"""TUI: launch to first full frame, and repaint time per carve-out / context change.

Each figure is printed beside a named peer measured in the same run: a plain Textual app with
one Static (first frame), and the same plain app updating its Static (repaint). Runs headless
(`App.run_test`) at 120x40 with discovery off and the user dirs pointed at a temp folder.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from textual.app import App, ComposeResult
from textual.widgets import Static

from vramtui.app.factory import create_app
from vramtui.app.screens.main import MainScreen
from vramtui.app.state import evaluate

SIZE = (120, 40)
ROUNDS = 5
CHANGES = 20


class PlainApp(App[None]):
    """The peer: the least a Textual app can draw."""

    def compose(self) -> ComposeResult:
        yield Static("hello", id="s")


async def _first_frame(make: Callable[[], App[None]], settle_workers: bool) -> tuple[float, float]:
    started = time.perf_counter()
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first = time.perf_counter() - started
        if settle_workers:
            await app.workers.wait_for_complete()
            await pilot.pause()
        full = time.perf_counter() - started
    return first, full


async def _repaints_vramtui() -> tuple[list[float], list[float], list[float]]:
    app = create_app(discover=False)
    carve: list[float] = []
    context: list[float] = []
    pure: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, MainScreen)
        # A change = the key's action (the fit recomputed synchronously) + the repaint that
        # follows (pilot.pause waits until the screen is idle again).
        for i in range(CHANGES):
            t0 = time.perf_counter()
            screen.action_carve_out(1 if (i // 5) % 2 == 0 else -1)
            await pilot.pause()
            carve.append(time.perf_counter() - t0)
        for i in range(CHANGES):
            t0 = time.perf_counter()
            screen.action_context(1 if (i // 4) % 2 == 0 else -1)
            await pilot.pause()
            context.append(time.perf_counter() - t0)
        assert screen.choice is not None
        for _ in range(CHANGES):
            t0 = time.perf_counter()
            evaluate(screen.choice)
            pure.append(time.perf_counter() - t0)
        await app.workers.wait_for_complete()
    return carve, context, pure


async def _repaints_plain() -> list[float]:
    app = PlainApp()
    out: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        static = app.query_one("#s", Static)
        for i in range(CHANGES):
            t0 = time.perf_counter()
            static.update(f"hello {i}")
            await pilot.pause()
            out.append(time.perf_counter() - t0)
    return out


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:6.1f} ms, max {max(values) * 1000:6.1f} ms"


async def _run() -> None:
    def vramtui() -> App[None]:
        return create_app(discover=False)

    await _first_frame(PlainApp, False)  # warm imports for both before timing
    await _first_frame(vramtui, True)
    peer = [(await _first_frame(PlainApp, False))[0] for _ in range(ROUNDS)]
    ours = [await _first_frame(vramtui, True) for _ in range(ROUNDS)]
    first = [f for f, _ in ours]
    full = [f for _, f in ours]
    peer_med = statistics.median(peer)
    print(f"first frame, plain Textual app (peer):   {_ms(peer)}")
    print(
        f"first frame, vramtui main screen:        {_ms(first)}  "
        f"ratio {statistics.median(first) / peer_med:.1f}x peer"
    )
    print(
        f"  ... with the carve-out sweep finished: {_ms(full)}  "
        f"ratio {statistics.median(full) / peer_med:.1f}x peer"
    )
    carve, context, pure = await _repaints_vramtui()
    plain = await _repaints_plain()
    plain_med = statistics.median(plain)
    print(f"repaint per key, plain Static update (peer): {_ms(plain)}")
    print(
        f"repaint per carve-out step ({CHANGES} steps):   {_ms(carve)}  "
        f"ratio {statistics.median(carve) / plain_med:.1f}x peer"
    )
    print(
        f"repaint per context step ({CHANGES} steps):     {_ms(context)}  "
        f"ratio {statistics.median(context) / plain_med:.1f}x peer"
    )
    print(f"the fit alone (pure evaluate, per change):  {_ms(pure)}")
    print("target: under 50 ms per change")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("CONFIG", "CACHE", "DATA"):
            os.environ[f"VRAMTUI_{name}_DIR"] = os.path.join(tmp, name.lower())
        asyncio.run(_run())


if __name__ == "__main__":
    main()
