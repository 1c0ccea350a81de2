"""Pieces every command shares: runtime-setting flags (llama.cpp's names), model arguments,
JSON output, and the guard that turns errors into one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from vramtui.core.errors import SettingsError, VramtuiError
from vramtui.core.estimate.settings import DEFAULT_CTX_SIZE, FLASH_ATTN_VALUES, RuntimeSettings
from vramtui.core.estimate.tensor_rules import parse_override_tensor
from vramtui.core.sizes import MiB, parse_size, parse_tokens
from vramtui.core.vocab import Backend, ExitCode, OsName, Runtime
from vramtui.present.untrusted import plain

MAX_LAYERS = 10_000  # far above any model's layer count; keeps the number sane
if TYPE_CHECKING:  # the machine stage and Rich load when a command needs them: fast start-up
    from rich.console import Console

    from vramtui.core.scenario.files import Scenario
    from vramtui.core.scenario.resolve import ResolvedScenario, ScenarioOverrides


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


def _context(text: str) -> int:
    try:
        return parse_tokens(text, "-c")
    except SettingsError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("-c: ")) from None


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


def _gpu_layers(text: str) -> int | None:
    if text in {"all", "auto", "-1"}:
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'all'") from None
    if not 0 <= value <= MAX_LAYERS:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_LAYERS}, or 'all'")
    return value


def _override_rule(text: str) -> str:
    try:
        parse_override_tensor(text)
    except SettingsError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_runtime_args(parser: argparse.ArgumentParser) -> None:
    """llama.cpp's long names, with its short forms. Defaults are left unset (None) so that a
    preset's values survive unless a flag overrides them."""
    g = parser.add_argument_group("runtime settings (llama.cpp names)")
    g.add_argument(
        "-c",
        "--ctx-size",
        type=_context,
        help="context: 16K, 32768, or max (the model's training context); "
        f"default {DEFAULT_CTX_SIZE}",
    )
    g.add_argument(
        "-np",
        "--parallel",
        type=bounded_int(1, 512),
        help="parallel sequences (server slots), 1 to 512",
    )
    g.add_argument("-kvu", "--kv-unified", action="store_true", default=None)
    g.add_argument("-b", "--batch-size", type=bounded_int(1, 1 << 20), help="1 to 1048576")
    g.add_argument("-ub", "--ubatch-size", type=bounded_int(1, 1 << 20), help="1 to 1048576")
    g.add_argument("-ctk", "--cache-type-k", help="K cache type: f16, q8_0, q4_0, ...")
    g.add_argument("-ctv", "--cache-type-v", help="V cache type (quantized V needs -fa on)")
    g.add_argument("-fa", "--flash-attn", choices=FLASH_ATTN_VALUES)
    g.add_argument(
        "-ngl",
        "--n-gpu-layers",
        "--gpu-layers",
        type=_gpu_layers,
        default=argparse.SUPPRESS,
        help="layers on the GPU (all, or N)",
    )
    g.add_argument("-nkvo", "--no-kv-offload", action="store_true", default=None)
    g.add_argument("--no-mmap", action="store_true", default=None)
    g.add_argument(
        "--mlock",
        "--keep-in-memory",
        dest="keep_in_memory",
        action="store_true",
        default=None,
        help="keep the model in system RAM too (LM Studio's default)",
    )
    g.add_argument("--swa-full", action="store_true", default=None)
    g.add_argument("--no-mmproj-offload", action="store_true", default=None)
    g.add_argument(
        "-ot",
        "--override-tensor",
        action="append",
        type=_override_rule,
        metavar="PATTERN=BUFFER",
        help="keep tensors matching PATTERN in BUFFER "
        "(CPU or the GPU's, e.g. exps=CPU); repeatable",
    )
    g.add_argument(
        "-cmoe",
        "--cpu-moe",
        action="store_true",
        default=None,
        help="keep all MoE expert weights in system RAM",
    )
    g.add_argument(
        "-ncmoe",
        "--n-cpu-moe",
        type=bounded_int(0, MAX_LAYERS),
        metavar="N",
        help="keep the expert weights of the first N layers in system RAM",
    )
    g.add_argument(
        "-md",
        "--model-draft",
        metavar="MODEL",
        help="draft model for speculative decoding (a path, hf:, URL or catalog id)",
    )


def settings_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The RuntimeSettings fields the user set with flags (nothing for flags left out)."""
    changes: dict[str, Any] = {}
    for name in (
        "ctx_size",
        "parallel",
        "batch_size",
        "ubatch_size",
        "flash_attn",
        "n_cpu_moe",
        "model_draft",
    ):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    for name in ("cache_type_k", "cache_type_v"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value.lower()
    if hasattr(args, "n_gpu_layers"):
        changes["n_gpu_layers"] = args.n_gpu_layers
    if getattr(args, "override_tensor", None):
        changes["override_tensor"] = ",".join(args.override_tensor)
    for flag, name, value in (
        ("kv_unified", "kv_unified", True),
        ("no_kv_offload", "kv_offload", False),
        ("no_mmap", "mmap", False),
        ("keep_in_memory", "keep_in_memory", True),
        ("swa_full", "swa_full", True),
        ("no_mmproj_offload", "mmproj_offload", False),
        ("cpu_moe", "cpu_moe", True),
    ):
        if getattr(args, flag, None):
            changes[name] = value
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
    """Where plain output goes: a terminal wraps at its width; a pipe or file is never
    wrapped mid-phrase (soft wrap, and tables as wide as their content)."""
    if sys.stdout.isatty():
        return _console_class()()
    return _console_class()(width=100_000, soft_wrap=True)


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
            sys.stderr.write(f"vramtui: {plain(err, 1000)}\n")
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
        os=getattr(args, "os_name", None),
        gtt_bytes=_gtt_flag(args),
        wired_limit_bytes=_size_flag(args, "wired_limit", "--wired-limit"),
        os_baseline_bytes=_size_flag(args, "os_baseline", "--os-baseline"),
        desktop_ram_bytes=_size_flag(args, "desktop_ram", "--desktop-ram"),
        backend=getattr(args, "backend", None),
        runtime=getattr(args, "runtime", None),
        settings=settings_changes(args),
    )


def _preset(args: argparse.Namespace) -> Scenario | None:
    from vramtui.core.scenario.files import load_scenario  # noqa: PLC0415 - lazy: start-up

    name = getattr(args, "preset", None)
    return load_scenario(name) if name else None


def resolve_from_args(args: argparse.Namespace) -> ResolvedScenario:
    """The complete scenario: command-line flags over the --preset's values over the
    machine's defaults (vramtui.core.scenario.resolve, shared with the app and the probe)."""
    from vramtui.core.scenario.resolve import resolve_scenario  # noqa: PLC0415 - lazy: start-up

    return resolve_scenario(_preset(args), overrides_from_args(args))


def resolve_model_and_settings(
    args: argparse.Namespace,
) -> tuple[str, str, RuntimeSettings]:
    """(model ref, projector choice, settings) for commands that need no machine."""
    from vramtui.core.scenario.resolve import resolve_model  # noqa: PLC0415 - lazy: start-up

    return resolve_model(_preset(args), overrides_from_args(args))
