"""How busy the machine was when a probe ran: read from /proc with the server idle, just before
the request goes out, so a measurement taken on a loaded machine is known as such.

Linux only (other systems give unknown figures). Sources, all under ROOT/proc (ROOT is `/`, or
`VRAMTUI_SYSROOT` for a recorded tree):
- `loadavg`: the 1-minute load average (proc(5));
- `stat`'s first `cpu` line, read twice over a short window: the share of CPU time that was not
  idle (user + nice + system + irq + softirq + steal over all but guest time) and the share
  stolen by the hypervisor (`steal`, the 8th field; proc(5));
- `cpuinfo`: the number of `processor` entries;
- `*/fdinfo/*`: DRM clients' `drm-engine-<name>: N ns` counters (the kernel's drm-usage-stats
  documentation, Documentation/gpu/drm-usage-stats.rst): the engine time any process used
  during the window, summed per client (`drm-pdev` + `drm-client-id`), is GPU work by someone
  else while the probed server was idle. Only processes this user may read are seen.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vramtui.core.vocab import CalibrationRefusal

SYSROOT_ENV = "VRAMTUI_SYSROOT"
WINDOW_S = 0.5  # the sampling window before the request
MAX_FDINFO = 4096  # fdinfo files read per sample at most (a busy desktop has a few hundred)
# Judgements with no measured row behind them (guesses, stated as such): a 1-minute load above
# 1.5 per CPU, or over half of all CPU time spent while the server sat idle, means other work
# competes with the run; over 10 % stolen CPU time means a noisy virtual machine; GPU engines
# busy over a quarter of the window with the server idle mean another process uses the GPU.
BUSY_LOAD_PER_CPU = 1.5
BUSY_CPU_SHARE = 0.5
STEAL_SHARE = 0.10
BUSY_GPU_SHARE = 0.25
_ENGINE = re.compile(r"^drm-engine-[\w-]+:\s+(\d+)\s+ns", re.MULTILINE)
_CLIENT = re.compile(r"^drm-client-id:\s+(\d+)", re.MULTILINE)
_PDEV = re.compile(r"^drm-pdev:\s+(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class RunConditions:
    """The machine just before the run; None where it could not be read."""

    cpu_count: int | None = None
    load_1m: float | None = None
    cpu_busy_share: float | None = None  # 0..1 of all CPUs' time, over the window
    cpu_steal_share: float | None = None  # 0..1, time the hypervisor gave to others
    gpu_busy_share: float | None = None  # DRM engine time of all clients / window (0..n engines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> RunConditions | None:
        if not isinstance(data, dict):
            return None

        def num(key: str) -> float | None:
            v = data.get(key)
            if isinstance(v, bool) or not isinstance(v, int | float):
                return None
            return float(v) if math.isfinite(v) and v >= 0 else None

        count = num("cpu_count")
        return cls(
            cpu_count=int(count) if count else None,
            load_1m=num("load_1m"),
            cpu_busy_share=num("cpu_busy_share"),
            cpu_steal_share=num("cpu_steal_share"),
            gpu_busy_share=num("gpu_busy_share"),
        )


def proc_root() -> Path:
    return Path(os.environ.get(SYSROOT_ENV) or "/") / "proc"


def _read(path: Path, limit: int = 1 << 16) -> str | None:
    try:
        with path.open("rb") as handle:
            return handle.read(limit).decode("ascii", "replace")
    except OSError:
        return None


def _load_1m(proc: Path) -> float | None:
    text = _read(proc / "loadavg")
    try:
        return float(text.split()[0]) if text else None
    except (ValueError, IndexError):
        return None


def _cpu_count(proc: Path) -> int | None:
    text = _read(proc / "cpuinfo", 1 << 20)
    count = sum(1 for line in (text or "").splitlines() if line.startswith("processor"))
    return count or None


def _cpu_times(proc: Path) -> tuple[int, int, int] | None:
    """(total, idle + iowait, steal) jiffies from /proc/stat's `cpu` line."""
    text = _read(proc / "stat")
    if not text or not text.startswith("cpu "):
        return None
    try:
        fields = [int(x) for x in text.splitlines()[0].split()[1:9]]
    except ValueError:
        return None
    fields += [0] * (8 - len(fields))
    return sum(fields), fields[3] + fields[4], fields[7]


def _gpu_engine_ns(proc: Path) -> int | None:
    """Engine time of every DRM client this user can see, counted once per client."""
    per_client: dict[tuple[str, str], int] = {}
    seen = 0
    try:
        pids = [p for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            infos = list((pid / "fdinfo").iterdir())
        except OSError:
            continue
        for info in infos:
            seen += 1
            if seen > MAX_FDINFO:
                break
            text = _read(info, 4096)
            client = _CLIENT.search(text or "")
            if text is None or client is None:
                continue
            pdev = _PDEV.search(text)
            key = (pdev.group(1) if pdev else "", client.group(1))
            per_client[key] = sum(int(n) for n in _ENGINE.findall(text))
        if seen > MAX_FDINFO:
            break
    return sum(per_client.values()) if per_client else None


def _shares(
    before: tuple[int, int, int] | None, after: tuple[int, int, int] | None
) -> tuple[float | None, float | None]:
    if before is None or after is None or after[0] <= before[0]:
        return None, None
    total = after[0] - before[0]
    idle = after[1] - before[1]
    steal = after[2] - before[2]
    return max(0.0, min(1.0, 1 - idle / total)), max(0.0, min(1.0, steal / total))


async def sample_conditions(root: Path | None = None, window_s: float = WINDOW_S) -> RunConditions:
    """The conditions over `window_s` seconds (the caller's server idle meanwhile)."""
    proc = root if root is not None else proc_root()
    cpu_before, gpu_before = _cpu_times(proc), _gpu_engine_ns(proc)
    await asyncio.sleep(window_s)
    cpu_after, gpu_after = _cpu_times(proc), _gpu_engine_ns(proc)
    busy, steal = _shares(cpu_before, cpu_after)
    gpu = None
    if gpu_before is not None and gpu_after is not None and window_s > 0:
        gpu = max(0.0, (gpu_after - gpu_before) / (window_s * 1e9))
    return RunConditions(
        cpu_count=_cpu_count(proc),
        load_1m=_load_1m(proc),
        cpu_busy_share=busy,
        cpu_steal_share=steal,
        gpu_busy_share=gpu,
    )


def busy_refusal(conditions: RunConditions | None) -> CalibrationRefusal | None:
    """What made the machine untrustworthy for a measurement, from its conditions; None when
    nothing did (unknown figures count as fine: other systems cannot read them)."""
    if conditions is None:
        return None
    c = conditions
    if c.cpu_steal_share is not None and c.cpu_steal_share > STEAL_SHARE:
        return CalibrationRefusal.CPU_STEAL
    per_cpu = c.load_1m / c.cpu_count if c.load_1m is not None and c.cpu_count else None
    if (per_cpu is not None and per_cpu > BUSY_LOAD_PER_CPU) or (
        c.cpu_busy_share is not None and c.cpu_busy_share > BUSY_CPU_SHARE
    ):
        return CalibrationRefusal.BUSY_CPU
    if c.gpu_busy_share is not None and c.gpu_busy_share > BUSY_GPU_SHARE:
        return CalibrationRefusal.BUSY_GPU
    return None
