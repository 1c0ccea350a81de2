"""Fast hands: a burst of keys with no pause between them ends on the last value, with every
figure on screen for that value, and the screen catches up at once (no replay of the states
in between).

The keys are posted to the app in one go, as a terminal delivers a burst, instead of through
`pilot.press` (which waits for each key to be handled before sending the next).
"""

from __future__ import annotations

import time

from textual import events
from textual.pilot import Pilot

from tests.app.conftest import main_screen, make_app, settle
from tests.support.waiting import wait_until
from vramtui.app.screens.main import MainScreen
from vramtui.app.state import context_steps
from vramtui.app.widgets.chart import ContextChart
from vramtui.app.widgets.compare import CarveOutComparison, CompareTable
from vramtui.core.sizes import GiB


def burst(pilot: Pilot[None], keys: list[str]) -> None:
    """Post every key at once, as a terminal delivers a burst of typed keys."""
    for key in keys:
        char = {"plus": "+", "minus": "-"}.get(key)
        pilot.app.post_message(events.Key(key, char))


def settled(screen: MainScreen) -> bool:
    """Every figure is for the question on screen, and nothing is left to do."""
    result = screen.sweep_result
    return (
        screen._latest == screen.choice
        and screen.evaluation is not None
        and screen.evaluation.choice == screen.choice
        and result is not None
        and result.choice == screen.choice
        and not screen.query_one(CarveOutComparison).has_class("-stale")
        and not screen.query_one(ContextChart).has_class("-stale")
    )


async def wait_settled(pilot: Pilot[None], screen: MainScreen) -> float:
    start = time.monotonic()
    await wait_until(
        pilot,
        lambda: settled(screen) and not any(w.is_running for w in pilot.app.workers),
        "the screen settling after the burst",
    )
    return time.monotonic() - start


async def test_a_burst_of_forty_keys_settles_on_the_last_value() -> None:
    app = make_app(carve_out="512M")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.choice is not None and screen.choice.spec is not None
        steps = context_steps(screen.choice.spec)
        keys = ["plus"] * 20 + ["minus"] * 17 + ["right"] * 3
        assert len(keys) == 40
        burst(pilot, keys)
        elapsed = await wait_settled(pilot, screen)
        choice = screen.choice
        # 20 up reaches the model's maximum, 17 down the smallest step; three BIOS steps up.
        assert choice.settings.ctx_size == steps[max(0, len(steps) - 1 - 17)] == 4096
        assert choice.machine.carve_out_bytes == 16 * GiB
        # What is shown belongs to that last value: the fit, the table's marker, the chart.
        assert screen.evaluation is not None and screen.evaluation.choice == choice
        table = screen.query_one(CompareTable)
        assert table.get_row_at(table.cursor_row)[0].startswith("▸")
        assert str(table.get_row_at(table.cursor_row)[1]).startswith("16")
        chart = screen.query_one(ContextChart)
        assert chart.data is not None and chart.data.current_ctx == 4096
        print(f"40-key burst settled {elapsed:.2f} s after the keys were posted")


async def test_the_controls_do_not_echo_a_burst_back() -> None:
    """Following the choice, the panels send nothing: after a burst the screen commits only
    the user's edits, never a late echo that would undo a newer one."""
    app = make_app(carve_out="512M")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        commits: list[int] = []
        original = screen._commit

        def counting() -> None:
            before = screen.choice
            original()
            if screen.choice is not before:
                commits.append(screen.choice.settings.ctx_size)  # type: ignore[union-attr]

        screen._commit = counting  # type: ignore[method-assign]
        burst(pilot, ["plus"] * 10)
        await wait_settled(pilot, screen)
        # Each commit moves forward; none goes back (an echo of an older value would).
        assert commits == sorted(commits), commits
        assert screen.choice is not None
        assert screen.choice.settings.ctx_size == context_steps(screen.choice.spec)[-1]
        assert len(commits) <= 10


async def test_figures_being_recomputed_are_marked() -> None:
    app = make_app(carve_out="512M")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        comparison = screen.query_one(CarveOutComparison)
        chart = screen.query_one(ContextChart)
        latest = screen.latest
        assert latest is not None and not comparison.has_class("-stale")
        # The moment a change is committed (as a key does): the fit is new at once, the
        # slower comparison and chart are still the old ones, and they say so.
        screen.update_choice(latest.with_machine(carve_out_bytes=4 * GiB))
        screen._commit()
        assert screen.evaluation is not None and screen.evaluation.choice == screen.choice
        assert comparison.has_class("-stale") and chart.has_class("-stale")
        assert "updating" in str(screen.query_one("#compare-title").render())
        assert "updating" in str(screen.query_one("#chart-title").render())
        await settle(pilot)
        assert not comparison.has_class("-stale") and not chart.has_class("-stale")
        assert "updating" not in str(screen.query_one("#compare-title").render())
        # A context change alone keeps the chart (it spans every context): only its marker moves.
        latest = screen.latest
        assert latest is not None
        screen.update_choice(latest.with_settings(ctx_size=32768))
        screen._commit()
        assert not chart.has_class("-stale") and chart.data is not None
        assert chart.data.current_ctx == 32768
