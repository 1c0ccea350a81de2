"""Every command's output, text and --json, stdout and stderr, with hostile names in the
files it reads (model `general.name`, file names, preset description and keys, user machine
name and id): no terminal escape, no C1 control and no markup gets through, and nothing is a
bug (exit 70). JSON carries the strings as data (escaped by json), which is fine."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gguf_files import write_tiny_model
from tests.support.sysroot import hp_zbook_tree
from vramtui.cli.main import main
from vramtui.core.hardware.presets import get_machine
from vramtui.core.paths import scenario_presets_dir, user_machines_dir
from vramtui.core.scenario.files import Scenario, scenario_from_toml, scenario_to_toml
from vramtui.present.untrusted import MAX_SHOWN, command, lines, plain

# OSC 52 (clipboard write), BEL, CSI 2J (clear screen), C1 CSI, Rich markup.
EVIL = "evil\x1b]52;c;ZXZpbA==\x07\x1b[2J\u009b31m[red]R[/]\x1b"
EVIL_FILE = "evil\x1b]52;c;ZXZpbA==\x07\x1b[2J\u009b31m[red]R"  # no "/" in a file name
EVIL_ID = "box\x1b[2J\u009b[red]x[/]"
MACHINE = "hp-zbook-ultra-g1a-64gb"
FORBIDDEN = [chr(c) for c in (0x1B, 0x07, *range(0x80, 0xA0))]


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string (\uXXXX escapes) is a TOML basic string


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A model named EVIL in a file named EVIL_FILE, a folder of such quants, a user machine
    named EVIL with id EVIL_ID, a broken preset with an EVIL key, a machine tree to detect."""
    model = write_tiny_model(tmp_path / f"{EVIL_FILE}-Q4_K_M.gguf", name=EVIL)
    quants = tmp_path / "quants"
    quants.mkdir()
    for q in ("Q4_K_M", "Q8_0"):
        write_tiny_model(quants / f"{EVIL_FILE}-{q}.gguf", name=EVIL)
    skipped = tmp_path / "skipped"
    skipped.mkdir()
    os.mkfifo(skipped / f"{EVIL_FILE}.gguf")
    machines = user_machines_dir()
    machines.mkdir(parents=True)
    text = Path(get_machine(MACHINE).path).read_text(encoding="utf-8")
    evil_machine = text.replace(f'id = "{MACHINE}"', f"id = {_toml_str(EVIL_ID)}")
    lines = [
        f"name = {_toml_str(EVIL)}" if line.startswith("name = ") else line
        for line in evil_machine.splitlines()
    ]
    (machines / "evil.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    mine = "\n".join(
        f"name = {_toml_str(EVIL)}" if line.startswith("name = ") else line
        for line in text.splitlines()
    )
    (machines / "zbook.toml").write_text(mine + "\n", encoding="utf-8")
    presets = scenario_presets_dir()
    presets.mkdir(parents=True)
    (presets / "broken.toml").write_text(f"format = 1\n{_toml_str(EVIL)} = 1\n", "utf-8")
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(hp_zbook_tree(tmp_path / "sysroot")))
    yield {
        "model": str(model),
        "quants": str(quants),
        "skipped": str(skipped),
        "export": str(tmp_path / "shared.toml"),
    }


def _commands(h: dict[str, str]) -> list[list[str]]:
    m = ["--machine", MACHINE]
    return [
        ["inspect", h["model"]],
        ["estimate", h["model"], *m],
        ["check", h["model"], *m],
        ["check", h["model"], "--machine", EVIL_ID],
        ["recommend", h["model"], *m],
        ["plan", h["model"], *m],
        ["plan", h["model"]],
        ["quants", h["quants"], *m],
        ["cluster", h["model"], "--node", f"{MACHINE}:32G", "--node", f"{MACHINE}:16G"],
        ["models", "--dir", h["quants"], "--dir", h["skipped"]],
        ["machines"],
        ["detect"],
        ["preset", "save", "evil", h["model"], *m, "--description", EVIL],
        ["preset", "save", "evil2", h["model"], "--machine", EVIL_ID, "--description", EVIL],
        ["preset", "list"],
        ["preset", "show", "evil"],
        ["preset", "show", "evil2"],
        ["preset", "show", "broken"],
        ["preset", "export", "evil2", h["export"]],
        ["preset", "import", h["export"], "--name", "evil3"],
        ["check", "--preset", "evil2"],
        ["preset", "save", "x" * 100_000, h["model"], *m],
    ]


def _leaks(text: str) -> list[str]:
    return [repr(c) for c in FORBIDDEN if c in text]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_no_command_lets_escapes_or_markup_through(
    hostile: dict[str, str], as_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    shown_literally = 0
    for argv in _commands(hostile):
        json_ok = argv[0] not in {"preset"} or argv[1] in {"list", "show"}
        full = [*argv, "--json"] if as_json and json_ok else argv
        code = main(full)
        out, err = capsys.readouterr()
        where = " ".join(a[:40] for a in full)
        assert code != 70, (where, err)
        assert not _leaks(out), (where, _leaks(out), out[-2000:])
        assert not _leaks(err), (where, _leaks(err), err[-2000:])
        assert "[/]" not in EVIL_FILE and len(err) < 4000, (where, len(err))
        if not as_json:
            shown_literally += "[red]" in out + err
            # "[red]" read as markup would vanish and leave "31mR" behind.
            assert "31mR" not in out + err, (where, out[-2000:], err)
    if not as_json:
        assert shown_literally >= 15


def test_one_way_to_show_untrusted_text() -> None:
    assert plain("a\x1b[2J\u009bb\nc") == "a\\x1b[2J\\x9bb c"
    long = plain("x" * 100_000)
    assert len(long) == MAX_SHOWN and long.endswith("…")
    # A command keeps every character (a path is not shortened), its controls visible.
    line = "llama-server -m " + shlex.quote("/m/a\nb\u009b" + "y" * 300 + ".gguf")
    assert command(line) == line.replace("\n", "\\x0a").replace("\u009b", "\\x9b")
    assert lines("a\tb\nc\x07") == "a\tb\nc\\x07"
    cut = lines("start " + "x" * 10_000 + " why", 100)
    assert len(cut) == 100 and cut.startswith("start ") and cut.endswith(" why")


def test_preset_toml_writes_c1_controls_as_escapes() -> None:
    s = Scenario(name="c1", model_ref="m", machine_id="x", description="a\u009b[2Jb\u202e")
    text = scenario_to_toml(s)
    assert "\u009b" not in text and "\\u009b" in text and "\\u202e" in text
    assert scenario_from_toml(text, "c1.toml") == s
