"""Keys: q and ctrl+q quit; the footer offers only the keys that act where the focus is; a value
that is not accepted says why, under the fields."""

from __future__ import annotations

from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from tests.app.conftest import main_screen, make_app, settle
from tests.support.waiting import wait_until
from vramtui.app.screens.help import HelpScreen


def footer(app: object) -> dict[str, str]:
    """What the footer shows: description -> key as displayed."""
    keys = app.screen.query(FooterKey)  # type: ignore[attr-defined]
    return {key.description: key.key_display for key in keys if not key.disabled}


async def test_q_quits() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert footer(app).get("Quit") == "q"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_ctrl_q_quits_even_from_a_text_field() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        main_screen(app).query_one("#ctx", Input).focus()
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert not app.is_running


async def test_the_footer_follows_the_focus_and_plus_types_in_a_field() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        shown = footer(app)
        assert {"Help", "Model", "Carve-out", "Context", "Quit"} <= set(shown)
        assert "Leave field" not in shown
        field = screen.query_one("#ctx", Input)
        field.focus()
        await wait_until(pilot, lambda: "Leave field" in footer(app), "the field's footer")
        shown = footer(app)
        # In a text field, + - q and the letters type: their actions leave the footer, and the
        # keys that still act there take their place.
        assert not {"Context", "Carve-out", "Model", "Help"} & set(shown), shown
        assert shown.get("Quit") == "^q" and "Leave field" in shown
        ctx_before = screen.choice.settings.ctx_size  # type: ignore[union-attr]
        field.value = ""
        await pilot.press("plus", "q")
        await pilot.pause()
        assert field.value == "+q"
        assert app.is_running
        assert screen.choice.settings.ctx_size == ctx_before  # type: ignore[union-attr]
        await pilot.press("escape")
        await pilot.pause()
        assert screen.focused is None
        assert "Context" in footer(app)
        await pilot.press("plus")
        await pilot.pause()
        assert screen.choice.settings.ctx_size > ctx_before  # type: ignore[union-attr]


async def test_a_bad_context_explains_itself_inline() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        ctx_before = screen.choice.settings.ctx_size  # type: ignore[union-attr]
        field = screen.query_one("#ctx", Input)
        field.focus()
        field.value = ""
        await pilot.press(*"abc")
        await pilot.pause()
        problem = screen.query_one("#settings-problem", Static)
        assert problem.display and problem.region.height > 0
        assert str(problem.render()) == "abc is not a context size: try 16K, 32768 or max"
        assert field.has_class("-invalid")
        assert screen.choice.settings.ctx_size == ctx_before  # type: ignore[union-attr]
        field.value = ""
        await pilot.press(*"max")
        await pilot.pause()
        assert not problem.has_class("-shown") and not field.has_class("-invalid")
        assert screen.choice.settings.ctx_size == 0  # 0: the model's own maximum


async def test_a_bad_size_explains_itself_inline() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        field = screen.query_one("#baseline", Input)
        field.focus()
        await pilot.press(*"lots")
        await pilot.pause()
        problem = screen.query_one("#machine-problem", Static)
        assert "lots is not a size" in str(problem.render())
        field.value = ""
        await pilot.press(*"6G")
        await pilot.pause()
        assert not problem.has_class("-shown")
        assert screen.choice.machine.os_baseline_bytes == 6 << 30  # type: ignore[union-attr]


async def test_help_lists_the_quit_keys() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")  # q closes help, it does not quit
        await pilot.pause()
        assert app.is_running
        main_screen(app)
