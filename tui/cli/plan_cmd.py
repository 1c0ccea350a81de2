"""`vramtui plan MODEL [--machine ID] [--carve-out SIZE] [--json]`: what to set in the BIOS
and what to run. Without --machine (or a --preset naming one) it plans for this machine as
`vramtui detect` finds it, at its current carve-out; --carve-out says what is set now.

Exit codes as `check`: 0 the plan runs cleanly, 1 with warnings, 3 nothing runs the model,
2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from tui.cli.common import (
    add_machine_args,
    add_model_args,
    add_runtime_args,
    guarded,
    overrides_from_args,
    print_json,
    remote_args,
    resolve_from_args,
    resolve_model_and_settings,
)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "plan",
        help="what to set in the BIOS and which command to run, for a model on this machine",
    )
    add_model_args(p, required=True)
    add_machine_args(p, carve=True)
    add_runtime_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=guarded(run_plan))


def _scenario_machine(args: argparse.Namespace) -> tuple[str | None, bool]:
    """(machine id from --machine or the preset, whether the preset sets a carve-out)."""
    if args.machine:
        return args.machine, False
    if not getattr(args, "preset", None):
        return None, False
    from tui.core.machine.scenario import load_scenario  # noqa: PLC0415

    s = load_scenario(args.preset)
    return s.machine_id or None, s.carve_out_bytes is not None


def _state_and_source(args: argparse.Namespace) -> tuple[Any, str]:
    """The machine state whose carve-out is the current one, and how that carve-out is known."""
    machine_id, preset_carve = _scenario_machine(args)
    given = args.carve_out is not None
    if machine_id:
        state = resolve_from_args(args).state
        return state, "given" if given else "preset" if preset_carve else "default"
    from tui.core.machine.detect import detect_machine  # noqa: PLC0415
    from tui.core.machine.detect_match import detected_machine_state  # noqa: PLC0415
    from tui.core.machine.resolve import STATE_FIELDS  # noqa: PLC0415

    detection = detect_machine()
    state = detected_machine_state(detection)
    overrides = overrides_from_args(args)
    changes = {f: getattr(overrides, f) for f in STATE_FIELDS if getattr(overrides, f) is not None}
    if changes:
        state = replace(state, **changes)
    known = "detected" if detection.carve_out_bytes is not None else "default"
    return state, "given" if given else known


def run_plan(args: argparse.Namespace) -> int:
    from tui.core.machine.plan import build_plan  # noqa: PLC0415
    from tui.core.model.draft_model import with_draft  # noqa: PLC0415
    from tui.core.model.source import open_model  # noqa: PLC0415
    from tui.core.probe.calibration import factor_of, scenario_calibration  # noqa: PLC0415

    model, mmproj, settings = resolve_model_and_settings(args)
    state, source = _state_and_source(args)
    spec = with_draft(open_model(model, mmproj=mmproj, **remote_args(args)), settings.model_draft)
    calibration = factor_of(scenario_calibration(spec, state))
    ctx_given = args.ctx_size is not None or bool(getattr(args, "preset", None))
    plan = build_plan(
        spec, settings, state, ctx_given=ctx_given, current_source=source,
        calibration=calibration,
    )  # fmt: skip
    if args.json:
        print_json(plan.to_json())
    else:
        _print_plan(plan)
    return plan.verdict.exit_code


def _print_plan(plan: Any) -> None:
    """Plain text: the model name and paths come from files and are printed as they are."""
    out = [plan.sentence]
    c = plan.commands
    if c is not None:
        out += ["", "llama.cpp:", f"  {c.llama_server}"]
        if not c.model_path_known:
            out.append("  (put the path of your GGUF file after -m)")
        out += ["LM Studio:", f"  {c.lms_load}"]
        out += [f"  {k}: {_value(v)}" for k, v in c.lmstudio.items()]
        opts = ", ".join(f"{k} {v}" for k, v in c.ollama_options.items())
        env = " ".join(f"{k}={v}" for k, v in c.ollama_env.items())
        out += ["Ollama:", f"  parameters: {opts}", f"  server environment: {env}"]
    gtt = plan.gtt_route  # worth a line only when the plan means a reboot anyway
    wanted = plan.reboot_needed or plan.fit is None
    if gtt is not None and wanted and gtt.sentence not in plan.sentence:
        out += ["", gtt.sentence]
    sys.stdout.write("\n".join(out) + "\n")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    return str(v)
