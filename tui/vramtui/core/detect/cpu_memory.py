"""The memory bandwidth of a machine that runs models on its CPU: from the CPU model where its
maker rates it, from a short measurement (`vramtui detect --measure`) where one was taken, and a
modest assumption otherwise.

The rated figure is the CPU's memory channels x 8 bytes x the fastest memory speed its maker
supports (channels populated, modules at rated speed); slower modules give less. A measurement
reads large arrays from every core at once and keeps the best of a few passes; it is kept per CPU
brand string in `data_dir() / cpu-bandwidth.json` and wins over the rating.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vramtui.core.atomic import read_text_capped, write_atomic
from vramtui.core.paths import data_dir
from vramtui.core.vocab import BandwidthBasis

MEASURED_FILE = "cpu-bandwidth.json"
MEASURE_BYTES = 512 << 20  # read per pass, split over the cores: well past any CPU cache
MEASURE_PASSES = 3
# A multi-threaded streaming read reaches about three quarters of the modules' peak on desktop
# DDR4/DDR5 (a guess: no row here measures both). The speed model works from the peak and its
# own decode efficiency, so a measurement is divided by this to give a peak-equivalent figure.
READ_SHARE_OF_PEAK = 0.75


@dataclass(frozen=True)
class _Family:
    pattern: str
    channels: int
    mts: int  # fastest supported memory transfers per second, millions
    source: str

    @property
    def gbps(self) -> float:
        return self.channels * 8 * self.mts / 1000


# Desktop and server CPUs that people run models on without a GPU. Mobile parts (H, HS, HX, U
# suffixes) are left out on purpose: they come with an integrated GPU, which detect finds.
_FAMILIES = (
    _Family(
        r"\bRyzen [3579] 9\d\d0(X3D|X|F)?\b",
        2,
        5600,
        "AMD product specifications, Ryzen 9000 series desktop: DDR5 up to 5600 MT/s, 2 channels",
    ),
    _Family(
        r"\bRyzen [3579] 7\d\d0(X3D|X|F)?\b",
        2,
        5200,
        "AMD product specifications, Ryzen 7000 series desktop: DDR5 up to 5200 MT/s, 2 channels",
    ),
    _Family(
        r"\bRyzen [3579] 5\d\d0(X3D|X)?\b",
        2,
        3200,
        "AMD product specifications, Ryzen 5000 series desktop: DDR4 up to 3200 MT/s, 2 channels",
    ),
    _Family(
        r"\bThreadripper 79\d0X\b",
        4,
        5200,
        "AMD product specifications, Ryzen Threadripper 7000 series: DDR5-5200, 4 channels",
    ),
    _Family(
        r"\bThreadripper PRO 79\d5WX\b",
        8,
        5200,
        "AMD product specifications, Ryzen Threadripper PRO 7000 WX: DDR5-5200, 8 channels",
    ),
    _Family(
        r"\bEPYC 9\d\d4",
        12,
        4800,
        "AMD EPYC 9004 series product specifications: DDR5-4800, 12 channels",
    ),
    _Family(
        r"\bEPYC 9\d\d5",
        12,
        6000,
        "AMD EPYC 9005 series product specifications: DDR5-6000, 12 channels",
    ),
    _Family(
        r"\bEPYC 7\d\d3",
        8,
        3200,
        "AMD EPYC 7003 series product specifications: DDR4-3200, 8 channels",
    ),
    _Family(
        r"\bi[3579]-1[34]\d00(K|KF|F|KS|T)?\b",
        2,
        5600,
        "Intel ARK, 13th/14th generation Core desktop: DDR5 5600 MT/s, 2 channels (89.6 GB/s)",
    ),
    _Family(
        r"\bi[3579]-12\d00(K|KF|F|KS|T)?\b",
        2,
        4800,
        "Intel ARK, 12th generation Core desktop: DDR5 4800 MT/s, 2 channels (76.8 GB/s)",
    ),
)


@dataclass(frozen=True)
class CpuBandwidth:
    gbps: float  # peak-equivalent GB/s, what the speed model reads as the RAM's bandwidth
    basis: BandwidthBasis
    source: str
    measured_gbps: float | None = None  # the read rate itself, when measured


def rated_bandwidth(cpu: str | None) -> CpuBandwidth | None:
    """The maker's rating for this CPU brand string; None when it is not in the table."""
    for family in _FAMILIES:
        if cpu and re.search(family.pattern, cpu):
            return CpuBandwidth(family.gbps, BandwidthBasis.RATED, family.source)
    return None


def measured_path() -> Path:
    return data_dir() / MEASURED_FILE


def _read_store(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(read_text_capped(path, 1 << 20))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def measured_bandwidth(cpu: str | None, path: Path | None = None) -> CpuBandwidth | None:
    """The measurement kept for this CPU brand string, if any."""
    entry = _read_store(path or measured_path()).get(cpu or "")
    if not isinstance(entry, dict):
        return None
    value = entry.get("read_gbps")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e5:
        return None
    when = entry.get("measured_at") if isinstance(entry.get("measured_at"), str) else "?"
    source = f"measured on this machine with `vramtui detect --measure` ({when})"
    peak = float(value) / READ_SHARE_OF_PEAK
    return CpuBandwidth(peak, BandwidthBasis.MEASURED, source, measured_gbps=float(value))


def cpu_bandwidth(cpu: str | None, default_gbps: float) -> CpuBandwidth:
    """Measured, else rated, else `default_gbps` (assumed)."""
    found = measured_bandwidth(cpu) or rated_bandwidth(cpu)
    if found is not None:
        return found
    why = "the CPU is not in vramtui's table and no measurement was taken"
    return CpuBandwidth(default_gbps, BandwidthBasis.ASSUMED, f"assumed: {why}")


def measure_read_bandwidth(
    total_bytes: int = MEASURE_BYTES, passes: int = MEASURE_PASSES, threads: int | None = None
) -> float:
    """GB/s read by all cores at once (numpy sums, which release the GIL), best of `passes`."""
    import numpy as np  # noqa: PLC0415  (only the measurement needs it)

    n = max(1, threads or os.cpu_count() or 1)
    chunks = [np.ones(max(total_bytes // 8 // n, 1), dtype=np.float64) for _ in range(n)]
    read = sum(c.nbytes for c in chunks)
    best = 0.0
    for _ in range(max(1, passes)):
        workers = [threading.Thread(target=np.add.reduce, args=(c,)) for c in chunks]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - start
        best = max(best, read / elapsed / 1e9 if elapsed > 0 else 0.0)
    return best


def save_measurement(cpu: str | None, read_gbps: float, path: Path | None = None) -> Path:
    """Keep a measurement for this CPU brand string (others' entries kept as they are)."""
    target = path or measured_path()
    store = _read_store(target)
    store[cpu or ""] = {
        "read_gbps": round(read_gbps, 2),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, json.dumps(store, indent=1) + "\n")
    return target
