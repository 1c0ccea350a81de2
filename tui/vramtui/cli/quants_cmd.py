"""`vramtui quants MODEL [machine and settings flags] [--json]`: which quant to download.

MODEL is a catalog family (`qwen3-vl-32b`), `hf:ORG/REPO[@REV]` (its GGUF files and sizes from
the Hub's listing; headers read per quant, cached) or a local folder holding several quants.
One row per quant on the machine (`--machine`, else this machine as `vramtui detect` finds it)
at the settings given; the largest that runs cleanly is marked. Without a carve-out (from
`--carve-out` or the preset), each quant is judged at the BIOS step where it runs best (the
step `vramtui recommend` picks for it), shown per row; with one, every quant at that step.

Exit codes: 0 some quant runs cleanly, 1 some loads but only with warnings, 3 none loads,
2 bad input.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rich.text import Text

from vramtui.cli.common import (
    add_machine_args,
    add_preset_arg,
    add_remote_args,
    add_runtime_args,
    console,
    finish,
    guarded,
    print_json,
    resolve_from_args,
)
from vramtui.core.sizes import format_bytes, format_file_size, short_tokens
from vramtui.core.vocab import ExitCode, Verdict
from vramtui.present.fit_words import carve_out_label
from vramtui.present.speed_words import decode_span
from vramtui.present.untrusted import plain

if TYPE_CHECKING:
    from vramtui.core.advice.quants import QuantLadder, QuantRow
    from vramtui.core.hardware.pools import MachineState
    from vramtui.core.scenario.resolve import ResolvedScenario


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "quants",
        help="every quant of a model on this machine: which is the largest that runs cleanly",
    )
    p.add_argument(
        "model",
        help="catalog model without a quant (qwen3-vl-32b), hf:ORG/REPO[@REV], or a folder",
    )
    p.add_argument("--mmproj", default="auto", help="projector: auto (default), none, or a path")
    add_preset_arg(p)
    add_remote_args(p)
    add_machine_args(p, carve=True)
    add_runtime_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=guarded(run_quants))


def _exit_code(ladder: QuantLadder) -> int:
    if ladder.largest_clean is not None:
        return ExitCode.OK
    if any(r.verdict != Verdict.WILL_NOT_FIT for r in ladder.rows):
        return ExitCode.WARNINGS
    return ExitCode.WILL_NOT_FIT


def run_quants(args: argparse.Namespace) -> int:
    from vramtui.core.advice.quants import ladder_sources, quant_ladder  # noqa: PLC0415
    from vramtui.core.gguf.spec import ModelSpec  # noqa: PLC0415
    from vramtui.core.model.draft import check_draft_pair  # noqa: PLC0415
    from vramtui.core.model.source import open_model  # noqa: PLC0415
    from vramtui.core.remote.http import RemoteOptions  # noqa: PLC0415

    resolved = resolve_from_args(args)
    settings, state = resolved.settings, resolved.state
    options = RemoteOptions(allow_redirects=args.allow_redirects, total_timeout=args.timeout)
    name, kind, sources = ladder_sources(args.model, args.mmproj, options=options)
    draft = open_model(settings.model_draft, mmproj="none") if settings.model_draft else None

    def attach(spec: ModelSpec) -> ModelSpec:
        if draft is None:
            return spec
        check_draft_pair(spec, draft)
        return replace(spec, draft=draft)

    best_step = not _carve_out_given(args, resolved)
    ladder = quant_ladder(name, kind, sources, settings, state, attach=attach, best_step=best_step)
    code = _exit_code(ladder)
    if args.json:
        from vramtui.cli.json_words import quants_json  # noqa: PLC0415

        data = quants_json(ladder)
        data["machine"] = state.machine.id
        data["machine_source"] = resolved.machine_source
        data["os"] = state.os
        # Per row when each quant has its own step; the carve-out given otherwise.
        data["carve_out_bytes"] = None if ladder.best_step else state.carve_out_bytes
        data["runtime"] = state.runtime
        data["settings"] = settings.to_dict()
        return finish(code, lambda: print_json(data))
    return finish(code, lambda: _print(ladder, state))


def _carve_out_given(args: argparse.Namespace, resolved: ResolvedScenario) -> bool:
    """Whether the user named the carve-out: `--carve-out`, or a preset that holds one for
    the machine answered for."""
    if args.carve_out is not None:
        return True
    if not args.preset or resolved.machine_source == "detected":
        return False
    from vramtui.core.scenario.files import load_scenario  # noqa: PLC0415

    preset = load_scenario(args.preset)
    return preset.carve_out_bytes is not None and preset.machine_id == resolved.state.machine.id


def _cells(row: QuantRow) -> tuple[str, ...]:
    fit = row.fit
    runs = fit is not None and fit.runs
    size = format_file_size(row.file_size_bytes)
    return (
        ("~" if row.size_source == "estimated" else "") + size,
        format_bytes(fit.gpu_memory_used_bytes) if fit is not None else "-",
        format_bytes(fit.system_ram_left_bytes) if runs and fit else "-",
        decode_span(fit.speed) if runs and fit else "-",
        short_tokens(row.max_clean_context) if row.max_clean_context else "-",
        " ".join(row.reasons),
    )


def _print(ladder: QuantLadder, state: MachineState) -> None:
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    where = ""
    if ladder.best_step:
        where = ", each quant at its best BIOS carve-out step"
    elif state.machine.carve_out_steps and not state.machine.discrete:
        where = f", carve-out {carve_out_label(state.carve_out_bytes)}"
    title = (
        f"{plain(ladder.model)} on {plain(state.machine.name)} ({state.os}{where}, "
        f"{state.resolved_backend}, {state.runtime})"
    )
    t = Table(title=Text(title), pad_edge=False, box=box.SIMPLE_HEAD, show_edge=False)
    step_col = ("carve-out",) if ladder.best_step else ()
    for col in (
        "",
        "quant",
        "file",
        *step_col,
        "verdict",
        "GPU memory",
        "OS RAM left",
        "tok/s",
        "best ctx",
        "reasons",
    ):
        right = col in {"file", "carve-out", "GPU memory", "OS RAM left", "tok/s", "best ctx"}
        t.add_column(col, justify="right" if right else "left", no_wrap=col != "reasons")
    best = ladder.largest_clean
    for row in ladder.rows:
        v = row.verdict
        carve = row.carve_out_bytes
        step = (carve_out_label(carve) if carve is not None else "-",) if ladder.best_step else ()
        t.add_row(
            "*" if row is best else "",
            Text(row.quant),
            *_cells(row)[:1],
            *step,
            Text(v.short, style=v.style),
            *_cells(row)[1:],
        )
    c = console()
    c.print(t)
    if best is not None:
        at = (
            f" at a {carve_out_label(best.carve_out_bytes)} carve-out"
            if ladder.best_step and best.carve_out_bytes is not None
            else ""
        )
        c.print(
            Text(
                f"* the largest quant that runs cleanly: {best.quant} "
                f"({format_file_size(best.file_size_bytes)}){at} -> {best.ref}"
            )
        )
    elif any(r.verdict != Verdict.WILL_NOT_FIT for r in ladder.rows):
        c.print(Text("No quant runs cleanly here; the ones marked 'warnings' load."))
    else:
        c.print(Text("No quant of this model loads here at these settings.", style="red"))
    if any(r.size_source == "estimated" for r in ladder.rows):
        c.print(Text("~ size estimated from the model's tensors (no published figure)"))
