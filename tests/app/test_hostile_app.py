"""Names from files and servers shown literally in the app: a friend's machine named with
markup brackets, carried in a preset, opens the app and its machine list; a probe server
listing a model named with markup shows it. Nothing is read as markup or escapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input, OptionList, Select

from tests.app.conftest import make_app, settle
from tests.support.probe_doubles import Conn, Request, openai_double, serve
from tests.support.waiting import PATIENT_PROBE, notifications, wait_until
from vramtui.app.app import NOTE_MAX
from vramtui.app.screens.main import MainScreen
from vramtui.app.screens.probe import ProbeScreen
from vramtui.cli.main import main
from vramtui.core.hardware.presets import get_machine
from vramtui.core.paths import NAME_RULE, scenario_presets_dir, user_machines_dir

FRIEND_BOX = "Friend's box [/]"
EVIL = "box [/]\x1b]52;c;ZXZpbA==\x07\u009b[red]x"


def _friends_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The friend's preset carries the friend's own machine; imported here, both installed."""
    folder = user_machines_dir()
    folder.mkdir(parents=True, exist_ok=True)
    text = Path(get_machine("hp-zbook-ultra-g1a-64gb").path).read_text(encoding="utf-8")
    lines = [
        f"name = {json.dumps(FRIEND_BOX)}"
        if line.startswith("name = ")
        else 'id = "friends-box"'
        if line.startswith("id = ")
        else line
        for line in text.splitlines()
    ]
    machine_file = folder / "friends-box.toml"
    machine_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shared = tmp_path / "friend.toml"
    argv = ["preset", "save", "friend", "llama-3.1-8b:Q4_K_M", "--machine", "friends-box"]
    assert main(argv) == 0
    assert main(["preset", "export", "friend", str(shared)]) == 0
    machine_file.unlink()
    (scenario_presets_dir() / "friend.toml").unlink()
    assert main(["preset", "import", str(shared)]) == 0
    out, err = capsys.readouterr()
    assert "installed machine friends-box" in out, (out, err)


async def test_friends_machine_named_with_markup_opens_and_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _friends_preset(tmp_path, capsys)
    app = make_app(preset="friend")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert FRIEND_BOX in screen.sub_title
        select = screen.query_one("#machine", Select)
        assert select.value == "friends-box"
        assert str(select.query_one("SelectCurrent").label) == FRIEND_BOX
        select.focus()
        await pilot.press("enter")  # the machine list opens
        await pilot.pause()
        listed = select.query_one("SelectOverlay", OptionList)
        prompts = [str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)]
        assert FRIEND_BOX in prompts
        await pilot.press("escape")
        await settle(pilot)


def _evil_double() -> object:
    double = openai_double()

    @double.route("GET", "/v1/models")
    def models(req: Request, conn: Conn) -> None:
        conn.send_json({"object": "list", "data": [{"id": EVIL, "object": "model"}]})

    return double


class Host(App[None]):
    def __init__(self, screen: ProbeScreen) -> None:
        super().__init__()
        self.probe = screen

    def on_mount(self) -> None:
        self.push_screen(self.probe)


async def test_probe_screen_shows_a_model_named_with_markup() -> None:
    with serve(_evil_double()) as double:  # type: ignore[arg-type]
        screen = ProbeScreen(
            ports={"llamacpp": double.port}, timeouts=PATIENT_PROBE, save_history=False
        )
        app = Host(screen)
        async with app.run_test(size=(120, 36)) as pilot:
            options = screen.query_one("#probe-servers", OptionList)

            def prompts() -> str:
                return " ".join(
                    str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
                )

            await wait_until(pilot, lambda: "box [/]" in prompts())
            shown = prompts()
            assert "[red]x" in shown and "\x1b" not in shown and "\u009b" not in shown
            assert "\x07" not in shown


async def test_a_pasted_100_kb_preset_name_is_a_short_notification() -> None:
    app = make_app(model="llama-3.1-8b:Q4_K_M")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: _dialog_input(app) is not None, "the save dialog")
        field = _dialog_input(app)
        assert field is not None
        field.value = "x" * 100_000 + "\x1b[2J[/]"
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(notifications(app)), "the refusal")
        sent = notifications(app)[-1]
        assert sent.severity == "error"
        assert len(sent.message) <= NOTE_MAX and "…" in sent.message
        assert sent.message.endswith(f"{NAME_RULE})")  # the why is kept
        assert "\x1b" not in sent.message


def _dialog_input(app: App[None]) -> Input | None:
    found = app.screen.query("#dialog-input")
    return found.first(Input) if found else None
