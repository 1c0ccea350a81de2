"""The user's files from the app: broken machine files reported, export that asks before it
overwrites, share with a real fallback, presets that carry their own machine, and the session
that comes back at the next start."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Input, OptionList, Static

from tests.app.conftest import ZBOOK_MACHINE, main_screen, make_app, settle
from tests.support.waiting import notifications as notified
from vramtui.app.clipboard import SHARE_FILE, available_tools, share
from vramtui.app.screens.dialogs import PickOne
from vramtui.app.screens.help import HelpScreen
from vramtui.app.session import load_session, session_path
from vramtui.cli.main import main as cli_main
from vramtui.core.catalog.entries import DEFAULT_MODEL_REF
from vramtui.core.hardware.presets import load_machines
from vramtui.core.paths import data_dir, user_machines_dir
from vramtui.core.scenario.files import load_scenario
from vramtui.core.sizes import GiB

BUNDLED = Path(__file__).resolve().parents[2] / "presets"


def notifications(app: App[Any]) -> list[str]:
    return [sent.message for sent in notified(app)]


def user_machine(ident: str = "my-box", name: str = "My box", ram: int = 128) -> Path:
    """A user's own machine file: the Framework preset under another id."""
    text = (BUNDLED / "framework-desktop-128gb.toml").read_text(encoding="utf-8")
    changed = {
        "id": f'id = "{ident}"',
        "name": f'name = "{name}"',
        "total_ram_gib": f"total_ram_gib = {ram}",
    }
    lines = [changed.get(line.split(" =")[0], line) for line in text.splitlines()]
    path = user_machines_dir() / f"{ident}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def answer(pilot: object, choice: str) -> None:
    """Pick `choice` (an option id) in the PickOne dialog on screen."""
    app = pilot.app  # type: ignore[attr-defined]
    assert isinstance(app.screen, PickOne), app.screen
    options = app.screen.query_one(OptionList)
    index = next(
        i for i in range(options.option_count) if options.get_option_at_index(i).id == choice
    )
    options.highlighted = index
    await pilot.press("enter")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


# --- problems ---------------------------------------------------------------------------


async def test_a_broken_machine_file_is_reported() -> None:
    folder = user_machines_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.toml").write_text('id = "x"\nname = 3\n', encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert any("could not be read" in m for m in notifications(app)), notifications(app)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        listed = str(app.screen.query_one("#help-problems", Static).render())
        assert "broken.toml" in listed and "name" in listed


# --- export -------------------------------------------------------------------------------


async def test_export_shows_the_absolute_path_and_asks_before_overwriting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(carve_out="32G")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        field = app.screen.query_one(Input)
        assert Path(field.value).is_absolute() and Path(field.value).parent == tmp_path
        field.value = "friend.toml"  # relative: written beside the current folder
        await pilot.press("enter")
        await pilot.pause()
        target = tmp_path / "friend.toml"
        assert any(f"Exported to {target}" in m for m in notifications(app))
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        first = target.read_text(encoding="utf-8")
        assert load_scenario(str(target)).carve_out_bytes == 32 * GiB
        # Again, to the same file, after a change: it asks; "keep" leaves the file alone.
        await pilot.press("right")
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        await answer(pilot, "keep")
        assert target.read_text(encoding="utf-8") == first
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        await answer(pilot, "overwrite")
        assert load_scenario(str(target)).carve_out_bytes == 48 * GiB


# --- share --------------------------------------------------------------------------------


def fake_tool(folder: Path, name: str) -> Path:
    """A stand-in for a clipboard tool (xclip cannot run without a display here): it keeps
    what it is given in a file beside itself."""
    script = folder / name
    script.write_text(f'#!/bin/sh\ncat > "{folder}/{name}.got"\n', encoding="utf-8")
    script.chmod(0o755)
    return script


def test_share_uses_the_platform_tool(tmp_path: Path) -> None:
    fake_tool(tmp_path, "xclip")

    def which(name: str) -> str | None:
        return str(tmp_path / name) if (tmp_path / name).exists() else None

    tools = available_tools({"DISPLAY": ":0"}, which=which)
    assert tools == [(str(tmp_path / "xclip"), "-selection", "clipboard")]
    result = share("hello clipboard", tools)
    assert result.tool == "xclip" and result.path is None
    assert (tmp_path / "xclip.got").read_text(encoding="utf-8") == "hello clipboard"
    # No display: xclip is not offered at all.
    assert available_tools({}, which=lambda n: "/usr/bin/" + n if n == "xclip" else None) == []


def test_share_falls_back_to_a_file_it_names() -> None:
    result = share("the summary", tools=[])
    assert result.tool is None and result.path == (data_dir() / SHARE_FILE).resolve()
    assert result.path.read_text(encoding="utf-8") == "the summary"
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o644
    assert str(result.path) in result.message() and "no clipboard tool" in result.message()


