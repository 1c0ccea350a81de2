"""`vramtui`: bare (or with a model / --preset) it opens the app; with a command, headless."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vramtui import __version__
from vramtui.cli.common import (
    ArgumentParser,
    guarded,
)
from vramtui.core.vocab import ExitCode

# Each module registers its subcommands with `register(subparsers)`.
COMMAND_MODULES = (
    "vramtui.cli.inspect_cmd",
    "vramtui.cli.estimate_cmd",
    "vramtui.cli.fit_cmds",
    "vramtui.cli.preset_cmd",
    "vramtui.cli.models_cmd",
    "vramtui.cli.probe_cmd",
    "vramtui.cli.detect_cmd",
    "vramtui.cli.plan_cmd",
    "vramtui.cli.quants_cmd",
    "vramtui.cli.cluster_cmd",
)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="vramtui",
        description="Will this GGUF model run on this machine, and which BIOS carve-out should I "
        "pick? Run bare to open the app.",
    )
    parser.add_argument("--version", action="version", version=f"vramtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def build_app_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="vramtui", description="Open the vramtui app.")
    parser.add_argument("model", nargs="?", help="model to open on (default: the bundled default)")
    parser.add_argument("--preset", help="scenario preset name or file to open on")
    parser.add_argument("--machine", help="machine preset id")
    parser.add_argument("--carve-out", help="carve-out size, e.g. 32G")
    parser.add_argument("--os", dest="os_name", choices=("windows", "linux", "macos"))
    parser.add_argument("--mmproj", default="auto")
    return parser


def _wants_app(argv: Sequence[str], commands: set[str]) -> bool:
    for arg in argv:
        if arg in {"-h", "--help", "--version"}:
            return False
        if not arg.startswith("-"):
            return arg not in commands
    return True


def _run_app(args: argparse.Namespace) -> int:
    from vramtui.app.factory import create_app, run_app  # noqa: PLC0415 - the app loads textual

    return run_app(
        create_app(
            model=args.model,
            preset=args.preset,
            machine=args.machine,
            carve_out=args.carve_out,
            os_name=args.os_name,
            mmproj=args.mmproj,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands = set(action.choices)
    if _wants_app(argv, commands):
        app_args = build_app_parser().parse_args(argv)
        return guarded(_run_app)(app_args)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return ExitCode.BAD_INPUT
    code: int = guarded(handler)(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
