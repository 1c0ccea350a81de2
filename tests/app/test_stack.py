"""The stack of models loaded at once, in the app: added, reordered and removed by keys; the
fit is the set's, each model's share is on the bars, and it is the answer `check --also` gives
for the line the app copies."""

from __future__ import annotations

import json
import shlex

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from tests.app.conftest import main_screen, make_app, settle
from tests.support.waiting import notifications, wait_until
from vramtui.app.presets import check_command
from vramtui.app.screens.dialogs import AskText
from vramtui.app.screens.stack import StackScreen
from vramtui.app.widgets.results import PoolBars, VerdictBanner
from vramtui.cli.main import main
from vramtui.core.scenario.resolve import ScenarioOverrides

GLM = "glm-4.7-flash:Q4_K_M"


async def _add(pilot: Pilot[None], text: str) -> None:
    """`a` on the stack, the model typed in the dialog, Enter."""
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AskText), "the add dialog")
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


async def test_a_stack_built_by_keys_is_the_set_check_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = make_app(model=GLM, carve_out="32G")
    async with app.run_test(size=(140, 48)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        alone = screen.evaluation
        assert alone is not None and alone.fit is not None and alone.set_fit is None
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, StackScreen), "the stack")
        stack = app.screen
        assert isinstance(stack, StackScreen)
        await _add(pilot, "llama-3.1-8b:Q4_K_M -c 4K")
        await wait_until(pilot, lambda: len(stack.stack) == 1, "the first model added")
        await wait_until(pilot, lambda: app.screen is stack, "back on the stack")
        await _add(pilot, "llama-3.1-8b:Q8_0 -c 2K")
        await wait_until(pilot, lambda: len(stack.stack) == 2, "a second model added")
        refs = [m.model_ref for m in stack.stack]
        # Reorder: the last one moves up; then remove it.
        stack.query_one(OptionList).highlighted = len(refs) - 1
        await pilot.press("u")
        assert [m.model_ref for m in stack.stack] == [*refs[:-2], refs[-1], refs[-2]]
        await pilot.press("d")
        assert [m.model_ref for m in stack.stack] == [*refs[:-2], refs[-2]]
        kept = [m.model_ref for m in stack.stack]
        await pilot.press("escape")
        await settle(pilot)
        evaluation = screen.evaluation
        assert evaluation is not None and evaluation.set_fit is not None
        assert [m.model_ref for m in evaluation.set_fit.members] == [GLM, *kept]
        fit = evaluation.fit
        assert fit is not None and alone.fit is not None
        assert fit.gpu_memory_used_bytes > alone.fit.gpu_memory_used_bytes
        banner = str(screen.query_one(VerdictBanner).render())
        assert f"{len(kept) + 1} models loaded at the same time" in banner
        bars = str(screen.query_one(PoolBars).render())
        assert "other models" in bars  # each other model is its own segment
        line = check_command(evaluation.choice)
    assert "--also" in line
    code = main([*shlex.split(line)[1:], "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code in (0, 1, 3)
    assert data["verdict"] == fit.verdict
    assert data["system_ram_left_bytes"] == (fit.system_ram_left_bytes if fit.runs else None)
    assert data["gpu_memory_used_bytes"] == fit.gpu_memory_used_bytes
    assert [m["model_ref"] for m in data["models"]] == [GLM, *kept]


async def test_a_bad_model_is_refused_and_the_stack_stays() -> None:
    app = make_app(model=GLM, carve_out="32G")
    async with app.run_test(size=(140, 48)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, StackScreen), "the stack")
        stack = app.screen
        assert isinstance(stack, StackScreen)
        await _add(pilot, "llama-3.1-8b:Q4_K_M --bogus")
        await wait_until(pilot, lambda: app.screen is stack, "back on the stack")
        await _add(pilot, "nosuch-model:Q4_K_M")
        await settle(pilot)
        assert stack.stack == ()
        said = [n.message for n in notifications(app)]
        assert any("--bogus" in n for n in said) and any("nosuch-model" in n for n in said)


async def test_the_app_opens_on_a_set_given_on_the_command_line() -> None:
    from vramtui.core.scenario.also import parse_also  # noqa: PLC0415

    overrides = ScenarioOverrides(
        model_ref=GLM,
        machine_id="hp-zbook-ultra-g1a-64gb",
        also=(parse_also("llama-3.1-8b:Q4_K_M -c 4K"),),
    )
    app = make_app(overrides=overrides)
    async with app.run_test(size=(140, 48)) as pilot:
        await settle(pilot)
        evaluation = main_screen(app).evaluation
        assert evaluation is not None and evaluation.set_fit is not None
        assert len(evaluation.set_fit.members) == 2


async def test_loading_a_set_preset_in_the_running_app_brings_its_stack() -> None:
    """A preset saved with `--also` models, loaded with `l` in an app showing one model: the
    stack becomes the preset's, and loading a single-model preset empties it again."""
    from tests.app.test_files import answer  # noqa: PLC0415

    base = ["--machine", "hp-zbook-ultra-g1a-64gb"]
    assert main(["preset", "save", "a-set", GLM, *base, "--also", "llama-3.1-8b:Q4_K_M"]) == 0
    assert main(["preset", "save", "one-model", GLM, *base]) == 0
    app = make_app(overrides=ScenarioOverrides(model_ref=GLM))
    async with app.run_test(size=(140, 48)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        for name, members in (("a-set", 2), ("one-model", 1)):
            await pilot.press("l")
            await pilot.pause()
            await answer(pilot, name)
            await settle(pilot)
            assert screen.choice is not None and len(screen.choice.members()) == members
