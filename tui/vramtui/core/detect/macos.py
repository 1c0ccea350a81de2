"""macOS: read this Mac with `sysctl -n KEY` (no admin rights; 2 s timeout each).

- hw.memsize: installed RAM in bytes (unified memory: the OS sees all of it).
- machdep.cpu.brand_string: the chip, e.g. "Apple M4 Max" (an Intel Mac names its CPU).
- hw.model: the model identifier, e.g. "Mac16,5".
- iogpu.wired_limit_mb: the GPU wired-memory cap set by the user (0 = unset: the default
  working set applies). macOS 14+; older releases have no such key and it is simply not read.
The GPU's share is Metal's recommendedMaxWorkingSetSize, which needs the Metal API; the rule
the fit uses stands in for it: 2/3 of RAM up to 36 GB, 3/4 above (llama.cpp #3213,
llama-cpp-python #687), or the wired limit when set.
"""

from __future__ import annotations

from vramtui.core.detect.types import (
    CommandRunner,
    Detection,
    GpuInfo,
    clean_text,
    parse_int,
)
from vramtui.core.vocab import OsName

SYSCTL_KEYS = ("hw.memsize", "machdep.cpu.brand_string", "hw.model", "iogpu.wired_limit_mb")
GiB = 1024**3
MiB = 1024**2


def working_set(total: int, wired_limit: int | None) -> int:
    """The GPU working set by the rule above (the same rule as vramtui.core.hardware.pools)."""
    if wired_limit:
        return min(wired_limit, total)
    return int(total * (2 / 3 if total <= 36 * GiB else 3 / 4))


def detect_macos(runner: CommandRunner) -> Detection:
    values: dict[str, str] = {}
    sources: list[str] = []
    problems: list[str] = []
    for key in SYSCTL_KEYS:
        out = runner(("sysctl", "-n", key), 2.0)
        if out.ok and out.stdout.strip():
            values[key] = out.stdout.strip()
            sources.append(f"sysctl -n {key}")
        elif key != "iogpu.wired_limit_mb":  # absent before macOS 14: not a problem
            problems.append(f"sysctl -n {key}: {out.error or f'exit code {out.returncode}'}")
    total = parse_int(values.get("hw.memsize"))
    brand = values.get("machdep.cpu.brand_string")
    chip = clean_text(brand) if brand else None
    limit_mib = parse_int(values.get("iogpu.wired_limit_mb"))
    wired = limit_mib * MiB if limit_mib else None
    gpus: tuple[GpuInfo, ...] = ()
    if chip and chip.startswith("Apple") and total:
        gpus = (
            GpuInfo(
                name=f"{chip} GPU",
                vendor="apple",
                pci_id=None,
                dedicated_bytes=0,
                shared_bytes=working_set(total, wired),
                unified=True,
            ),
        )
    elif chip:
        problems.append(f"{chip}: an Intel Mac; its GPU is not read")
    return Detection(
        os=OsName.MACOS,
        total_ram_bytes=total,
        visible_ram_bytes=total,
        gpus=gpus,
        carve_out_bytes=None,
        total_ram_basis="installed",
        product=clean_text(values["hw.model"]) if values.get("hw.model") else None,
        product_vendor="Apple" if values else None,
        cpu=chip,
        wired_limit_bytes=wired,
        sources=tuple(sources),
        problems=tuple(problems),
    )
