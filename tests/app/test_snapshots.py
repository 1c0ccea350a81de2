"""The main screen at 80x24, 120x40 and 200x50 for four kinds of machine (a Windows carve-out
laptop, a Linux GTT setup, a Mac, a discrete GPU), as snapshots, each with the layout's promise
for its size checked by geometry before the picture is taken:

- 80x24: the verdict, the RAM left for the OS and the recommended step are on the first screen,
  and the comparison's columns fit (short labels, fewer columns), never clipped;
- 120x40: the whole main screen fits, nothing to scroll;
- 200x50: two columns of results, the chart filling the right one.

Also help, the 48 GB pitfall, and typing a bad value in a field. Deterministic: the bundled
default model (a catalog model, no file), discovery off, no clock in the header, a fresh config
folder (no saved session), workers finished before the picture. Update with
`--snapshot-update` after looking at the report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input

from tests.app.conftest import MACHINES, main_screen, make_app, settle
from vramtui.app.widgets.chart import ContextChart
from vramtui.app.widgets.compare import CompareTable

SIZES = [(80, 24), (120, 40), (200, 50)]


def visible(widget: Widget, rows: int) -> bool:
    """Wholly on the first screen: below the header, above the footer."""
    region = widget.region
    return region.height > 0 and region.y >= 1 and region.bottom <= rows - 1


def layout_problems(pilot: Pilot[None], size: tuple[int, int]) -> list[str]:
    """What breaks the layout's promise at this size (none: kept)."""
    screen = main_screen(pilot.app)  # type: ignore[arg-type]
    width, rows = size
    problems = []
    table = screen.query_one(CompareTable)
    if table.virtual_size.width > table.size.width or table.scroll_offset.x:
        problems.append(f"comparison clipped: {table.virtual_size.width} > {table.size.width}")
    if table.region.right > width:
        problems.append("comparison runs off the screen")
    if size == (80, 24):
        if not 1 <= screen.query_one("#verdict").region.y < rows - 1:
            problems.append("the verdict is not on the first screen")
        for part in ("#ram-left", "#recommendation"):
            if not visible(screen.query_one(part), rows):
                problems.append(f"{part} is not on the first screen")
        return problems
    if screen.query_one("#results", VerticalScroll).max_scroll_y:
        problems.append("the results need scrolling")
    if screen.query_one("#controls", VerticalScroll).max_scroll_y:
        problems.append("the controls need scrolling")
    if not visible(screen.query_one(ContextChart), rows):
        problems.append("the chart is not wholly on screen")
    if size == (200, 50):
        left = screen.query_one("#results-main").region
        right = screen.query_one("#results-side").region
        if not (right.x >= left.right and left.width >= 60 and right.width >= 60):
            problems.append(f"not two columns: {left} {right}")
        if screen.query_one(ContextChart).region.height < 25:
            problems.append("the chart does not fill its column")
        if screen.query_one("#bars").region.width > 100:
            problems.append("memory bars wider than a column")  # names far from figures
    return problems


def ready_at(
    size: tuple[int, int], problems: list[str]
) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        problems.extend(layout_problems(pilot, size))

    return run_before


async def _ready(pilot: Pilot[None]) -> None:
    await settle(pilot)


async def _help(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


async def _typing(pilot: Pilot[None]) -> None:
    await settle(pilot)
    field = pilot.app.screen.query_one("#ctx", Input)
    field.focus()
    field.value = ""
    await pilot.press(*"abc")
    await pilot.pause()
    field.cursor_blink = False


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("kind", MACHINES)
def test_main_screen(snap_compare: Any, kind: str, size: tuple[int, int]) -> None:
    problems: list[str] = []
    app = make_app(**MACHINES[kind])
    assert snap_compare(app, terminal_size=size, run_before=ready_at(size, problems))
    assert problems == []


@pytest.mark.parametrize("size", SIZES[:2], ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_help)


def test_main_screen_pitfall(snap_compare: Any) -> None:
    app = make_app(model="qwen3-vl-32b:Q6_K", carve_out="48G")
    assert snap_compare(app, terminal_size=(120, 40), run_before=_ready)


def test_typing_a_bad_context(snap_compare: Any) -> None:
    """In a text field the footer offers ^q and esc, and the bad value says why."""
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_typing)
