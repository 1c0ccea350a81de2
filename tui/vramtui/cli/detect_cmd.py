"""`vramtui detect [--json] [--save NAME]`: what machine this is, read from the system.

Exit codes: 0 detected (a machine without a GPU included: it gets CPU answers), 2 when the
machine cannot be read at all (no RAM figure) or --save cannot write.
"""

from __future__ import annotations

import argparse
from typing import Any

from vramtui.cli.common import (
    emit,
    guarded,
    print_json,
)
from vramtui.core.sizes import format_bytes
from vramtui.core.vocab import ExitCode
from vramtui.present.untrusted import plain


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "detect",
        help="what machine this is: RAM, GPUs, carve-out, and the preset it matches",
        description="Reads this machine without admin rights (Linux /proc and /sys, nvidia-smi; "
        "macOS sysctl; Windows CIM and the registry). VRAMTUI_SYSROOT=DIR reads a recorded "
        "Linux tree instead.",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--save", metavar="NAME", help="save it as your machine preset NAME")
    p.add_argument("--force", action="store_true", help="with --save: replace NAME")
    p.add_argument(
        "--measure",
        action="store_true",
        help="measure the RAM's read bandwidth (a few seconds) and keep it for this CPU",
    )
    p.set_defaults(handler=guarded(run_detect))


def run_detect(args: argparse.Namespace) -> int:
    from vramtui.core.detect.match import detected_machine_state  # noqa: PLC0415
    from vramtui.core.detect.this_machine import detect_machine, save_detected_machine  # noqa: PLC0415

    detection = detect_machine()
    measured = _measure(detection.cpu) if args.measure else None
    state = detected_machine_state(detection)
    saved = None
    if args.save:
        saved = save_detected_machine(detection, args.save, force=args.force)
    if args.json:
        data = detection.to_json()
        data["machine"] = {
            "id": state.machine.id,
            "name": state.machine.name,
            "carve_out_bytes": state.carve_out_bytes,
            "os": state.os,
            "backend": state.resolved_backend,
        }
        data["saved_to"] = str(saved) if saved else None
        data["cpu_bandwidth"] = _bandwidth_json(detection.cpu)
        data["measurement"] = measured
        print_json(data)
    else:
        _print_detection(detection, state)
        if measured is not None:
            emit(f"  {measured['words']}\n")
        if saved:
            emit(
                f"saved machine preset {args.save} to {saved} "
                f"(vramtui check MODEL --machine {args.save})\n"
            )
    return ExitCode.OK


def _ram(n: int | None) -> str:
    return format_bytes(n) if n is not None else "unknown"


def _print_detection(d: Any, state: Any) -> None:
    """Plain text (no markup): every string here came from the system."""
    out: list[str] = []
    what = " / ".join(plain(x) for x in (d.product_vendor, d.product, d.board) if x)
    out.append(f"this machine: {d.os}" + (f", {what}" if what else ""))
    if d.cpu:
        out.append(f"  CPU: {plain(d.cpu)}")
    ram = f"{_ram(d.visible_ram_bytes)} visible to the OS"
    if d.total_ram_basis != "visible":
        how = "installed" if d.total_ram_basis == "installed" else "with the carve-out"
        ram = f"{_ram(d.total_ram_bytes)} {how}, {ram}"
    out.append(f"  RAM: {ram}")
    if not d.gpus:
        out.append("  GPU: none found: vramtui answers for the CPU")
    for g in d.gpus:
        kind = "integrated, shares RAM" if g.unified else "discrete"
        parts = [f"dedicated {_ram(g.dedicated_bytes)}"]
        if g.shared_bytes is not None:
            parts.append(f"shared {_ram(g.shared_bytes)}")
        pci = plain(g.pci_id or g.vendor)
        out.append(f"  GPU: {plain(g.name)} [{pci}] ({kind}): {', '.join(parts)}")
    if d.carve_out_bytes is not None:
        out.append(f"  BIOS carve-out now: {_ram(d.carve_out_bytes)}")
    if d.preset:
        out.append(f"  preset: {plain(d.preset)} ({plain(state.machine.name)})")
    else:
        out.append(
            f'  preset: none matches; using "{plain(state.machine.name)}" '
            "(keep it with `vramtui detect --save NAME`)"
        )
    out.append("  read: " + ("; ".join(plain(s, 400) for s in d.sources) or "nothing"))
    out.extend(f"  note: {plain(p, 1000)}" for p in d.problems)
    emit("\n".join(out) + "\n")


def _bandwidth_json(cpu: str | None) -> dict[str, Any]:
    from vramtui.core.detect.cpu_memory import cpu_bandwidth  # noqa: PLC0415
    from vramtui.core.detect.match import CPU_BANDWIDTH_GBPS  # noqa: PLC0415

    found = cpu_bandwidth(cpu, CPU_BANDWIDTH_GBPS)
    return {
        "gbps": round(found.gbps, 1),
        "basis": found.basis,
        "source": found.source,
        "measured_read_gbps": found.measured_gbps,
    }


def _measure(cpu: str | None) -> dict[str, Any]:
    """Measure the read bandwidth on an idle machine and keep it; a busy one is not kept."""
    import asyncio  # noqa: PLC0415

    from vramtui.core.detect.conditions import busy_refusal, sample_conditions  # noqa: PLC0415
    from vramtui.core.detect.cpu_memory import (  # noqa: PLC0415
        MEASURE_BYTES,
        MEASURE_PASSES,
        measure_read_bandwidth,
        save_measurement,
    )
    from vramtui.present.probe_words import refusal_words  # noqa: PLC0415

    conditions = asyncio.run(sample_conditions())
    busy = busy_refusal(conditions)
    read_gbps = measure_read_bandwidth(MEASURE_BYTES, MEASURE_PASSES)
    how = f"best of {MEASURE_PASSES} passes over {MEASURE_BYTES >> 20} MiB on every core"
    words = f"RAM read bandwidth: {read_gbps:.1f} GB/s measured ({how})"
    kept = None
    if busy is None:
        kept = str(save_measurement(cpu, read_gbps))
        words += "; kept for this CPU"
    else:
        words += f"; not kept: {refusal_words(busy, conditions)} (measure again when idle)"
    return {
        "read_gbps": round(read_gbps, 2),
        "kept_in": kept,
        "refusal": busy,
        "conditions": conditions.to_json(),
        "words": words,
    }
