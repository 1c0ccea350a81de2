"""Pieces every command shares: runtime-setting flags (llama.cpp's names), model arguments,
JSON output, and the guard that turns errors into one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tui.core.errors import SettingsError, VramtuiError
from tui.core.estimate.settings import FLASH_ATTN_VALUES, RuntimeSettings

if TYPE_CHECKING:
    from tui.core.machine.scenario import Scenario

EXIT_OK = 0
EXIT_WARN = 1
EXIT_BAD_INPUT = 2
EXIT_WONT_FIT = 3
EXIT_INTERNAL = 70


class ArgumentParser(argparse.ArgumentParser):
    """argparse that exits 2 with a single line instead of usage + message."""

    def error(self, message: str) -> Any:
        sys.stderr.write(f"vramtui: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_BAD_INPUT)

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


def _gpu_layers(text: str) -> int | None:
    if text in {"all", "auto", "-1"}:
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'all'") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more, or 'all'")
    return value


def add_runtime_args(parser: argparse.ArgumentParser) -> None:
    """llama.cpp's long names, with its short forms. Defaults are left unset (None) so that a
    preset's values survive unless a flag overrides them."""
    g = parser.add_argument_group("runtime settings (llama.cpp names)")
    g.add_argument("-c", "--ctx-size", type=int, help="context size in tokens (0 = training ctx)")
    g.add_argument("-np", "--parallel", type=int, help="parallel sequences (server slots)")
    g.add_argument("-kvu", "--kv-unified", action="store_true", default=None)
    g.add_argument("-b", "--batch-size", type=int)
    g.add_argument("-ub", "--ubatch-size", type=int)
    g.add_argument("-ctk", "--cache-type-k", help="K cache type: f16, q8_0, q4_0, ...")
    g.add_argument("-ctv", "--cache-type-v", help="V cache type (quantized V needs -fa on)")
    g.add_argument("-fa", "--flash-attn", choices=FLASH_ATTN_VALUES)
    g.add_argument("-ngl", "--n-gpu-layers", "--gpu-layers", type=_gpu_layers,
                   default=argparse.SUPPRESS, help="layers on the GPU (all, or N)")  # fmt: skip
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


def settings_from_args(
    args: argparse.Namespace, base: RuntimeSettings | None = None
) -> RuntimeSettings:
    """Apply the flags the user gave on top of `base` (a preset's settings, or the defaults)."""
    settings = base or RuntimeSettings()
    changes: dict[str, Any] = {}
    for name in ("ctx_size", "parallel", "batch_size", "ubatch_size", "flash_attn"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    for name in ("cache_type_k", "cache_type_v"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value.lower()
    if getattr(args, "kv_unified", None):
        changes["kv_unified"] = True
    if hasattr(args, "n_gpu_layers"):
        changes["n_gpu_layers"] = args.n_gpu_layers
    if getattr(args, "no_kv_offload", None):
        changes["kv_offload"] = False
    if getattr(args, "no_mmap", None):
        changes["mmap"] = False
    if getattr(args, "keep_in_memory", None):
        changes["keep_in_memory"] = True
    if getattr(args, "swa_full", None):
        changes["swa_full"] = True
    if getattr(args, "no_mmproj_offload", None):
        changes["mmproj_offload"] = False
    if not changes:
        return settings
    try:
        return settings.with_changes(**changes)
    except SettingsError:
        raise
    except (TypeError, ValueError) as err:
        raise SettingsError(str(err)) from None


def add_model_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """MODEL, --mmproj and --preset NAME|FILE. With required=True the model may be left out
    only when --preset is given (checked by this module's ArgumentParser); read them with
    resolve_model_and_settings() so that the preset's model and settings apply."""
    parser.add_argument(
        "model", nargs="?",
        help="GGUF file, folder, hf:ORG/REPO/FILE.gguf, https:// URL, or catalog id "
        "(optional with --preset)",
    )  # fmt: skip
    parser.add_argument(
        "--mmproj", default="auto", help="projector: auto (default), none, or a path"
    )
    add_preset_arg(parser)
    if required:
        parser.set_defaults(_model_required=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command: user errors become one stderr line and exit 2; nothing prints a traceback
    unless VRAMTUI_DEBUG is set."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except VramtuiError as err:
            sys.stderr.write(f"vramtui: {err}\n")
            return err.exit_code
        except KeyboardInterrupt:
            sys.stderr.write("vramtui: interrupted\n")
            return 130
        except BrokenPipeError:
            return EXIT_OK
        except Exception as err:
            if os.environ.get("VRAMTUI_DEBUG"):
                raise
            sys.stderr.write(
                f"vramtui: internal error: {type(err).__name__}: {err} "
                "(set VRAMTUI_DEBUG=1 for a traceback)\n"
            )
            return EXIT_INTERNAL

    return run


def add_preset_arg(parser: argparse.ArgumentParser) -> None:
    """`--preset NAME|FILE`: a scenario preset whose values the other flags override.
    Safe to call after add_model_args (which adds it already)."""
    if "--preset" in parser._option_string_actions:
        return
    parser.add_argument(
        "--preset", metavar="NAME|FILE",
        help="scenario preset (saved name or TOML file): model, machine, carve-out, OS and "
        "settings; flags given beside it win",
    )  # fmt: skip


def scenario_from_args(
    args: argparse.Namespace,
) -> tuple[Scenario | None, str, str, RuntimeSettings]:
    """(scenario or None, model ref, mmproj, settings) with the command-line flags merged over
    the preset named by --preset. The model argument wins over the preset's model."""
    scenario = None
    name = getattr(args, "preset", None)
    if name:
        from tui.core.machine.scenario import load_scenario  # noqa: PLC0415 - lazy: only with --preset

        scenario = load_scenario(name)
    model = getattr(args, "model", None) or (scenario.model_ref if scenario else None)
    if not model:
        raise SettingsError("no model given: pass MODEL or --preset NAME")
    mmproj = getattr(args, "mmproj", "auto")
    if scenario is not None and mmproj == "auto" and not getattr(args, "model", None):
        mmproj = scenario.mmproj
    settings = settings_from_args(args, scenario.settings if scenario else None)
    return scenario, model, mmproj, settings


def resolve_model_and_settings(
    args: argparse.Namespace,
) -> tuple[str, RuntimeSettings, Scenario | None]:
    """(model ref, settings, scenario or None) for a command built with add_model_args: the
    --preset scenario's model and settings with the command-line flags laid over them. When the
    model comes from the preset, its --mmproj choice is copied into `args.mmproj` too."""
    scenario, model, mmproj, settings = scenario_from_args(args)
    if hasattr(args, "mmproj"):
        args.mmproj = mmproj
    return model, settings, scenario
