"""Pieces every command shares: runtime-setting flags (llama.cpp's names), model arguments,
JSON output, and the guard that turns errors into one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from vramtui.core.errors import SettingsError, VramtuiError
from vramtui.core.estimate.flags import SETTING_FLAGS, SettingFlag, parse_text
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.sizes import MiB, parse_size
from vramtui.core.vocab import Backend, ExitCode, OsName, Runtime
from vramtui.present import untrusted
from vramtui.present.untrusted import plain

if TYPE_CHECKING:  # the machine stage and Rich load when a command needs them: fast start-up
    from rich.console import Console

    from vramtui.core.gguf.spec import ModelSpec
    from vramtui.core.scenario.files import Scenario
    from vramtui.core.scenario.resolve import ResolvedScenario, ScenarioOverrides


_Word = TypeVar("_Word", bound=StrEnum)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that exits 2 with a single line instead of usage + message."""

    def error(self, message: str) -> Any:
        sys.stderr.write(f"vramtui: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(ExitCode.BAD_INPUT)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """A model argument from add_model_args(required=True) may be left out only when
        --preset names a scenario that carries one."""
        ns, extras = super().parse_known_args(args, namespace)
        if (
            getattr(ns, "_model_required", False)
            and getattr(ns, "model", None) is None
            and not getattr(ns, "preset", None)
        ):
            self.error("the following arguments are required: model (or --preset NAME|FILE)")
        return ns, extras


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high` (documented in --help)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not from {low} to {high}")
        return value

    parse.__name__ = "whole number"
    return parse


def _setting_type(flag: SettingFlag) -> Callable[[str], Any]:
    """An argparse type that reads a setting's text as the table says (bounds included)."""

    def parse(text: str) -> Any:
        try:
            return parse_text(flag, text)
        except SettingsError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = flag.label
    return parse


def add_runtime_args(parser: argparse.ArgumentParser) -> None:
    """One option per row of the settings table (llama.cpp's long names, with its short forms
    and help). Defaults are left unset (None, or absent for -ngl, whose None means all layers)
    so that a preset's values survive unless a flag overrides them."""
    g = parser.add_argument_group("runtime settings (llama.cpp names)")
    for flag in SETTING_FLAGS:
        options = flag.option_strings
        if flag.kind == "switch":
            g.add_argument(
                *options,
                dest=flag.name,
                action="store_const",
                const=flag.switch_value,
                default=None,
                help=flag.help_text,
            )
            continue
        g.add_argument(
            *options,
            dest=flag.name,
            type=_setting_type(flag),
            action="append" if flag.kind == "rules" else "store",
            default=argparse.SUPPRESS if flag.kind == "layers" else None,
            metavar=flag.metavar,
            help=flag.help_text,
        )


def settings_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The RuntimeSettings fields the user set with flags (nothing for flags left out)."""
    changes: dict[str, Any] = {}
    for flag in SETTING_FLAGS:
        if flag.kind == "layers":
            if hasattr(args, flag.name):
                changes[flag.name] = getattr(args, flag.name)
            continue
        value = getattr(args, flag.name, None)
        if flag.kind == "rules" and value is not None:
            value = ",".join(value) if value else None
        if value is not None:
            changes[flag.name] = value
    return changes


def settings_from_args(
    args: argparse.Namespace, base: RuntimeSettings | None = None
) -> RuntimeSettings:
    """Apply the flags the user gave on top of `base` (a preset's settings, or the defaults)."""
    settings = base or RuntimeSettings()
    changes = settings_changes(args)
    try:
        return settings.with_changes(**changes) if changes else settings
    except (TypeError, ValueError) as err:
        raise SettingsError(str(err)) from None


def add_model_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """MODEL, --mmproj and --preset NAME|FILE. With required=True the model may be left out
    only when --preset is given (checked by this module's ArgumentParser); read them with
    resolve_from_args() or resolve_model_and_settings() so that the preset's values apply."""
    parser.add_argument(
        "model",
        nargs="?",
        help="GGUF file, folder, hf:ORG/REPO/FILE.gguf, https:// URL, or catalog id "
        "(optional with --preset)",
    )
    parser.add_argument(
        "--mmproj", default="auto", help="projector: auto (default), none, or a path"
    )
    add_preset_arg(parser)
    add_remote_args(parser)
    if required:
        parser.set_defaults(_model_required=True)


def bounded_float(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number from `low` to `high` (NaN, inf and 1e999 are refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:  # NaN and infinities fail this too
            raise argparse.ArgumentTypeError(f"{text} is not from {low:g} to {high:g}")
        return value

    parse.__name__ = "number"
    return parse


def add_remote_args(parser: argparse.ArgumentParser) -> None:
    """--timeout and --allow-redirects for commands that may read a remote header."""
    parser.add_argument(
        "--timeout",
        type=bounded_float(1, 3600),
        default=120.0,
        metavar="SECONDS",
        help="give up reading a remote header after this long in total, 1 to 3600 (default 120)",
    )
    parser.add_argument(
        "--allow-redirects",
        action="store_true",
        help="follow a remote server's redirects to other hosts (Hugging Face's "
        "CDN is always followed)",
    )


def remote_args(args: argparse.Namespace) -> dict[str, Any]:
    """`open_model` keywords from --timeout and --allow-redirects."""
    return {
        "timeout": getattr(args, "timeout", None),
        "allow_redirects": bool(getattr(args, "allow_redirects", False)),
    }


@cache
def _console_class() -> type[Console]:
    from rich.console import Console  # noqa: PLC0415 - lazy: keeps start-up fast

    class _Console(Console):
        """Rich's console exits 1 when the reader of stdout goes away; here the command's own
        exit code stands (see `finish`)."""

        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _Console


def console() -> Console:
    """Where Rich output goes: a terminal wraps at its width; a pipe or file is never
    wrapped mid-phrase (soft wrap, and tables as wide as their content)."""
    # Strings printed are never read as markup or emoji codes; names go in as untrusted.text.
    if sys.stdout.isatty():
        return _console_class()(markup=False, emoji=False)
    return _console_class()(width=100_000, soft_wrap=True, markup=False, emoji=False)


def silence_stdout() -> None:
    """The reader of stdout went away (`| head -1`): point stdout at /dev/null so nothing
    else fails on it, and the exit code stays the command's own."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (captured in tests)
        pass


def finish(code: int, show: Callable[[], None]) -> int:
    """Print the answer, then return its exit code, even when stdout is closed early."""
    try:
        show()
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    return code


def emit(block: str) -> None:
    """Write plain output to stdout: the one path for printed text, so a name or path from a
    file that slipped through unquoted still shows its control characters visibly."""
    sys.stdout.write(untrusted.lines(block))


def warn(message: object) -> None:
    """One `vramtui: ...` line on stderr (a problem, a warning, a skipped file)."""
    sys.stderr.write(f"vramtui: {plain(message, 1000)}\n")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command: user errors become one stderr line and exit 2; nothing prints a traceback
    unless VRAMTUI_DEBUG is set."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except VramtuiError as err:
            # Messages quote paths, names and server text: shown with escapes made visible.
            warn(err)
            return err.exit_code
        except KeyboardInterrupt:
            sys.stderr.write("vramtui: interrupted\n")
            return 130
        except BrokenPipeError:
            silence_stdout()
            return ExitCode.OK
        except Exception as err:
            if os.environ.get("VRAMTUI_DEBUG"):
                raise
            sys.stderr.write(
                f"vramtui: internal error: {type(err).__name__}: {plain(err, 300)} "
                "(set VRAMTUI_DEBUG=1 for a traceback)\n"
            )
            return ExitCode.INTERNAL

    return run


def add_preset_arg(parser: argparse.ArgumentParser) -> None:
    """`--preset NAME|FILE`: a scenario preset whose values the other flags override.
    Safe to call after add_model_args (which adds it already)."""
    if "--preset" in parser._option_string_actions:
        return
    parser.add_argument(
        "--preset",
        metavar="NAME|FILE",
        help="scenario preset (saved name or TOML file): model, machine, carve-out, OS and "
        "settings; flags given beside it win",
    )


def add_machine_args(p: argparse.ArgumentParser, *, carve: bool = True) -> None:
    """--machine, --carve-out and the machine-state flags every scenario command shares."""
    p.add_argument("--machine", help="machine preset id (see `vramtui machines`)")
    if carve:
        p.add_argument("--carve-out", help="dedicated GPU memory set in the BIOS, e.g. 512M, 32G")
    p.add_argument("--os", dest="os_name", choices=[o.value for o in OsName])
    p.add_argument("--gtt", help="Linux GTT size (e.g. 60G) or ttm.pages_limit as pages=N")
    p.add_argument("--wired-limit", help="macOS iogpu.wired_limit_mb as a size, e.g. 100G")
    p.add_argument("--os-baseline", help="RAM the OS itself needs (default per OS)")
    p.add_argument(
        "--desktop-ram",
        help="RAM the desktop needs to stay smooth (default: Windows 16G, Linux 8G, macOS 8G)",
    )
    p.add_argument("--backend", choices=[b.value for b in Backend])
    p.add_argument("--runtime", choices=[r.value for r in Runtime])


def _size_flag(args: argparse.Namespace, name: str, flag: str) -> int | None:
    text = getattr(args, name, None)
    return None if text is None else parse_size(text, flag, minimum=MiB)


def _gtt_flag(args: argparse.Namespace) -> int | None:
    text = getattr(args, "gtt", None)
    if text is None:
        return None
    text = text.strip()
    if not text.startswith("pages="):
        return parse_size(text, "--gtt", minimum=MiB)
    try:
        pages = int(text[6:])
    except ValueError:
        raise SettingsError(f"--gtt: {text[:40]!r} is not pages=N") from None
    if pages > 1 << 32:  # 16 TiB in 4 KiB pages: more than any machine's RAM
        raise SettingsError(f"--gtt: pages={pages:.3g} is more than {1 << 32} pages")
    from vramtui.core.hardware.pools import gtt_from_pages_limit  # noqa: PLC0415 - lazy: start-up

    return gtt_from_pages_limit(pages)


def overrides_from_args(args: argparse.Namespace) -> ScenarioOverrides:
    """What the command line says about the scenario; flags left out stay None."""
    from vramtui.core.scenario.resolve import ScenarioOverrides  # noqa: PLC0415 - lazy: start-up

    return ScenarioOverrides(
        model_ref=getattr(args, "model", None),
        mmproj=getattr(args, "mmproj", None),
        machine_id=getattr(args, "machine", None),
        carve_out_bytes=_size_flag(args, "carve_out", "--carve-out"),
        os=enum_flag(OsName, getattr(args, "os_name", None)),
        gtt_bytes=_gtt_flag(args),
        wired_limit_bytes=_size_flag(args, "wired_limit", "--wired-limit"),
        os_baseline_bytes=_size_flag(args, "os_baseline", "--os-baseline"),
        desktop_ram_bytes=_size_flag(args, "desktop_ram", "--desktop-ram"),
        backend=enum_flag(Backend, getattr(args, "backend", None)),
        runtime=enum_flag(Runtime, getattr(args, "runtime", None)),
        settings=settings_changes(args),
        also=_also_flag(args),
    )


def add_also_arg(p: argparse.ArgumentParser) -> None:
    """`--also "MODEL [flags]"`, repeatable: more models loaded at the same time."""
    p.add_argument(
        "--also",
        action="append",
        metavar='"MODEL [FLAGS]"',
        help="another model loaded at the same time, with its own runtime settings "
        '(llama.cpp names), e.g. --also "llama-3.1-8b:Q4_K_M -c 4K"; repeatable, '
        "at most 7 (8 models in all)",
    )


def _also_flag(args: argparse.Namespace) -> tuple[Any, ...] | None:
    texts = getattr(args, "also", None)
    if texts is None:
        return None
    from vramtui.core.scenario.also import check_count, parse_also  # noqa: PLC0415 - lazy

    check_count(len(texts))
    return tuple(parse_also(t) for t in texts)


def enum_flag(vocab: type[_Word], value: str | None) -> _Word | None:
    """A flag argparse checked against the vocabulary (`choices`), as its enum member."""
    return None if value is None else vocab(value)


def _preset(args: argparse.Namespace) -> Scenario | None:
    from vramtui.core.scenario.files import load_scenario  # noqa: PLC0415 - lazy: start-up

    name = getattr(args, "preset", None)
    return load_scenario(name) if name else None


def resolve_from_args(args: argparse.Namespace) -> ResolvedScenario:
    """The complete scenario: command-line flags over the --preset's values over the
    machine's defaults (vramtui.core.scenario.resolve, shared with the app and the probe)."""
    from vramtui.core.scenario.resolve import resolve_scenario  # noqa: PLC0415 - lazy: start-up

    return resolve_scenario(_preset(args), overrides_from_args(args))


def open_scenario(
    args: argparse.Namespace,
) -> tuple[ResolvedScenario, ModelSpec, RuntimeSettings]:
    """The scenario the flags describe, its model opened (with its draft), and the settings
    for that model (a default context no longer than its training context)."""
    from vramtui.core.model.draft import with_draft  # noqa: PLC0415 - lazy: start-up
    from vramtui.core.model.source import open_model  # noqa: PLC0415 - lazy: start-up

    resolved = resolve_from_args(args)
    spec = with_draft(
        open_model(resolved.model_ref, mmproj=resolved.mmproj, **remote_args(args)),
        resolved.settings.model_draft,
    )
    return resolved, spec, resolved.settings_for(spec)


def resolve_model_and_settings(
    args: argparse.Namespace,
) -> tuple[str, str, RuntimeSettings]:
    """(model ref, projector choice, settings) for commands that need no machine."""
    from vramtui.core.scenario.resolve import resolve_model  # noqa: PLC0415 - lazy: start-up

    return resolve_model(_preset(args), overrides_from_args(args))
