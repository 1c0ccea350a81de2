"""Snapshots of the main screen and the help screen at 80x24 and 120x40.

Deterministic: the bundled default (a catalog model, no file), discovery off, no clock in the
header, workers finished before the picture is taken. Update with `--snapshot-update`.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.app.conftest import make_app, settle

SIZES = [(80, 24), (120, 40)]


async def _ready(pilot: Pilot[None]) -> None:
    await settle(pilot)


async def _help(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_help)


def test_main_screen_pitfall(snap_compare: Any) -> None:
    app = make_app(model="qwen3-vl-32b:Q6_K", carve_out="48G")
    assert snap_compare(app, terminal_size=(120, 40), run_before=_ready)
