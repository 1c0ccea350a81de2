"""`vramtui preset save|list|show|export|import|delete`: scenario presets to keep and share."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tui.cli.common import (
    EXIT_OK,
    add_model_args,
    add_preset_arg,
    add_runtime_args,
    guarded,
    print_json,
    scenario_from_args,
)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("preset", help="save, share and reuse scenario presets")
    ps = p.add_subparsers(dest="preset_command", metavar="ACTION", required=True,
                          parser_class=type(p))  # fmt: skip

    s = ps.add_parser("save", help="save a scenario (model, machine, carve-out, settings)")
    s.add_argument("name")
    add_model_args(s, required=False)
    add_preset_arg(s)
    s.add_argument("--machine")
    s.add_argument("--carve-out")
    s.add_argument("--os", dest="os_name", choices=("windows", "linux", "macos"))
    s.add_argument("--runtime", choices=("llamacpp", "lmstudio", "ollama"))
    s.add_argument("--backend", choices=("vulkan", "rocm", "metal", "cuda", "cpu"))
    s.add_argument("--gtt")
    s.add_argument("--description", default="")
    s.add_argument("--force", action="store_true", help="overwrite a preset of that name")
    add_runtime_args(s)
    s.set_defaults(handler=guarded(run_save))

    s = ps.add_parser("list", help="saved presets")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=guarded(run_list))

    s = ps.add_parser("show", help="print a preset's TOML")
    s.add_argument("name", help="preset name or file")
    s.set_defaults(handler=guarded(run_show))

    s = ps.add_parser("export", help="write a saved preset to a file to share")
    s.add_argument("name")
    s.add_argument("dest", help="file or folder")
    s.set_defaults(handler=guarded(run_export))

    s = ps.add_parser("import", help="validate a preset file and save it")
    s.add_argument("path")
    s.add_argument("--name", help="save under this name")
    s.add_argument("--force", action="store_true", help="overwrite a preset of that name")
    s.set_defaults(handler=guarded(run_import))

    s = ps.add_parser("delete", help="delete a saved preset")
    s.add_argument("name")
    s.set_defaults(handler=guarded(run_delete))


def run_save(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tui.core.scenario import Scenario, save_scenario
    from tui.core.sizes import parse_size

    base, model, mmproj, settings = scenario_from_args(args)
    carve = parse_size(args.carve_out, "--carve-out") if args.carve_out else None
    gtt = parse_size(args.gtt, "--gtt") if args.gtt else None
    scenario = Scenario(model_ref=model, mmproj=mmproj, settings=settings, name=args.name,
                        description=args.description)  # fmt: skip
    if base is not None:
        scenario = replace(base, model_ref=model, mmproj=mmproj, settings=settings,
                           name=args.name, description=args.description or base.description)  # fmt: skip
    changes = {
        "machine_id": args.machine, "carve_out_bytes": carve, "os": args.os_name,
        "runtime": args.runtime, "backend": args.backend, "gtt_bytes": gtt,
    }  # fmt: skip
    scenario = replace(scenario, **{k: v for k, v in changes.items() if v is not None})
    if scenario.machine_id:
        from tui.core.machines import get_machine

        get_machine(scenario.machine_id)  # an unknown id is an error now, not at use
    path = save_scenario(scenario, force=args.force)
    sys.stdout.write(f"saved {path}\n")
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    from tui.core.scenario import list_scenarios

    problems: list[str] = []
    found = list_scenarios(problems)
    for problem in problems:
        sys.stderr.write(f"vramtui: {problem}\n")
    if args.json:
        print_json([{**s.to_toml_dict(), "name": s.name} for s in found])
        return EXIT_OK
    for s in found:
        sys.stdout.write(f"{s.name}\t{s.model_ref}\t{s.machine_id or '-'}\t{s.description}\n")
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    import tomli_w

    from tui.core.scenario import load_scenario

    sys.stdout.write(tomli_w.dumps(load_scenario(args.name).to_toml_dict()))
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    from tui.core.scenario import export_scenario

    path = export_scenario(args.name, Path(args.dest).expanduser())
    sys.stdout.write(f"exported {path}\n")
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    from tui.core.scenario import import_scenario

    path = import_scenario(Path(args.path).expanduser(), force=args.force, name=args.name)
    sys.stdout.write(f"imported {path}\n")
    return EXIT_OK


def run_delete(args: argparse.Namespace) -> int:
    from tui.core.scenario import delete_scenario

    path = delete_scenario(args.name)
    sys.stdout.write(f"deleted {path}\n")
    return EXIT_OK
