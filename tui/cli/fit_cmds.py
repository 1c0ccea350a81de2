"""`vramtui check`, `vramtui recommend`, `vramtui machines`.

Exit codes of `check` (an API): 0 fits, 1 fits with warnings, 3 will not fit / will not load,
2 bad input. `recommend` exits 0 when some step runs the model (cleanly or with warnings), 3 when
none does; `machines` exits 0.
"""

from __future__ import annotations

import argparse
from typing import Any

from tui.cli.common import (
    EXIT_OK,
    EXIT_WARN,
    EXIT_WONT_FIT,
    add_model_args,
    add_preset_arg,
    add_runtime_args,
    guarded,
    print_json,
    scenario_from_args,
)
from tui.core.sizes import format_bytes, short_tokens

_EXIT = {"fits": EXIT_OK, "fits_with_warnings": EXIT_WARN, "will_not_fit": EXIT_WONT_FIT}


def _machine_args(p: argparse.ArgumentParser, carve: bool) -> None:
    p.add_argument("--machine", help="machine preset id (see `vramtui machines`)")
    if carve:
        p.add_argument("--carve-out", help="dedicated GPU memory set in the BIOS, e.g. 512M, 32G")
    p.add_argument("--os", dest="os_name", choices=("windows", "linux", "macos"))
    p.add_argument("--gtt", help="Linux GTT size (e.g. 60G) or ttm.pages_limit as pages=N")
    p.add_argument("--wired-limit", help="macOS iogpu.wired_limit_mb as a size, e.g. 100G")
    p.add_argument("--os-baseline", help="RAM the OS itself needs (default per OS)")
    p.add_argument("--backend", choices=("vulkan", "rocm", "metal", "cuda", "cpu"))
    p.add_argument("--runtime", choices=("llamacpp", "lmstudio", "ollama"))
    p.add_argument("--prompt-tokens", type=int, help="prompt length for time to first token")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("check", help="will this model load and run well on this machine setup?")
    add_model_args(p, required=False)
    add_preset_arg(p)
    _machine_args(p, carve=True)
    add_runtime_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=guarded(run_check))

    p = sub.add_parser("recommend", help="which BIOS carve-out to pick for a model")
    add_model_args(p, required=False)
    add_preset_arg(p)
    _machine_args(p, carve=False)
    add_runtime_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=guarded(run_recommend))

    p = sub.add_parser("machines", help="the machine presets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=guarded(run_machines))


def _state(args: argparse.Namespace, scenario: Any, carve_required: bool) -> Any:
    from tui.core.errors import SettingsError  # noqa: PLC0415
    from tui.core.machine.fit import MachineState, gtt_from_pages_limit  # noqa: PLC0415
    from tui.core.machine.presets import get_machine  # noqa: PLC0415
    from tui.core.sizes import parse_size  # noqa: PLC0415

    machine_id = args.machine or (scenario.machine_id if scenario else None)
    if not machine_id:
        raise SettingsError("no machine given: pass --machine ID (see `vramtui machines`)")
    machine = get_machine(machine_id)
    state = MachineState.default_for(machine)
    changes: dict[str, Any] = {}
    carve_text = getattr(args, "carve_out", None)
    if carve_text is not None:
        changes["carve_out_bytes"] = parse_size(carve_text, "--carve-out")
    elif scenario is not None and scenario.carve_out_bytes is not None:
        changes["carve_out_bytes"] = scenario.carve_out_bytes
    elif carve_required and machine.carve_out_steps:
        raise SettingsError("no carve-out given: pass --carve-out SIZE (e.g. 512M, 32G)")
    os_name = args.os_name or (scenario.os if scenario else None)
    if os_name:
        changes["os"] = os_name
    if args.gtt:
        text = args.gtt.strip()
        if text.startswith("pages="):
            try:
                changes["gtt_bytes"] = gtt_from_pages_limit(int(text[6:]))
            except ValueError:
                raise SettingsError(f"--gtt: {text!r} is not pages=N") from None
        else:
            changes["gtt_bytes"] = parse_size(text, "--gtt")
    elif scenario is not None and scenario.gtt_bytes is not None:
        changes["gtt_bytes"] = scenario.gtt_bytes
    if args.wired_limit:
        changes["wired_limit_bytes"] = parse_size(args.wired_limit, "--wired-limit")
    elif scenario is not None and scenario.wired_limit_bytes is not None:
        changes["wired_limit_bytes"] = scenario.wired_limit_bytes
    if args.os_baseline:
        changes["os_baseline_bytes"] = parse_size(args.os_baseline, "--os-baseline")
    elif scenario is not None and scenario.os_baseline_bytes is not None:
        changes["os_baseline_bytes"] = scenario.os_baseline_bytes
    backend = args.backend or (scenario.backend if scenario else None)
    if backend:
        changes["backend"] = backend
    runtime = args.runtime or (scenario.runtime if scenario else None)
    if runtime:
        changes["runtime"] = runtime
    return MachineState.default_for(machine, **changes) if changes else state


def run_check(args: argparse.Namespace) -> int:
    from tui.core.machine.fit import evaluate_fit  # noqa: PLC0415
    from tui.core.model.source import open_model  # noqa: PLC0415
    from tui.core.probe.calibration import load_calibration  # noqa: PLC0415

    scenario, model, mmproj, settings = scenario_from_args(args)
    state = _state(args, scenario, carve_required=True)
    spec = open_model(model, mmproj=mmproj)
    calibration = load_calibration(state.machine.id, state.resolved_backend)
    fit = evaluate_fit(
        spec, settings, state, prompt_tokens=args.prompt_tokens, calibration=calibration
    )
    if args.json:
        data = fit.to_json()
        data["model"] = spec.name
        data["machine"] = state.machine.id
        data["carve_out_bytes"] = state.carve_out_bytes
        data["os"] = state.os
        data["runtime"] = state.runtime
        print_json(data)
    else:
        _print_check(spec.name, state, fit)
    return _EXIT[fit.verdict]


def _print_check(name: str, state: Any, fit: Any) -> None:
    from rich.console import Console  # noqa: PLC0415

    c = Console()
    carve = (
        f"carve-out {format_bytes(state.carve_out_bytes)}"
        if state.machine.carve_out_steps
        else "no carve-out"
    )
    colour = {"fits": "green", "fits_with_warnings": "yellow", "will_not_fit": "red"}[fit.verdict]
    c.print(
        f"{name} on {state.machine.name}, {carve}, "
        f"{state.os}, {fit.backend} ({state.runtime}), ctx {fit.breakdown.n_ctx}"
    )
    c.print(f"[bold {colour}]{fit.verdict.replace('_', ' ')}[/]")
    for r in fit.reasons:
        c.print(f"  {r.severity}: [bold]{r.code}[/] {r.message}")
    for pool in fit.pool_usage:
        parts = ", ".join(f"{s.label} {format_bytes(s.n_bytes)}" for s in pool.segments)
        c.print(f"  {pool.name}: {format_bytes(pool.used_bytes)} of "
                f"{format_bytes(pool.capacity_bytes)} ({parts or 'unused'})")  # fmt: skip
    sp = fit.speed
    c.print(f"  expected: {sp.decode_tokens_per_second:.1f} tok/s decode, "
            f"{sp.prefill_tokens_per_second:.0f} tok/s prefill, first token after "
            f"{sp.time_to_first_token_s:.1f} s ({sp.prompt_tokens}-token prompt)"
            f"{' [calibrated]' if sp.calibrated else ''}")  # fmt: skip


def run_recommend(args: argparse.Namespace) -> int:
    from tui.core.machine.recommend import recommend  # noqa: PLC0415
    from tui.core.model.source import open_model  # noqa: PLC0415
    from tui.core.probe.calibration import load_calibration  # noqa: PLC0415

    scenario, model, mmproj, settings = scenario_from_args(args)
    state = _state(args, scenario, carve_required=False)
    spec = open_model(model, mmproj=mmproj)
    calibration = load_calibration(state.machine.id, state.resolved_backend)
    rec = recommend(spec, settings, state, calibration=calibration)
    if args.json:
        data = rec.to_json()
        data["model"] = spec.name
        data["machine"] = state.machine.id
        data["os"] = state.os
        print_json(data)
    else:
        _print_recommend(spec.name, state, rec)
    return EXIT_OK if rec.recommended_index is not None else EXIT_WONT_FIT


def _print_recommend(name: str, state: Any, rec: Any) -> None:
    from rich import box  # noqa: PLC0415
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    # Compact cells so the table stays one line per step at 80 columns; reasons may wrap.
    t = Table(
        title=f"{name} on {state.machine.name} ({state.os}, {state.resolved_backend}, "
        f"{state.runtime})",
        pad_edge=False,
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    headers: tuple[str, ...] = (
        *("", "carve-out", "verdict", "GPU used", "GPU left", "OS RAM left"),
        *("best ctx", "tok/s", "reasons"),
    )
    numeric = {"GPU used", "GPU left", "OS RAM left", "best ctx", "tok/s"}
    c = Console()
    narrow = c.width < 110  # then the reasons go under the table, one line per step
    if narrow:
        headers = headers[:-1]
    for col in headers:
        wrap = col == "reasons"
        t.add_column(col, justify="right" if col in numeric else "left", no_wrap=not wrap)
    styles = {"fits": "green", "fits_with_warnings": "yellow", "will_not_fit": "red"}
    words = {"fits": "fits", "fits_with_warnings": "warnings", "will_not_fit": "no"}
    for i, row in enumerate(rec.rows):
        f = row.fit
        t.add_row(
            "*" if i == rec.recommended_index else "",
            format_bytes(row.carve_out_bytes, 0 if row.carve_out_bytes >= 1024**3 else 1),
            f"[{styles.get(f.verdict, '')}]{words.get(f.verdict, f.verdict)}[/]",
            format_bytes(f.dedicated_used_bytes + f.shared_used_bytes),
            format_bytes(row.gpu_left_bytes), format_bytes(row.system_ram_left_bytes),
            short_tokens(row.max_clean_context) if row.max_clean_context > 0 else "-",
            f"{row.decode_tps:.1f}",
            *(() if narrow else (" ".join(f.codes),)),
        )  # fmt: skip
    c.print(t)
    if narrow:
        for row in rec.rows:
            if row.fit.codes:
                c.print(f"  {format_bytes(row.carve_out_bytes, 0)}: {', '.join(row.fit.codes)}")
    if rec.recommended_index is None:
        c.print("[red]no carve-out step runs this model at these settings[/]")
    else:
        row = rec.rows[rec.recommended_index]
        c.print(f"recommended: [bold]{format_bytes(row.carve_out_bytes)}[/] carve-out")
    alt = rec.linux_gtt_alternative
    if alt is not None:
        c.print(f"Linux alternative: carve-out {format_bytes(alt.carve_out_bytes)} + GTT "
                f"{format_bytes(alt.gtt_bytes)} -> {alt.fit.verdict.replace('_', ' ')}, "
                f"{alt.fit.speed.decode_tokens_per_second:.1f} tok/s; kernel parameters: "
                f"{alt.kernel_params}")  # fmt: skip


def run_machines(args: argparse.Namespace) -> int:
    import sys  # noqa: PLC0415

    from tui.core.machine.presets import load_machines  # noqa: PLC0415

    catalog = load_machines()
    for problem in catalog.problems:
        sys.stderr.write(f"vramtui: {problem}\n")
    if args.json:
        print_json([m.to_json() for m in catalog.machines])
        return EXIT_OK
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    t = Table(title="machine presets")
    for col in ("id", "name", "RAM", "VRAM", "carve-out steps", "GB/s", "OS", "backend"):
        t.add_column(col)
    for m in catalog.machines:
        steps = ", ".join(format_bytes(s, 0) for s in m.carve_out_steps) or "-"
        t.add_row(m.id, m.name, format_bytes(m.total_ram_bytes, 0),
                  format_bytes(m.gpu_vram_bytes, 0) if m.gpu_vram_bytes else "-", steps,
                  f"{m.bandwidth_gbps:.0f}", m.default_os, m.default_backend)  # fmt: skip
    Console().print(t)
    return EXIT_OK
