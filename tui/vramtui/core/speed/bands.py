"""The range beside every speed: how far the measured value fell from the model's on rows it
was not fitted on, for this class (constants key) and figure.

`bands_fitted.py` holds, per figure (decode, prefill, ttft) and key, the ratios measured /
predicted from low to high: centred on the class's held-back bias, as wide as ranges built
without a row's fold had to be to hold 80 % of held-back rows, wider for classes with few rows
(bench/speed_bands.py writes it). A key with no held-back rows takes the range of the first
relative that lends it constants (`constants.key_chain`: CUDA on Windows borrows CUDA on Linux),
twice as wide in log terms, and says so (`rows` = 0, `relative`); with no relative measured
either, every class's rows together, doubled; a first token with no rows of its own takes the
key's prefill range, as seconds (the rate's ends turned over). A llama.cpp build away from the
one the key's rows ran widens the range by the amount the older-build check rows needed
(`BUILD_WIDEN`, log ratio per 1000 builds).

The build is also an input to prefill (`prefill_build_factor`): on Strix Halo the older-build
check rows ran prefill slower on RADV and ROCm and faster on AMDVLK than the fitted rows'
build, by `BUILD_SLOPE` (log ratio per 1000 builds before it). A build newer than the data
changes nothing but the range: no row says which way it goes. The ROCm release is an input to
prefill too, inside the windows of core/speed/releases.py only (ROCm 7.2.0 and the nightlies at
some builds), by `RELEASE_FACTOR`.

A model that runs on the CPU of a machine whose RAM bandwidth is assumed (no rating for its CPU,
no measurement: `BandwidthBasis.ASSUMED`) could read its RAM anywhere from one channel of slow
DDR4 to a many-channel server; its decode and first-token ranges are widened by what the speed
model predicts at those two ends relative to the assumed figure (`ram_widened`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from vramtui.core.speed.bands_fitted import (
    BANDS,
    BUILD_SLOPE,
    BUILD_WIDEN,
    DATA_BUILD,
    POOLED,
    RELEASE_FACTOR,
)
from vramtui.core.speed.constants import key_chain
from vramtui.core.speed.releases import ReleaseWindow, release_window
from vramtui.core.vocab import RocmRelease

FIGURES = ("decode", "prefill", "ttft")
# The span of RAM bandwidths a CPU of unknown make may have, GB/s (channels x 8 B x MT/s).
# Low: one channel of DDR4-2400, the slowest DDR4 speed bin desktop CPUs still ship with
# (JEDEC JESD79-4 DDR4 speed bins; module name PC4-19200, 19,200 MB/s).
RAM_LOW_GBPS = 19.2
# High: 8 channels of DDR5-4800, Intel 4th-generation Xeon Scalable (Intel ARK, Xeon Platinum
# 8480+: 8 memory channels, DDR5-4800; ServeTheHome, "Intel Xeon Max 9480 Deep-Dive", 2023:
# four tiles of two DDR5 channels each).
RAM_HIGH_GBPS = 307.2


@dataclass(frozen=True, slots=True)
class SpeedBand:
    """measured / predicted from `low` to `high` for one figure of one class."""

    figure: str
    low: float
    high: float
    rows: int  # held-back rows behind it (0: no rows for this class, every class's spread)
    key: str  # the constants key whose rows give it
    basis: str  # the figure whose rows give it ("prefill" for a first token with none)
    build_gap: int = 0  # builds between the asked llama.cpp build and the key's rows
    relative: str = ""  # rows = 0: the relative key whose range, doubled, stands in ("": all)
    # The RAM bandwidth (GB/s) the prediction assumed when the range was widened to span
    # RAM_LOW_GBPS..RAM_HIGH_GBPS (`ram_widened`); None when it was not.
    assumed_ram_gbps: float | None = None

    def around(self, value: float) -> tuple[float, float]:
        """[low, high] around `value` (tok/s or seconds alike: both are ratios of it)."""
        return (value * self.low, value * self.high)

    def to_json(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "class": self.key,
            "from": self.basis,
            "build_gap": self.build_gap,
            "relative": self.relative or None,
            "assumed_ram": (
                None
                if self.assumed_ram_gbps is None
                else {
                    "gbps": self.assumed_ram_gbps,
                    "span_gbps": [RAM_LOW_GBPS, RAM_HIGH_GBPS],
                }
            ),
        }


def speed_band(key: str, figure: str, llama_build: int | None = None) -> SpeedBand:
    """The range of `figure` for constants key `key` (see the module doc)."""
    basis = figure
    found = BANDS.get(f"{figure}@{key}")
    if found is None and figure == "ttft":
        basis = "prefill"
        found = BANDS.get(f"prefill@{key}")
    relative = ""
    if found is None:
        low, high, relative = _borrowed(key, basis)
        rows = 0
    else:
        low, high, rows = found
    if basis != figure:  # a prefill rate's range, turned into one of seconds
        low, high = 1 / high, 1 / low
    gap = 0
    if llama_build is not None and key in DATA_BUILD:
        gap = abs(llama_build - DATA_BUILD[key])
        widen = BUILD_WIDEN.get(basis, 0.0) * gap / 1000
        low, high = low * math.exp(-widen), high * math.exp(widen)
    return SpeedBand(figure, low, high, rows, key, basis, gap, relative)


def ram_widened(band: SpeedBand, at_low: float, at_high: float, assumed: float) -> SpeedBand:
    """`band` widened for a RAM bandwidth that is assumed: `at_low` and `at_high` are the
    figure at RAM_LOW_GBPS and RAM_HIGH_GBPS over the figure at `assumed` GB/s (a rate's ratios
    below and above 1; seconds' the other way round). Each end moves only outwards."""
    down, up = sorted((at_low, at_high))
    return replace(
        band,
        low=band.low * min(down, 1.0),
        high=band.high * max(up, 1.0),
        assumed_ram_gbps=assumed,
    )


def _borrowed(key: str, figure: str) -> tuple[float, float, str]:
    """(low, high, relative) for a key with no rows: its first measured relative's range,
    doubled in log terms around its centre; else every class's (already doubled)."""
    for relative in key_chain(key)[1:]:
        found = BANDS.get(f"{figure}@{relative}")
        if found is not None:
            low, high, _ = found
            centre = math.sqrt(low * high)
            return centre * (low / centre) ** 2, centre * (high / centre) ** 2, relative
    low, high = POOLED[figure]
    return low, high, ""


def prefill_build_factor(
    key: str, llama_build: int | None, rocm_release: str = RocmRelease.CURRENT
) -> float:
    """Measured / predicted prefill expected at `llama_build` built with ROCm `rocm_release`
    (1 at the data's own build and release; the release matters only inside one of
    `releases.RELEASE_WINDOWS`)."""
    factor = 1.0
    if llama_build is not None and key in DATA_BUILD:
        gap = max(DATA_BUILD[key] - llama_build, 0) / 1000
        factor = math.exp(BUILD_SLOPE.get(key, 0.0) * gap)
    window = release_window(key, rocm_release, llama_build)
    if window is not None:
        factor *= release_factor(window)[0]
    return factor


def release_factor(window: ReleaseWindow) -> tuple[float, int]:
    """Measured / predicted prefill inside `window` and the check rows it rests on ((1, 0)
    where the bench found none)."""
    return RELEASE_FACTOR.get(window.release.value, (1.0, 0))
