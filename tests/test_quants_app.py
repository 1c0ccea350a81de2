"""The quant ladder in the app: the model picker judges every quant of the highlighted catalog
model on the machine on screen and stars the best; the settings panel sets --n-cpu-moe."""

from __future__ import annotations

from textual.widgets import Input, OptionList, Static

from tests.app.conftest import ZBOOK_MACHINE, main_screen, make_app, settle
from vramtui.app.presets import check_command
from vramtui.app.screens.picker import ModelPicker


async def _ladder_text(pilot: object, app: object, query: str) -> str:
    await pilot.press("m")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert isinstance(app.screen, ModelPicker)  # type: ignore[attr-defined]
    await pilot.press(*query)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    await app.workers.wait_for_complete()  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    return str(app.screen.query_one("#ladder", Static).render())  # type: ignore[attr-defined]


async def test_picker_stars_q5_k_m_on_the_zbook() -> None:
    app = make_app(model="qwen3-vl-32b:Q4_K_M", machine=ZBOOK_MACHINE, carve_out="32G")
    async with app.run_test(size=(120, 44)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.choice is not None
        screen.update_choice(screen.choice.with_machine(runtime="lmstudio"))
        await settle(pilot)
        text = await _ladder_text(pilot, app, "qwen3-vl-32b")
        highlighted = app.screen.query_one("#models", OptionList).highlighted_option
        assert highlighted is not None
        lines = text.splitlines()
        assert any(line.startswith("★ Q5_K_M") for line in lines), text
        assert "best for this machine: Q5_K_M" in text
        assert sum(line.startswith("★") for line in lines) == 2  # the row and the sentence


async def test_a_bigger_carve_out_changes_the_star() -> None:
    app = make_app(model="qwen3-vl-32b:Q4_K_M", machine=ZBOOK_MACHINE, carve_out="48G")
    async with app.run_test(size=(120, 44)) as pilot:
        await settle(pilot)
        text = await _ladder_text(pilot, app, "qwen3-vl-32b")
        # The ZBook article's 48 + 16 GB pitfall: Windows stages the weights in the 16 GB left, and
        # no quant loads; nothing is starred.
        assert "No quant runs cleanly" in text and "★" not in text


async def test_settings_panel_sets_n_cpu_moe_and_the_copied_command_keeps_it() -> None:
    app = make_app(model="gpt-oss-120b", machine="desktop-rtx-4090")
    async with app.run_test(size=(120, 44)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        field = screen.query_one("#ncmoe", Input)
        field.focus()
        await pilot.press(*"24")
        await settle(pilot)
        assert screen.choice is not None and screen.choice.settings.n_cpu_moe == 24
        assert screen.evaluation is not None and screen.evaluation.fit is not None
        assert "experts_on_host" in screen.evaluation.fit.codes
        command = check_command(screen.choice)
        assert "--n-cpu-moe 24" in command
