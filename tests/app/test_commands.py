"""Every command is declared once: the main screen's keys, the help screen's key table and the
command palette all come from it, so help lists every binding (with the key a keymap gives it)
and the palette offers every command."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.widgets._markdown import MarkdownTableContent

from tests.app.conftest import main_screen, make_app, settle
from vramtui.app.keys import COMMANDS, key_label
from vramtui.app.screens.help import HelpScreen
from vramtui.app.screens.main import MainScreen
from vramtui.app.screens.picker import ModelPicker
from vramtui.core.paths import config_dir

# Commands with no palette entry of their own: quitting is Textual's own "Quit the application"
# there, and leaving a text field means nothing in the palette.
NOT_IN_THE_PALETTE = {"quit-q", "quit", "leave-field"}


async def help_rows(pilot: object) -> dict[str, list[str]]:
    """Open help; its key table as binding id -> the keys shown for it."""
    app = pilot.app  # type: ignore[attr-defined]
    await pilot.press("question_mark")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert isinstance(app.screen, HelpScreen)
    table = app.screen.query_one(MarkdownTableContent)
    assert [h.plain for h in table.headers] == ["Key", "Does", "Id"]
    rows = {}
    for keys, _does, ident in table.rows:
        if ident.plain:
            rows[ident.plain] = keys.plain.split()
    return rows


def main_bindings() -> dict[str, list[str]]:
    """The main screen's bindings: id -> its keys as the help writes them."""
    out = {}
    for binding in MainScreen.BINDINGS:
        assert not isinstance(binding, tuple) and binding.id
        out[binding.id] = [key_label(key) for key in binding.key.split(",")]
    return out


async def test_help_lists_every_binding_of_the_main_screen() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        rows = await help_rows(pilot)
    bindings = main_bindings()
    assert rows == bindings
    # The keys the hand-written table once left out.
    assert rows["exact"] == ["x"] and rows["cluster"] == ["c"] and rows["calibration"] == ["k"]
    assert rows["carve-out-down"] == ["←", "["] and rows["reset-session"] == ["Ctrl+R"]


async def test_help_shows_the_key_a_keymap_gives() -> None:
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(
        '[app.keymap]\npick-model = "o"\nexact = "ctrl+x,z"\n', encoding="utf-8"
    )
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        rows = await help_rows(pilot)
        assert rows["pick-model"] == ["o"]
        assert rows["exact"] == ["Ctrl+X", "z"]
        assert rows["cluster"] == ["c"]  # not rebound: as declared
        await pilot.press("escape")
        await pilot.pause()
        main_screen(app)
        await pilot.press("m")  # the old key no longer picks a model...
        await pilot.pause()
        main_screen(app)
        await pilot.press("o")  # ...the one help shows does
        await pilot.pause()
        assert isinstance(app.screen, ModelPicker)


async def test_the_palette_offers_every_command() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        assert isinstance(app.screen, CommandPalette)
        options = app.screen.query_one(CommandList)
        offered = {}
        for index in range(options.option_count):
            hit = options.get_option_at_index(index).hit  # type: ignore[attr-defined]
            offered[hit.text] = hit.help
    for command in COMMANDS:
        if command.id in NOT_IN_THE_PALETTE:
            assert not command.title
            continue
        assert offered.get(command.title) == command.help, command.id
    assert set(main_bindings()) - NOT_IN_THE_PALETTE <= {c.id for c in COMMANDS if c.title}
