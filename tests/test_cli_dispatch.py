"""The command line imports only the command it runs: `--version` and `--help` import no command
module, a command imports its own module only, and the help table in main.py says what the
modules register."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vramtui import __version__
from vramtui.cli.main import COMMANDS, build_parser, main

SOURCE = Path(__file__).resolve().parent.parent / "tui"
COMMAND_MODULES = {module for module, _ in COMMANDS.values()}


# `vramtui ARGS` in a fresh interpreter, then the names of every module it imported on stderr.
DRIVER = """
import sys
from vramtui.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit_:
    code = exit_.code
sys.stderr.write("\\nIMPORTED " + " ".join(sorted(sys.modules)) + "\\n")
sys.exit(code)
"""


def _imported_modules(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `vramtui ARGS` in a fresh interpreter: its result, and the modules it imported."""
    env = {**os.environ, "PYTHONPATH": str(SOURCE)}
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    last = run.stderr.rstrip().rsplit("\n", 1)[-1]
    assert last.startswith("IMPORTED "), run.stderr[-2000:]
    return run, set(last.split()[1:])


def _choices(parser: argparse.ArgumentParser) -> list[tuple[str, str | None]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [(a.dest, a.help) for a in action._choices_actions]
    raise AssertionError("no subcommands")


def test_version_imports_no_command_module() -> None:
    run, imported = _imported_modules("--version")
    assert run.returncode == 0
    assert run.stdout == f"vramtui {__version__}\n"
    assert "vramtui.cli.main" in imported
    assert not imported & COMMAND_MODULES


def test_help_lists_every_command_without_importing_one() -> None:
    run, imported = _imported_modules("--help")
    assert run.returncode == 0
    letters = "".join(run.stdout.split())  # argparse wraps long help lines
    for name, (_, help_line) in COMMANDS.items():
        assert "".join(f"{name} {help_line}".split()) in letters, name
    assert not imported & COMMAND_MODULES


def test_a_command_imports_its_own_module_only() -> None:
    run, imported = _imported_modules("machines", "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    assert imported & COMMAND_MODULES == {"vramtui.cli.fit_cmds"}


def test_the_help_table_is_what_the_modules_register() -> None:
    """In full (every module registered) the commands, their order and help match COMMANDS."""
    assert _choices(build_parser()) == [(name, help) for name, (_, help) in COMMANDS.items()]


def test_the_lazy_parser_lists_the_same_commands_as_the_full_one() -> None:
    full = _choices(build_parser())
    assert _choices(build_parser(["--help"])) == full
    assert _choices(build_parser(["check", "glm-4.7-flash"])) == full


def test_version_in_process_answers_as_argparse_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as fast:
        main(["--version"])
    fast_out = capsys.readouterr().out
    with pytest.raises(SystemExit) as parsed:
        build_parser().parse_args(["--version"])
    assert fast.value.code == parsed.value.code == 0
    assert fast_out == capsys.readouterr().out == f"vramtui {__version__}\n"
