"""The main journeys, driven by keys as a user would press them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from textual.widgets import DataTable, Digits, Input, Label

from tests.app.conftest import ZBOOK_MACHINE, main_screen, make_app, settle
from tests.support.waiting import notifications
from vramtui.app.config import saved_theme
from vramtui.app.recent import load_recent
from vramtui.app.screens.help import HelpScreen
from vramtui.app.screens.picker import ModelPicker
from vramtui.app.widgets.results import VerdictBanner
from vramtui.core.catalog.entries import DEFAULT_MODEL_REF, catalog_entries
from vramtui.core.errors import VramtuiError
from vramtui.core.hardware.presets import get_machine
from vramtui.core.paths import config_dir
from vramtui.core.scenario.files import load_scenario
from vramtui.core.sizes import GiB

VERDICTS = {"fits", "fits_with_warnings", "will_not_fit"}


def banner_text(app: object) -> str:
    banner = main_screen(app).query_one(VerdictBanner)  # type: ignore[arg-type]
    return str(banner.render())


async def test_opens_on_the_default_with_a_verdict() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.choice is not None
        assert screen.choice.model_ref == DEFAULT_MODEL_REF
        assert screen.choice.machine.machine.id == ZBOOK_MACHINE
        evaluation = screen.evaluation
        assert evaluation is not None and evaluation.fit is not None
        assert evaluation.fit.verdict in VERDICTS
        text = banner_text(app)
        assert any(word in text for word in ("FITS", "WILL NOT FIT"))
        # The big figure is the RAM the fit says is left for the OS.
        digits = screen.query_one("#ram-left", Digits)
        assert digits.value == f"{evaluation.fit.system_ram_left_bytes / GiB:.1f}"
        # The comparison table has one row per BIOS step of the machine.
        steps = get_machine(ZBOOK_MACHINE).carve_out_steps
        assert screen.query_one("#compare", DataTable).row_count == len(steps)


async def test_the_carve_out_pitfall_on_the_zbook() -> None:
    """Qwen3-VL-32B Q6_K: 32 GB carve-out loads, 48 GB does not (the ZBook article's 48+16 trap)."""
    app = make_app(model="qwen3-vl-32b:Q6_K", carve_out="32G")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.choice is not None and screen.choice.machine.carve_out_bytes == 32 * GiB
        assert screen.evaluation is not None and screen.evaluation.fit is not None
        assert screen.evaluation.fit.verdict != "will_not_fit"
        for _ in range(10):
            if screen.choice.machine.carve_out_bytes >= 48 * GiB:
                break
            await pilot.press("right")
            await pilot.pause()
        assert screen.choice.machine.carve_out_bytes == 48 * GiB
        fit = screen.evaluation.fit
        assert fit.verdict == "will_not_fit"
        assert "load_exceeds_system_ram" in {r.code for r in fit.reasons}
        text = banner_text(app)
        assert "WILL NOT FIT" in text
        assert "28.08 GB" in text  # the ZBook article's evidence is shown beside the reason
        await pilot.press("left")
        await pilot.pause()
        assert screen.choice.machine.carve_out_bytes == 32 * GiB
        assert screen.evaluation.fit.verdict != "will_not_fit"


async def test_context_changes_recompute_the_kv_cache() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.choice is not None and screen.evaluation is not None
        before_ctx = screen.choice.settings.ctx_size
        before = screen.evaluation.fit.breakdown.to_json()["kv_bytes"]  # type: ignore[union-attr]
        await pilot.press("plus")
        await pilot.pause()
        assert screen.choice.settings.ctx_size > before_ctx
        after = screen.evaluation.fit.breakdown.to_json()["kv_bytes"]  # type: ignore[union-attr]
        assert after > before
        # Free entry: type a context into the field.
        field = screen.query_one("#ctx", Input)
        field.focus()
        field.value = ""
        await pilot.press(*"40K")
        await pilot.pause()
        assert screen.choice.settings.ctx_size == 40 * 1024
        assert field.value == "40K"


async def test_pick_a_catalog_model_through_the_picker() -> None:
    target = next(e for e in catalog_entries() if not DEFAULT_MODEL_REF.startswith(e.id))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, ModelPicker)
        await pilot.press(*target.name.lower(), "enter")
        await settle(pilot)
        screen = main_screen(app)
        assert screen.choice is not None
        assert screen.choice.model_ref.startswith(f"{target.id}:")
        assert screen.choice.spec is not None
        assert target.name in screen.choice.spec.name
        assert screen.evaluation is not None and screen.evaluation.fit is not None
        assert load_recent()[0] == screen.choice.model_ref


