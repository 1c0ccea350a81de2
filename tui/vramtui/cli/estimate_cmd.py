"""`vramtui estimate MODEL [machine and settings flags]`: the memory breakdown by place and kind.

The breakdown is the one `vramtui check` judges for the same scenario: the machine (`--machine`,
a preset's, else this machine as `vramtui detect` finds it) decides the backend (a GPU-less
machine gets llama.cpp's CPU build) and, with the runtime, the settings the estimate cannot
know (flash attention "auto"), and a discrete card's automatic layer offload; the fit computes
it (`evaluate_fit`), so the figures here and the verdict there come from one estimate.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from vramtui.cli.common import (
    add_machine_args,
    add_model_args,
    add_runtime_args,
    console,
    guarded,
    open_scenario,
    print_json,
)
from vramtui.cli.exact_view import add_exact_arg, exact_report_for, print_exact, require_exact
from vramtui.core.estimate.breakdown import MemoryBreakdown
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.vocab import BufferKind, ExitCode, Place, ReasonCode
from vramtui.present import untrusted

if TYPE_CHECKING:
    from vramtui.core.scenario.resolve import ResolvedScenario


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("estimate", help="memory a runtime needs for a model at given settings")
    add_model_args(p)
    add_machine_args(p, carve=True)
    add_runtime_args(p)
    p.add_argument("--json", action="store_true", help="one JSON object, integer bytes")
    add_exact_arg(p)
    p.set_defaults(handler=guarded(run))


def estimate_json(spec: ModelSpec, bd: MemoryBreakdown) -> dict[str, Any]:
    data = bd.to_json()
    data["model"] = {
        "name": spec.name,
        "architecture": spec.architecture,
        "file_size_bytes": spec.file_size,
        "source": spec.source,
    }
    data["settings"] = bd.settings.to_dict()
    return data


def _machine_json(resolved: ResolvedScenario, backend: str) -> dict[str, Any]:
    st = resolved.state
    return {
        "machine": st.machine.id,
        "machine_source": resolved.machine_source,
        "os": st.os,
        "backend": backend,
        "runtime": st.runtime,
    }


def run(args: argparse.Namespace) -> int:
    from vramtui.core.fit.fit import evaluate_fit  # noqa: PLC0415 - lazy: keeps startup fast

    require_exact(args)
    resolved, spec, settings = open_scenario(args)
    state = resolved.state
    # The fit's own breakdown: its settings resolution, backend and layer offload.
    fit = evaluate_fit(spec, settings, state)
    bd = fit.breakdown
    report = exact_report_for(args, spec, settings, fit.backend.value)
    if args.json:
        data = estimate_json(spec, bd) | _machine_json(resolved, fit.backend)
        # The estimate's own caveat, by the code `check --json` gives it (generic rules).
        data["reasons"] = [
            str(r.code) for r in fit.reasons if r.code == ReasonCode.APPROXIMATE_ESTIMATE
        ]
        if report is not None:
            data["exact"] = report
        print_json(data)
        return ExitCode.OK
    _print_table(spec, bd)
    console().print(untrusted.text(_machine_line(resolved, fit.backend), limit=400))
    print_exact(report, approximate=bd.approximate and not spec.synthesized)
    return ExitCode.OK


def _machine_line(resolved: ResolvedScenario, backend: str) -> str:
    """Which machine the breakdown is for, and where that machine came from."""
    st = resolved.state
    source = {"given": "--machine", "preset": "from the preset", "detected": "detected"}
    where = source.get(resolved.machine_source, resolved.machine_source)
    return f"machine: {st.machine.name} ({where}; {st.os}, {backend} backend, {st.runtime})"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.2f} MiB"


def _print_table(spec: ModelSpec, bd: MemoryBreakdown) -> None:
    from rich.table import Table  # noqa: PLC0415 - lazy: keeps startup fast

    s = bd.settings
    title = (
        f"{spec.name} ({spec.architecture}) · ctx {bd.n_ctx} · np {s.parallel} · "
        f"K {s.cache_type_k} V {s.cache_type_v} · FA {'on' if bd.flash_attn else 'off'} · "
        f"ngl {bd.n_gpu_layers}/{bd.n_layers + 1}"
    )
    table = Table(title=untrusted.text(title, limit=400))
    table.add_column("place")
    table.add_column("kind")
    table.add_column("buffer")
    table.add_column("size", justify="right")
    for b in bd.buffers:
        table.add_row(b.place.value, b.kind.value, untrusted.text(b.label), _mib(b.n_bytes))
    table.add_section()
    table.add_row("device", "total", "", _mib(bd.device_bytes))
    table.add_row("host", "total", "", _mib(bd.host_bytes))
    out = console()
    out.print(table)
    out.print(
        f"weights {_mib(bd.total(kind=BufferKind.WEIGHTS))}"
        f" · KV {_mib(bd.total(kind=BufferKind.KV_CACHE))}"
        f" · state {_mib(bd.total(kind=BufferKind.RECURRENT_STATE))}"
        f" · device {_mib(bd.total(Place.DEVICE))} · host {_mib(bd.total(Place.HOST))}"
    )
    for note in bd.notes:
        out.print(untrusted.text(f"note: {note}", limit=400))
