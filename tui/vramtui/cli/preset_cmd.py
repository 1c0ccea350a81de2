"""`vramtui preset save|list|show|export|import|delete`: scenario presets to keep and share.

Nothing is lost or silently replaced: save/import/export refuse to overwrite without --force,
import validates the whole file before it writes, and every write is atomic.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from vramtui.cli.common import (
    ArgumentParser,
    add_also_arg,
    add_machine_args,
    add_runtime_args,
    emit,
    guarded,
    overrides_from_args,
    print_json,
    settings_from_args,
    warn,
)
from vramtui.core.errors import PresetError, SettingsError
from vramtui.core.scenario.files import (
    Scenario,
    delete_scenario,
    export_scenario,
    import_scenario,
    list_scenarios,
    load_scenario,
    renamed,
    save_scenario,
    scenario_to_toml,
    validate_against,
)
from vramtui.core.scenario.resolve import STATE_FIELDS
from vramtui.core.sizes import format_bytes
from vramtui.core.vocab import ExitCode
from vramtui.present.untrusted import plain


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "preset",
        help="save, list, show, export, import and delete scenario presets",
        description="A scenario preset is one small TOML file: model, machine, carve-out, OS "
        "and runtime settings. Every command that takes a model also takes --preset NAME|FILE.",
    )
    p.set_defaults(handler=guarded(_usage(p)))
    ps = p.add_subparsers(dest="preset_command", metavar="ACTION", parser_class=ArgumentParser)

    s = ps.add_parser("save", help="save a scenario under a name")
    s.add_argument("name", help="preset name: a-z, 0-9, '.', '_', '-'")
    s.add_argument("model", nargs="?", help="model reference (needed unless --from)")
    s.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="start from a scenario file; the other flags override it",
    )
    s.add_argument("--mmproj", help="projector: auto, none or a path")
    add_machine_args(s)
    s.add_argument("--description", help="one line saying what this scenario is")
    s.add_argument("--force", action="store_true", help="replace a preset of that name")
    add_runtime_args(s)
    add_also_arg(s)
    s.set_defaults(handler=guarded(run_save))

    s = ps.add_parser("list", help="the saved presets (broken files listed with their error)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=guarded(run_list))

    s = ps.add_parser("show", help="print a preset's TOML (or JSON)")
    s.add_argument("name", metavar="NAME|FILE")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=guarded(run_show))

    s = ps.add_parser("export", help="write a saved preset to a file to share")
    s.add_argument("name")
    s.add_argument("dest", metavar="FILE", help="file (or folder: NAME.toml in it)")
    s.add_argument("--force", action="store_true", help="replace an existing file")
    s.set_defaults(handler=guarded(run_export))

    s = ps.add_parser("import", help="validate a preset file, then save it")
    s.add_argument("path", metavar="FILE")
    s.add_argument("--name", help="save under this name instead of the file's")
    s.add_argument("--force", action="store_true", help="replace a preset of that name")
    s.add_argument(
        "--replace-machine",
        action="store_true",
        help="the preset carries its own machine: replace a different machine of "
        "that id without asking",
    )
    s.set_defaults(handler=guarded(run_import))

    s = ps.add_parser("delete", help="delete a saved preset")
    s.add_argument("name")
    s.set_defaults(handler=guarded(run_delete))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        sys.stderr.write(
            "vramtui: preset needs an action: save, list, show, export, import, delete"
            f" (see `{parser.prog} --help`)\n"
        )
        return ExitCode.BAD_INPUT

    return run


def _warn_unknown_machine(s: Scenario) -> None:
    """A machine id not installed here is saved anyway (it may be a friend's own preset)."""
    from vramtui.core.hardware.presets import load_machines  # noqa: PLC0415 - lazy: reads preset files

    try:
        ids = load_machines().ids()
    except Exception:  # a warning must never stop a save
        return
    for warning in validate_against(s, ids):
        warn(f"warning: {warning}")


def run_save(args: argparse.Namespace) -> int:
    base = load_scenario(args.from_file) if args.from_file else None
    given = overrides_from_args(args)
    model = given.model_ref or (base.model_ref if base else None)
    machine = given.machine_id or (base.machine_id if base else None)
    if not model or not machine:
        raise SettingsError("preset save: give MODEL and --machine ID (or --from FILE)")
    changes: dict[str, Any] = {name: getattr(given, name) for name in STATE_FIELDS}
    changes["description"] = args.description
    changes["mmproj"] = args.mmproj
    changes["also"] = given.also  # --also replaces the file's [[also]] list
    given_fields = {k: v for k, v in changes.items() if v is not None}
    settings = settings_from_args(args, base.settings if base else None)
    start = base or Scenario(name=args.name, model_ref=model, machine_id=machine)
    scenario = renamed(
        replace(start, model_ref=model, machine_id=machine, settings=settings, **given_fields),
        args.name,
    )
    scenario = _with_definition(scenario)
    path = save_scenario(scenario, force=args.force)
    _warn_unknown_machine(scenario)
    emit(f"saved preset {plain(scenario.name)} to {plain(path, 1000)}\n")
    return ExitCode.OK


def run_list(args: argparse.Namespace) -> int:
    listings = list_scenarios()
    if args.json:
        print_json(
            [
                {
                    "name": item.name,
                    "path": str(item.path),
                    "ok": item.scenario is not None,
                    "error": item.error,
                    "scenario": item.scenario.to_json() if item.scenario else None,
                }
                for item in listings
            ]
        )
        return ExitCode.OK
    if not listings:
        emit("no presets saved yet (vramtui preset save NAME MODEL --machine ID)\n")
        return ExitCode.OK
    for item in listings:
        s = item.scenario
        if s is None:
            emit(f"{plain(item.name)}\tBROKEN: {plain(item.error, 1000)}\n")
            continue
        carve = format_bytes(s.carve_out_bytes, 0) if s.carve_out_bytes is not None else "default"
        fields = [
            plain(s.name),
            plain(s.model_ref),
            plain(s.machine_id),
            f"carve-out {carve}",
            plain(s.os or "default os"),
            f"ctx {s.settings.ctx_size}",
        ]
        if s.description:
            fields.append(plain(s.description))
        emit("\t".join(fields) + "\n")
    return ExitCode.OK


def run_show(args: argparse.Namespace) -> int:
    s = load_scenario(args.name)
    if args.json:
        print_json(s.to_json())
    else:
        emit(scenario_to_toml(s))
    return ExitCode.OK


def run_export(args: argparse.Namespace) -> int:
    path = export_scenario(args.name, Path(args.dest).expanduser(), force=args.force)
    emit(f"exported preset {plain(args.name)} to {plain(path, 1000)}\n")
    return ExitCode.OK


def _with_definition(s: Scenario) -> Scenario:
    """A preset on the user's own machine carries that machine's file (for a friend)."""
    from vramtui.core.hardware.embedded import definition_for  # noqa: PLC0415 - reads machine files
    from vramtui.core.hardware.presets import load_machines  # noqa: PLC0415

    machine = load_machines().get(s.machine_id)
    definition = definition_for(machine) if machine is not None else None
    return replace(s, machine_definition=definition) if definition is not None else s


def _may_replace_machine(s: Scenario, args: argparse.Namespace) -> bool:
    """Whether the preset's own machine may replace a different one of that id here: with
    --replace-machine, or when the user says yes at a terminal; otherwise the import stops."""
    from vramtui.core.hardware.embedded import embedded_machine  # noqa: PLC0415

    if s.machine_definition is None:
        return False
    plan = embedded_machine(s.machine_definition, args.path, s.machine_id)
    if not plan.replaces or args.replace_machine:
        return True
    where = plain(plan.target, 1000)
    question = (
        f"The preset carries machine {plain(repr(s.machine_id))}, but a different machine of that "
        f"id is here ({where}). Replace it? [y/N] "
    )
    if sys.stdin.isatty() and input(question).strip().lower() in ("y", "yes"):
        return True
    raise PresetError(
        args.path,
        "machine_definition",
        f"a different machine {s.machine_id!r} is installed here; --replace-machine replaces it",
    )


def run_import(args: argparse.Namespace) -> int:
    from vramtui.core.hardware.embedded import install_machine  # noqa: PLC0415

    path = Path(args.path).expanduser()
    replace_machine = _may_replace_machine(load_scenario(str(path)), args)
    s = import_scenario(path, name=args.name, force=args.force)
    if s.machine_definition is not None:
        installed = install_machine(
            s.machine_definition, args.path, s.machine_id, replace=replace_machine
        )
        if installed is not None:
            emit(f"installed machine {plain(s.machine_id)} to {plain(installed, 1000)}\n")
    _warn_unknown_machine(s)
    emit(f"imported preset {plain(s.name)} (vramtui check --preset {plain(s.name)})\n")
    return ExitCode.OK


def run_delete(args: argparse.Namespace) -> int:
    path = delete_scenario(args.name)
    emit(f"deleted preset {plain(args.name)} ({plain(path, 1000)})\n")
    return ExitCode.OK