async def test_an_unknown_model_typed_in_the_picker_is_a_notification() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await pilot.press(*"no-such-model-xyz", "enter")
        await settle(pilot)
        screen = main_screen(app)
        assert screen.choice is not None and screen.choice.model_ref == DEFAULT_MODEL_REF
        messages = [sent.message for sent in notifications(app)]
        assert any("no-such-model-xyz" in m for m in messages), messages


async def test_save_a_preset_and_load_it_back() -> None:
    app = make_app(carve_out="32G")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await pilot.press("plus")  # a non-default context, so the reload has something to restore
        saved_ctx = screen.choice.settings.ctx_size  # type: ignore[union-attr]
        await pilot.press("s")
        await pilot.pause()
        field = app.screen.query_one(Input)
        field.value = ""
        await pilot.press(*"my-setup", "enter")
        await pilot.pause()
        assert list((config_dir() / "presets").glob("my-setup*")), "preset file not written"
        await pilot.press("left", "minus", "minus")
        await pilot.pause()
        assert screen.choice.machine.carve_out_bytes != 32 * GiB  # type: ignore[union-attr]
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert screen.choice is not None
        assert screen.choice.machine.carve_out_bytes == 32 * GiB
        assert screen.choice.settings.ctx_size == saved_ctx


async def test_help_opens_and_closes() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        main_screen(app)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_command_palette_runs_an_action() -> None:
    app = make_app(carve_out="32G")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"carve-out: more", "enter")
        await settle(pilot)
        screen = main_screen(app)
        assert screen.choice is not None and screen.choice.machine.carve_out_bytes > 32 * GiB


async def test_theme_is_remembered() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.theme = "nord"
        await pilot.pause()
    data = tomllib.loads((config_dir() / "config.toml").read_text(encoding="utf-8"))
    assert data["app"]["theme"] == "nord"
    assert saved_theme() == "nord"
    again = make_app()
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert again.theme == "nord"


def test_bad_input_fails_before_the_app_starts() -> None:
    with pytest.raises(VramtuiError):
        make_app(machine="no-such-machine")
    with pytest.raises(VramtuiError):
        make_app(carve_out="lots")


async def test_copy_and_export_share_the_scenario(tmp_path: Path) -> None:
    app = make_app(carve_out="32G")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await pilot.pause()
        assert "--carve-out 32G" in app.clipboard
        assert "hp-zbook-ultra-g1a-64gb" in app.clipboard
        await pilot.press("e")
        await pilot.pause()
        field = app.screen.query_one(Input)
        field.value = str(tmp_path / "friend.toml")
        await pilot.press("enter")
        await pilot.pause()
    text = (tmp_path / "friend.toml").read_text(encoding="utf-8")
    assert "glm-4.7-flash" in text
    assert load_scenario(str(tmp_path / "friend.toml")).carve_out_bytes == 32 * GiB


async def test_the_mouse_steps_the_carve_out() -> None:
    app = make_app(carve_out="16G")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await pilot.click("#carve-out", offset=(12, 0))
        await pilot.pause()
        assert screen.choice is not None and screen.choice.machine.carve_out_bytes == 32 * GiB
        await pilot.click("#carve-out", offset=(0, 0))
        await pilot.pause()
        assert screen.choice.machine.carve_out_bytes == 16 * GiB


async def test_picker_discovery_runs_in_a_worker_and_reports() -> None:
    app = make_app(discover=True)  # HOME is an empty temp folder here
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        status = app.screen.query_one("#discovery-status", Label)
        assert "0 model(s) found" in str(status.render())
