"""`vramtui estimate MODEL [settings]`: the memory breakdown by place and kind."""

from __future__ import annotations

import argparse
from typing import Any

from vramtui.cli.common import (
    add_model_args,
    add_runtime_args,
    console,
    guarded,
    print_json,
    remote_args,
    resolve_model_and_settings,
)
from vramtui.cli.exact_view import add_exact_arg, exact_report_for, print_exact, require_exact
from vramtui.core.estimate.breakdown import MemoryBreakdown
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.vocab import BufferKind, ExitCode, Place
from vramtui.present import untrusted


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("estimate", help="memory a runtime needs for a model at given settings")
    add_model_args(p)
    add_runtime_args(p)
    p.add_argument(
        "--backend",
        choices=("cpu", "gpu"),
        default="gpu",
        help="gpu: a GPU backend (Vulkan/ROCm/CUDA/Metal); cpu: llama.cpp's CPU build",
    )
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


def run(args: argparse.Namespace) -> int:
    from vramtui.core.estimate.memory import estimate_memory  # noqa: PLC0415 - lazy: keeps startup fast
    from vramtui.core.model.draft import with_draft  # noqa: PLC0415 - lazy: keeps startup fast
    from vramtui.core.model.source import open_model  # noqa: PLC0415 - lazy: keeps startup fast

    require_exact(args)
    model, mmproj, settings = resolve_model_and_settings(args)
    spec = with_draft(open_model(model, mmproj=mmproj, **remote_args(args)), settings.model_draft)
    bd = estimate_memory(spec, settings, backend=args.backend)
    report = exact_report_for(args, spec, settings)
    if args.json:
        data = estimate_json(spec, bd)
        if report is not None:
            data["exact"] = report
        print_json(data)
        return ExitCode.OK
    _print_table(spec, bd)
    print_exact(report, approximate=bd.approximate and not spec.synthesized)
    return ExitCode.OK


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
