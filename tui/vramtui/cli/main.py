"""`vramtui`: bare (or with a model / --preset) it opens the app; with a command, headless."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vramtui import __version__

if TYPE_CHECKING:
    import argparse

    from vramtui.cli.common import ArgumentParser

# Every command: the module that registers it with `register(subparsers)` (a module may
# register several, listed together) and its one-line help for `vramtui --help`, in the order
# the help lists them. Only the module of the command being run is imported: the others stand
# in the parser as stubs with their help, so `--help` and `--version` import no command module.
COMMANDS: dict[str, tuple[str, str]] = {
    "inspect": (
        "vramtui.cli.inspect_cmd",
        "show what a model holds: architecture, parameters, quantization, layers, context",
    ),
    "estimate": (
        "vramtui.cli.estimate_cmd",
        "memory a runtime needs for a model at given settings",
    ),
    "check": ("vramtui.cli.fit_cmds", "will this model load and run well on this machine setup?"),
    "recommend": ("vramtui.cli.fit_cmds", "which BIOS carve-out to pick for a model"),
    "machines": ("vramtui.cli.fit_cmds", "the machine presets"),
    "preset": (
        "vramtui.cli.preset_cmd",
        "save, list, show, export, import and delete scenario presets",
    ),
    "models": (
        "vramtui.cli.models_cmd",
        "list GGUF models on this machine (LM Studio, Ollama, HF/llama.cpp caches, folders)",
    ),
    "probe": (
        "vramtui.cli.probe_cmd",
        "measure a running llama.cpp / LM Studio / Ollama server beside the prediction",
    ),
    "detect": (
        "vramtui.cli.detect_cmd",
        "what machine this is: RAM, GPUs, carve-out, and the preset it matches",
    ),
    "plan": (
        "vramtui.cli.plan_cmd",
        "what to set in the BIOS and which command to run, for a model on this machine",
    ),
    "quants": (
        "vramtui.cli.quants_cmd",
        "every quant of a model on this machine: which is the largest that runs cleanly",
    ),
    "cluster": (
        "vramtui.cli.cluster_cmd",
        "a model over several machines with llama.cpp's RPC backend (rpc-server)",
    ),
}


def _command_in(argv: Sequence[str]) -> str | None:
    """The command argparse will pick: the first argument that is not an option."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> ArgumentParser:
    """The parser for `argv`: the command it names is registered by its module, every other
    command is a stub with its help. Without `argv`, every command is registered in full."""
    from vramtui.cli.common import ArgumentParser  # noqa: PLC0415 - lazy: `--version` is instant

    parser = ArgumentParser(
        prog="vramtui",
        description="Will this GGUF model run on this machine, and which BIOS carve-out should I "
        "pick? Run bare to open the app.",
    )
    parser.add_argument("--version", action="version", version=f"vramtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    chosen = _command_in(argv) if argv is not None else None
    full = {m for m, _ in COMMANDS.values()} if argv is None else set()
    if chosen is not None:
        full.add(COMMANDS[chosen][0])
    registered: set[str] = set()
    for name, (module_name, help_line) in COMMANDS.items():
        if module_name not in full:
            sub.add_parser(name, help=help_line)
        elif module_name not in registered:
            importlib.import_module(module_name).register(sub)
            registered.add(module_name)
    return parser


def build_app_parser() -> ArgumentParser:
    """The app takes every flag `check` takes (the same declarations), so a question asked on
    the command line opens the app on exactly that answer."""
    from vramtui.cli.common import (  # noqa: PLC0415 - lazy: `--version` is instant
        ArgumentParser,
        add_also_arg,
        add_machine_args,
        add_model_args,
        add_preset_arg,
        add_runtime_args,
    )

    parser = ArgumentParser(prog="vramtui", description="Open the vramtui app.")
    add_model_args(parser, required=False)
    add_preset_arg(parser)
    add_machine_args(parser, carve=True)
    add_runtime_args(parser)
    add_also_arg(parser)
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
    from vramtui.cli.common import overrides_from_args  # noqa: PLC0415

    return run_app(create_app(preset=args.preset, overrides=overrides_from_args(args)))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"]:  # what argparse's version action does, without building parsers
        sys.stdout.write(f"vramtui {__version__}\n")
        raise SystemExit(0)
    from vramtui.cli.common import guarded  # noqa: PLC0415 - lazy: `--version` is instant
    from vramtui.core.vocab import ExitCode  # noqa: PLC0415

    if _wants_app(argv, set(COMMANDS)):
        app_args = build_app_parser().parse_args(argv)
        return guarded(_run_app)(app_args)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return ExitCode.BAD_INPUT
    code: int = guarded(handler)(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
