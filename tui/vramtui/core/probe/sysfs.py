"""amdgpu's memory counters in sysfs: VRAM and GTT in use, sampled before and during a probe.

Reads of a few small pseudo-files that the kernel answers from memory, so they are plain
synchronous reads, safe to make from the event loop.
"""

from __future__ import annotations

from pathlib import Path

from vramtui.core.probe.results import GpuMemorySample

DEFAULT_SYSFS_DRM = Path("/sys/class/drm")
_COUNTERS = ("vram_used", "vram_total", "gtt_used", "gtt_total")


def _read_counter(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip()[:32])
    except (OSError, ValueError):
        return None


def read_amdgpu_memory(root: Path = DEFAULT_SYSFS_DRM) -> list[GpuMemorySample]:
    """amdgpu's counters: /sys/class/drm/card*/device/mem_info_{vram,gtt}_{used,total} (bytes).

    Cards without the files (not amdgpu, or not Linux) are skipped; no card -> [].
    """
    samples: list[GpuMemorySample] = []
    try:
        cards = sorted(p for p in root.glob("card*") if p.name[4:].isdigit())
    except OSError:
        return samples
    for card in cards:
        dev = card / "device"
        values = {name: _read_counter(dev / f"mem_info_{name}") for name in _COUNTERS}
        if all(v is None for v in values.values()):
            continue
        samples.append(GpuMemorySample(card=card.name, **values))
    return samples


def peak(a: list[GpuMemorySample], b: list[GpuMemorySample]) -> list[GpuMemorySample]:
    """Of two samplings, the one with more memory in use (an empty one never wins)."""
    if not a:
        return b
    if not b:
        return a
    return b if sum(s.used for s in b) > sum(s.used for s in a) else a
