"""`vramtui check`, `vramtui recommend`, `vramtui machines`.

Exit codes of `check` (an API): 0 fits, 1 fits with warnings, 3 will not fit / will not load,
2 bad input. `recommend` exits 0 when some step runs the model (cleanly or with warnings), 3 when
none does; `machines` exits 0.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.text import Text

from vramtui.cli.common import (
    add_also_arg,
    add_machine_args,
    add_model_args,
    add_preset_arg,
    add_runtime_args,
    bounded_int,
    console,
    finish,
    guarded,
    open_scenario,
    print_json,
    remote_args,
    warn,
)
from vramtui.cli.exact_view import add_exact_arg, exact_report_for, print_exact, require_exact
from vramtui.core.fit.ram import reason_evidence
from vramtui.core.sizes import ascii_int, format_bytes, short_tokens
from vramtui.core.vocab import ExitCode, ReasonCode
from vramtui.present import untrusted
from vramtui.present.advice_words import expert_offload_sentence
from vramtui.present.fit_words import (
    advice_sentence,
    carve_out_label,
    evidence_note,
    gtt_alternative_sentence,
    measured_evidence,
    no_advice_sentence,
    reboot_sentence,
    recommendation_sentence,
    setup_line,
)
from vramtui.present.reasons import reason_messages, reason_text, with_messages
from vramtui.present.set_words import set_lines
from vramtui.present.speed_words import decode_span, rate_span, speed_sentence
from vramtui.present.untrusted import plain

if TYPE_CHECKING:
    from vramtui.core.advice.actions import Advice
    from vramtui.core.advice.recommend import ContextPoint, Recommendation
    from vramtui.core.estimate.settings import RuntimeSettings
    from vramtui.core.fit.fit import FitResult
    from vramtui.core.gguf.spec import ModelSpec
    from vramtui.core.hardware.pools import MachineState


def calibration_json(calibration: Any) -> dict[str, Any] | None:
    if calibration is None:
        return None
    return {
        "factor": round(calibration.factor, 4),
        "probes": calibration.probes,
        "bounded": calibration.bounded,
    }


def _image_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    w, h = ascii_int(width, 16, 16384), ascii_int(height, 16, 16384)
    if w is None or h is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, 16 to 16384 pixels each")
    return w, h


def _prompt_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--image-size",
        type=_image_size,
        metavar="WxH",
        help="the image of a vision prompt, for time to first token (default 1920x1080)",
    )
    p.add_argument(
        "--no-calibration",
        action="store_true",
        help="ignore earlier probes of this model: the raw prediction",
    )
    p.add_argument(
        "--prompt-tokens",
        type=bounded_int(1, 1 << 24),
        help="prompt length for time to first token, 1 to 16M tokens",
    )


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("check", help="will this model load and run well on this machine setup?")
    add_model_args(p, required=False)
    add_preset_arg(p)
    add_machine_args(p, carve=True)
    _prompt_arg(p)
    add_runtime_args(p)
    add_also_arg(p)
    p.add_argument("--json", action="store_true")
    add_exact_arg(p)
    p.set_defaults(handler=guarded(run_check))

    p = sub.add_parser("recommend", help="which BIOS carve-out to pick for a model")
    add_model_args(p, required=False)
    add_preset_arg(p)
    add_machine_args(p, carve=False)
    _prompt_arg(p)
    add_runtime_args(p)
    p.add_argument(
        "--contexts",
        action="store_true",
        help="also: GPU memory and RAM left from 4K to the model's maximum context, "
        "at the recommended step",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=guarded(run_recommend))

    p = sub.add_parser("machines", help="the machine presets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=guarded(run_machines))


def run_check(args: argparse.Namespace) -> int:
    from vramtui.core.probe.calibration import factor_of, scenario_calibration  # noqa: PLC0415
    from vramtui.core.scenario.answer import check_answer  # noqa: PLC0415

    require_exact(args)
    resolved, spec, settings = open_scenario(args)
    state = resolved.state
    calibration = None if args.no_calibration else scenario_calibration(spec, state)
    answer = check_answer(
        resolved,
        spec,
        settings,
        prompt_tokens=args.prompt_tokens,
        calibration=factor_of(calibration),
        image_size=args.image_size,
        **remote_args(args),
    )
    fit, items, the_set = answer.fit, answer.advice, answer.set_fit
    if args.json:
        messages = reason_messages(fit.reasons)
        for message, reason in zip(messages, fit.reasons, strict=True):
            message["evidence"] = reason_evidence(reason, spec, state)
        data = with_messages(fit.to_json(), messages)
        data["advice"] = [item.to_json(advice_sentence(item)) for item in items]
        data["model"] = spec.name
        data["model_ref"] = resolved.model_ref
        data["machine"] = state.machine.id
        data["carve_out_bytes"] = state.carve_out_bytes
        data["os"] = state.os
        data["runtime"] = state.runtime
        data["machine_source"] = resolved.machine_source
        data["carve_out_source"] = resolved.carve_out_source
        data["reboot_needed"] = resolved.reboot_needed
        data["calibration"] = calibration_json(calibration)
        if the_set is not None:
            data["models"] = the_set.models_json()
        if (exact := exact_report_for(args, spec, settings, fit.backend.value)) is not None:
            data["exact"] = exact
        return finish(fit.verdict.exit_code, lambda: print_json(data))
    exact = exact_report_for(args, spec, settings, fit.backend.value)

    def show() -> None:
        _print_check(spec, state, fit, items)
        if the_set is not None:
            console().print(Text("\n".join(set_lines(the_set))))
        if resolved.carve_out_source.label and state.machine.carve_out_steps:
            where = carve_out_label(state.carve_out_bytes)
            console().print(Text(f"  carve-out {where}: {resolved.carve_out_source.label}"))
        _print_exact(exact, fit)
        if calibration is not None and fit.runs:
            console().print(Text(f"  speed {calibration.describe()} (--no-calibration: raw)"))
        if resolved.reboot_needed is not None:
            console().print(Text(reboot_sentence(resolved)))

    return finish(fit.verdict.exit_code, show)


def _print_exact(exact: dict[str, Any] | None, fit: FitResult) -> None:
    """--exact: llama.cpp's own figures beside the estimate; without it, the hint to ask for
    them when the architecture is estimated by generic rules."""
    approximate = any(r.code == ReasonCode.APPROXIMATE_ESTIMATE for r in fit.reasons)
    print_exact(exact, approximate=approximate)


def _print_check(
    spec: ModelSpec, state: MachineState, fit: FitResult, items: tuple[Advice, ...]
) -> None:

    c = console()
    c.print(Text(setup_line(spec.name, state, fit)))
    c.print(Text(fit.verdict.label, style=f"bold {fit.verdict.style}"))
    for r in fit.reasons:
        c.print(Text.assemble(f"  {r.severity}: ", (r.code, "bold"), f" {reason_text(r)}"))
        evidence = reason_evidence(r, spec, state)
        for note in (measured_evidence(r, state), evidence_note(evidence)):
            if note is not None:
                c.print(Text(f"    {note}", style="italic"))
    for item in items:
        c.print(Text(f"  -> {advice_sentence(item)}"))
    if not items and (nothing := no_advice_sentence(fit)) is not None:
        c.print(Text(f"  -> {nothing}"))
    for pool in fit.pool_usage:
        parts = ", ".join(f"{s.label} {format_bytes(s.n_bytes)}" for s in pool.segments)
        c.print(
            Text(
                f"  {pool.name}: {format_bytes(pool.used_bytes)} of "
                f"{format_bytes(pool.capacity_bytes)} ({parts or 'unused'})"
            )
        )
    if fit.runs:
        c.print(Text(f"  {speed_sentence(fit.speed)}"))


def run_recommend(args: argparse.Namespace) -> int:
    from vramtui.core.advice.recommend import recommend  # noqa: PLC0415
    from vramtui.core.probe.calibration import factor_of, scenario_calibration  # noqa: PLC0415

    resolved, spec, settings = open_scenario(args)
    state = resolved.state
    calibration = None if args.no_calibration else scenario_calibration(spec, state)
    rec = recommend(spec, settings, state, calibration=factor_of(calibration))
    code = ExitCode.OK if rec.recommended_index is not None else ExitCode.WILL_NOT_FIT
    curve = _contexts(spec, settings, state, rec, factor_of(calibration)) if args.contexts else None
    if args.json:
        from vramtui.cli.json_words import recommendation_json  # noqa: PLC0415

        data = recommendation_json(rec)
        data["model"] = spec.name
        data["machine"] = state.machine.id
        data["os"] = state.os
        if curve is not None:
            data["contexts"] = {
                "carve_out_bytes": curve[0].carve_out_bytes,
                "points": [p.to_json() for p in curve[1]],
            }
        return finish(code, lambda: print_json(data))

    def show() -> None:
        _print_recommend(spec.name, state, rec)
        if curve is not None:
            _print_contexts(*curve)

    return finish(code, show)


def _contexts(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    rec: Recommendation,
    calibration: float | None,
) -> tuple[MachineState, tuple[ContextPoint, ...]]:
    """Memory against context at the recommended step (the given state when none runs)."""
    from dataclasses import replace  # noqa: PLC0415

    from vramtui.core.advice.recommend import context_curve  # noqa: PLC0415

    if rec.recommended_index is not None:
        state = replace(state, carve_out_bytes=rec.rows[rec.recommended_index].carve_out_bytes)
    return state, context_curve(spec, settings, state, calibration=calibration)


def _print_contexts(state: MachineState, points: tuple[ContextPoint, ...]) -> None:
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    where = carve_out_label(state.carve_out_bytes) if state.machine.carve_out_steps else "-"
    t = Table(
        title=Text(f"Memory against context (carve-out {where})"),
        pad_edge=False,
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for col in ("context", "verdict", "GPU memory", "OS RAM left", "tok/s"):
        t.add_column(col, justify="left" if col in ("context", "verdict") else "right")
    for p in points:
        t.add_row(
            short_tokens(p.ctx),
            Text(p.verdict.short, style=p.verdict.style),
            format_bytes(p.gpu_memory_used_bytes),
            format_bytes(p.system_ram_left_bytes),
            rate_span(p.decode_tps, p.decode_range),
        )
    console().print(t)


def _print_recommend(name: str, state: MachineState, rec: Recommendation) -> None:
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    # Compact cells so the table stays one line per step at 80 columns; reasons may wrap.
    t = Table(
        title=Text(
            f"{plain(name)} on {plain(state.machine.name)} ({state.os}, {state.resolved_backend}, "
            f"{state.runtime})"
        ),
        pad_edge=False,
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    headers: tuple[str, ...] = (
        *("", "carve-out", "verdict", "GPU used", "GPU left", "OS RAM left"),
        *("best ctx", "tok/s", "reasons"),
    )
    numeric = {"GPU used", "GPU left", "OS RAM left", "best ctx", "tok/s"}
    c = console()
    narrow = c.width < 110  # then the reasons go under the table, one line per step
    if narrow:
        headers = headers[:-1]
    for col in headers:
        wrap = col == "reasons"
        t.add_column(col, justify="right" if col in numeric else "left", no_wrap=not wrap)
    for i, row in enumerate(rec.rows):
        f = row.fit
        t.add_row(
            "*" if i == rec.recommended_index else "",
            carve_out_label(row.carve_out_bytes),
            Text(f.verdict.short, style=f.verdict.style),
            format_bytes(f.dedicated_used_bytes + f.shared_used_bytes),
            format_bytes(row.gpu_left_bytes) if f.runs else "-",
            format_bytes(row.system_ram_left_bytes) if f.runs else "-",
            short_tokens(row.max_clean_context) if row.max_clean_context > 0 else "-",
            decode_span(f.speed) if f.runs else "-",
            *(() if narrow else (" ".join(f.codes),)),
        )
    c.print(t)
    if narrow:
        for row in rec.rows:
            if row.fit.codes:
                c.print(f"  {format_bytes(row.carve_out_bytes, 0)}: {', '.join(row.fit.codes)}")
    style = "red" if rec.recommended_index is None else ""
    c.print(Text(recommendation_sentence(rec), style=style))
    if rec.linux_gtt_alternative is not None:
        c.print(Text(gtt_alternative_sentence(rec.linux_gtt_alternative)))
    if rec.expert_offload is not None:
        c.print(Text(expert_offload_sentence(rec.expert_offload)))


def run_machines(args: argparse.Namespace) -> int:

    from vramtui.core.hardware.presets import load_machines  # noqa: PLC0415

    catalog = load_machines()
    for problem in catalog.problems:
        warn(problem)
    if args.json:
        print_json([m.to_json() for m in catalog.machines])
        return ExitCode.OK
    from rich.table import Table  # noqa: PLC0415

    t = Table(title="machine presets")
    for col in ("id", "name", "RAM", "VRAM", "carve-out steps", "GB/s", "OS", "backend"):
        t.add_column(col)
    for m in catalog.machines:
        steps = ", ".join(format_bytes(s, 0) for s in m.carve_out_steps) or "-"
        t.add_row(
            untrusted.text(m.id),
            untrusted.text(m.name),
            format_bytes(m.total_ram_bytes, 0),
            format_bytes(m.gpu_vram_bytes, 0) if m.gpu_vram_bytes else "-",
            steps,
            f"{m.bandwidth_gbps:.0f}",
            m.default_os,
            m.default_backend,
        )
    console().print(t)
    return ExitCode.OK