async def test_y_shares_through_the_tool_and_osc52(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_tool(tmp_path, "xclip")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    app = make_app(carve_out="32G")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert "--carve-out 32G" in app.clipboard  # OSC 52 was sent too
        got = (tmp_path / "xclip.got").read_text(encoding="utf-8")
        assert got == app.clipboard
        assert any("(xclip)" in m for m in notifications(app))


# --- presets that carry their own machine ------------------------------------------------


async def test_a_preset_on_a_user_machine_carries_it_and_import_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_machine()
    app = make_app(machine="my-box", carve_out="32G")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one(Input).value = str(tmp_path / "mine.toml")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert "[machine_definition]" in app.clipboard
    exported = load_scenario(str(tmp_path / "mine.toml"))
    assert exported.machine_definition is not None
    assert exported.machine_definition["id"] == "my-box"

    # A friend: no such machine. Loading the file in the app installs it.
    friend = tmp_path / "friend-config"
    monkeypatch.setenv("VRAMTUI_CONFIG_DIR", str(friend))
    assert load_machines().get("my-box") is None
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await pilot.press("l")
        await pilot.pause()
        await answer(pilot, "\x00open-file")
        app.screen.query_one(Input).value = str(tmp_path / "mine.toml")
        await pilot.press("enter")
        await settle(pilot)
        assert screen.choice is not None and screen.choice.machine.machine.id == "my-box"
        assert screen.choice.machine.carve_out_bytes == 32 * GiB
        assert (friend / "machines" / "my-box.toml").is_file()
        assert any("Installed machine" in m for m in notifications(app))

    # Another friend has a different "my-box": the app asks, and "Cancel" keeps theirs.
    other = tmp_path / "other-config"
    monkeypatch.setenv("VRAMTUI_CONFIG_DIR", str(other))
    theirs = user_machine(ram=64)
    before = theirs.read_text(encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await pilot.press("l")
        await pilot.pause()
        await answer(pilot, "\x00open-file")
        app.screen.query_one(Input).value = str(tmp_path / "mine.toml")
        await pilot.press("enter")
        await pilot.pause()
        await answer(pilot, "keep")
        await settle(pilot)
        assert theirs.read_text(encoding="utf-8") == before
        assert screen.choice is not None and screen.choice.machine.machine.id == ZBOOK_MACHINE


def test_cli_import_installs_the_machine_and_asks_before_replacing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    user_machine()
    assert cli_main(["preset", "save", "mine", DEFAULT_MODEL_REF, "--machine", "my-box"]) == 0
    assert cli_main(["preset", "export", "mine", str(tmp_path / "mine.toml")]) == 0
    assert stat.S_IMODE((tmp_path / "mine.toml").stat().st_mode) == 0o644
    monkeypatch.setenv("VRAMTUI_CONFIG_DIR", str(tmp_path / "friend"))
    assert cli_main(["preset", "import", str(tmp_path / "mine.toml")]) == 0
    assert "installed machine my-box" in capsys.readouterr().out
    assert load_machines().get("my-box") is not None
    # A different machine of that id: refused without a terminal to ask, unless told.
    user_machine(ram=64)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli_main(["preset", "import", str(tmp_path / "mine.toml"), "--force"]) == 2
    assert "--replace-machine" in capsys.readouterr().err
    args = ["preset", "import", str(tmp_path / "mine.toml"), "--force", "--replace-machine"]
    assert cli_main(args) == 0
    machine = load_machines().get("my-box")
    assert machine is not None and machine.total_ram_bytes == 128 * GiB


# --- the session ----------------------------------------------------------------------------


async def test_the_last_session_comes_back_and_reset_forgets_it() -> None:
    app = make_app(machine="framework-desktop-128gb", os_name="linux")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("left", "plus")
        await settle(pilot)
        shown = main_screen(app).choice
    assert shown is not None and session_path().is_file()
    saved = load_session()
    assert saved is not None and saved.machine_id == "framework-desktop-128gb"

    again = make_app(machine=None)  # nothing on the command line: the session
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(again)
        assert screen.choice is not None
        assert screen.choice.machine.machine.id == "framework-desktop-128gb"
        assert screen.choice.machine.carve_out_bytes == shown.machine.carve_out_bytes
        assert screen.choice.settings.ctx_size == shown.settings.ctx_size
        assert screen.choice.machine.os == "linux"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert screen.choice.settings.ctx_size != shown.settings.ctx_size
        assert any("defaults" in m for m in notifications(again))

    # A machine given on the command line wins over the session.
    given = make_app(machine="desktop-rtx-4090")
    async with given.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        choice = main_screen(given).choice
        assert choice is not None and choice.machine.machine.id == "desktop-rtx-4090"


def test_a_session_that_no_longer_resolves_is_dropped() -> None:
    session_path().parent.mkdir(parents=True, exist_ok=True)
    session_path().write_text(
        'format = 1\nname = "last-session"\nmodel = "glm-4.7-flash:Q4_K_M"\n'
        '[machine]\nid = "gone-machine"\n',
        encoding="utf-8",
    )
    app = make_app(machine=None)
    assert app._choice.machine.machine.id != "gone-machine"
