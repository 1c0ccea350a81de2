"""`vramtui plan MODEL [--machine ID] [--carve-out SIZE] [--json]`: what to set in the BIOS
and what to run. Without --machine (or a --preset naming one) it plans for this machine as
`vramtui detect` finds it, at its current carve-out; --carve-out says what is set now.

Exit codes as `check`: 0 the plan runs cleanly, 1 with warnings, 3 nothing runs the model,
2 bad input.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from vramtui.cli.common import (
    add_also_arg,
    add_machine_args,
    add_model_args,
    add_runtime_args,
    emit,
    guarded,
    print_json,
    remote_args,
    resolve_from_args,
    resolve_model_and_settings,
)
from vramtui.core.vocab import CarveOutSource

if TYPE_CHECKING:
    from vramtui.core.advice.plan import Plan
    from vramtui.core.hardware.pools import MachineState
    from vramtui.core.scenario.resolve import ResolvedScenario


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "plan",
        help="what to set in the BIOS and which command to run, for a model on this machine",
    )
    add_model_args(p, required=True)
    add_machine_args(p, carve=True)
    add_runtime_args(p)
    add_also_arg(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=guarded(run_plan))


def _state_and_source(args: argparse.Namespace) -> tuple[MachineState, str]:
    """The machine state whose carve-out is the current one (the scenario resolver's: --machine,
    the preset, or the machine this runs on), and how that carve-out is known (the resolver's
    rule, in the plan's words: "detected" for the step the BIOS is set to now)."""
    resolved = resolve_from_args(args)
    return resolved.state, _source_word(resolved)


def _source_word(resolved: ResolvedScenario) -> str:
    source = resolved.carve_out_source
    return "detected" if source == CarveOutSource.CURRENT else str(source)


def run_plan(args: argparse.Namespace) -> int:
    from vramtui.core.advice.plan import build_plan  # noqa: PLC0415
    from vramtui.core.model.draft import with_draft  # noqa: PLC0415
    from vramtui.core.model.source import open_model  # noqa: PLC0415
    from vramtui.core.probe.calibration import factor_of, scenario_calibration  # noqa: PLC0415

    if getattr(args, "also", None) or getattr(args, "preset", None):
        resolved = resolve_from_args(args)
        if resolved.also:
            return _run_set_plan(args, resolved)
    model, mmproj, settings = resolve_model_and_settings(args)
    state, source = _state_and_source(args)
    spec = with_draft(open_model(model, mmproj=mmproj, **remote_args(args)), settings.model_draft)
    calibration = factor_of(scenario_calibration(spec, state))
    ctx_given = args.ctx_size is not None or bool(getattr(args, "preset", None))
    plan = build_plan(
        spec,
        settings,
        state,
        ctx_given=ctx_given,
        current_source=source,
        calibration=calibration,
    )
    if args.json:
        from vramtui.cli.json_words import plan_json  # noqa: PLC0415

        print_json(plan_json(plan))
    else:
        _print_plan(plan)
    return plan.verdict.exit_code


def _run_set_plan(args: argparse.Namespace, resolved: ResolvedScenario) -> int:
    """The plan for a set of models loaded at once (--also, or a preset's [[also]])."""
    from vramtui.core.advice.set_plan import build_set_plan  # noqa: PLC0415
    from vramtui.core.fit.set import SetMember  # noqa: PLC0415
    from vramtui.core.model.draft import with_draft  # noqa: PLC0415
    from vramtui.core.model.source import open_model  # noqa: PLC0415
    from vramtui.core.probe.calibration import factor_of, scenario_calibration  # noqa: PLC0415
    from vramtui.core.scenario.also import open_members  # noqa: PLC0415
    from vramtui.present.set_words import set_plan_lines  # noqa: PLC0415

    remote = remote_args(args)
    spec = with_draft(
        open_model(resolved.model_ref, mmproj=resolved.mmproj, **remote),
        resolved.settings.model_draft,
    )
    first = SetMember(spec, resolved.settings_for(spec), resolved.model_ref)
    others = open_members(resolved.also, **remote)
    calibration = factor_of(scenario_calibration(spec, resolved.state))
    plan = build_set_plan(
        (first, *others),
        resolved.state,
        calibration=calibration,
        current_source=_source_word(resolved),
    )
    if args.json:
        print_json(plan.to_json())
    else:
        emit("\n".join(set_plan_lines(plan)) + "\n")
    return plan.verdict.exit_code


def _print_plan(plan: Plan) -> None:
    """Plain text: the model name and paths come from files, so names are shown with
    `untrusted.plain` and commands with `untrusted.command` (control characters visible)."""
    from vramtui.present.plan_words import (  # noqa: PLC0415
        PATH_HINT,
        gtt_route_sentence,
        plan_sentence,
        platform_step_sentence,
    )
    from vramtui.present.untrusted import command, plain  # noqa: PLC0415

    sentence = plan_sentence(plan)
    out = [sentence]
    c = plan.commands
    if c is not None:
        out += ["", "llama.cpp:", f"  {command(c.llama_server)}"]
        if not c.model_path_known:
            out.append(f"  {PATH_HINT}")
        out += ["LM Studio:", f"  {command(c.lms_load)}"]
        out += [f"  {k}: {plain(_value(v))}" for k, v in c.lmstudio.items()]
        opts = ", ".join(f"{k} {v}" for k, v in c.ollama_options.items())
        env = " ".join(f"{k}={v}" for k, v in c.ollama_env.items())
        out += ["Ollama:", f"  parameters: {opts}", f"  server environment: {env}"]
    gtt = plan.gtt_route  # worth a line only when the plan means a reboot anyway
    wanted = plan.reboot_needed or plan.fit is None
    if gtt is not None and wanted and (words := gtt_route_sentence(gtt)) not in sentence:
        out += ["", words]
    if plan.platform:
        out += ["", "Platform:", *(f"  {platform_step_sentence(p)}" for p in plan.platform)]
    emit("\n".join(out) + "\n")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    return str(v)
