"""Calibration that cannot lie: a decode factor learned from probes of the same model.

A probe measures one model on one machine, backend and runtime. Its measured / predicted
decode ratio says how far the speed model is off for exactly that case, and for nothing else:
a 2-layer test model says nothing about GLM-4.7-Flash. So a factor is only taken from probes
whose key matches the scenario on screen (machine, backend, runtime, and the model's identity:
name, quantization and size), and only from runs where the server really served that model.

Robust: the median of the latest 20 matching ratios, after dropping those more than 1.5x away
from a first median (the lower middle run). Bounded: one or two probes may move a prediction
by at most 25 %; a wider correction (up to 4x either way) needs three probes that agree within
15 %. A run the machine could not be trusted for never calibrates (`refusal`): another model
served, a ratio outside 0.2x..5x, CPUs or GPU busy with other work, CPU time stolen by a
hypervisor; the faces say which. The caller looks
the factor up once per scenario and passes `Calibration.factor` into the pure fit; `describe`
says it in words ("calibrated x1.12 from 3 probes").
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from vramtui.core.detect.conditions import RunConditions, busy_refusal
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.probe.history import HistoryRecord, history_path, load_history
from vramtui.core.vocab import CalibrationRefusal

RECENT = 20  # latest matching runs considered
OUTLIER = 1.5  # ratios further than this factor from the first median are dropped
AGREE = 0.15  # runs within 15 % of the median agree
AGREEING_FOR_WIDE = 3  # agreeing runs needed for a correction beyond NARROW
NARROW = (0.8, 1.25)  # what one or two probes may do
WIDE = (0.25, 4.0)  # what several agreeing probes may do
# A measured / predicted ratio outside these is a broken run, not a correction: the speed
# model's held-back errors are tens of percent, not multiples, so 5x either way is a server
# misconfigured (CPU fallback, throttling) or a machine doing something else.
SANE_RATIO = (0.2, 5.0)


@dataclass(frozen=True)
class CalibrationKey:
    """What a factor belongs to."""

    machine: str
    backend: str
    runtime: str
    model: str  # model_identity()


@dataclass(frozen=True)
class Calibration:
    factor: float
    probes: int  # matching runs the factor comes from
    bounded: bool  # the factor was held to its bounds

    def describe(self) -> str:
        runs = f"{self.probes} probe" + ("s" if self.probes != 1 else "")
        held = ", held to its bounds" if self.bounded else ""
        return f"calibrated x{self.factor:.2f} from {runs}{held}"


def model_identity(spec: ModelSpec) -> str:
    """Name, quantization and size: the same model file gives the same identity wherever it
    is opened from (path, hf:, catalog)."""
    file_type = spec.meta("general.file_type")
    return f"{spec.name}|{file_type if file_type is not None else '?'}|{spec.weights_bytes}"


_WORD = re.compile(r"[^a-z0-9]+")


def _squash(text: str) -> str:
    stem = text.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower().removesuffix(".gguf")
    return _WORD.sub("", stem)


def served_model_matches(served: str, *names: str) -> bool:
    """Whether the model a server reports (an id, a file path) is the one predicted, known by
    any of `names` (a reference such as `glm-4.7-flash:Q4_K_M`, a file path, the header's
    name). Compared without case, punctuation or the .gguf suffix."""
    got = _squash(served)
    if not got:
        return False
    for name in names:
        want = _squash(name)
        if want and (want in got or got in want):
            return True
    return False


def refusal(record: HistoryRecord) -> CalibrationRefusal | None:
    """Why this run must not calibrate anything; None when it may."""
    if not record.model_match:
        return CalibrationRefusal.OTHER_MODEL
    ratio = record.decode_ratio
    if ratio is None or ratio <= 0:
        return CalibrationRefusal.NO_MEASUREMENT
    # A busy machine explains a wild ratio: it is named first.
    busy = busy_refusal(RunConditions.from_json(record.measured.get("conditions")))
    if busy is not None:
        return busy
    if not SANE_RATIO[0] <= ratio <= SANE_RATIO[1]:
        return CalibrationRefusal.ABSURD_RATIO
    return None


def _matches(record: HistoryRecord, key: CalibrationKey) -> bool:
    """A run that calibrates `key`: same machine, backend, runtime and model, really served,
    on a machine that could be trusted."""
    return (
        record.machine == key.machine
        and record.backend == key.backend
        and record.runtime == key.runtime
        and record.model_key == key.model
        and refusal(record) is None
    )


def calibration_for(records: list[HistoryRecord], key: CalibrationKey) -> Calibration | None:
    """The factor for `key` from these records, or None when no run matches."""
    ratios = [r.decode_ratio for r in records if _matches(r, key) and r.decode_ratio][-RECENT:]
    if not ratios:
        return None
    first = statistics.median_low(ratios)  # one of the ratios: the filter keeps it
    kept = [x for x in ratios if first / OUTLIER <= x <= first * OUTLIER]
    median = statistics.median(kept)
    agreeing = sum(1 for x in kept if abs(x - median) <= AGREE * median)
    low, high = WIDE if agreeing >= AGREEING_FOR_WIDE else NARROW
    factor = min(max(median, low), high)
    return Calibration(factor, len(kept), factor != median)


_CACHE: dict[tuple[CalibrationKey, float, int], Calibration | None] = {}


def load_calibration(key: CalibrationKey, path: Path | None = None) -> Calibration | None:
    """`calibration_for` over the history file (read again only when it changed)."""
    source = path or history_path()
    try:
        st = source.stat()
    except OSError:
        return None
    cache_key = (key, st.st_mtime, st.st_size)
    if cache_key not in _CACHE:
        if len(_CACHE) > 64:
            _CACHE.clear()
        # Read from the history's end, only this key's runs, and only the RECENT latest.
        latest = load_history(source, keep=lambda r: _matches(r, key), limit=RECENT)
        _CACHE[cache_key] = calibration_for(latest, key)
    return _CACHE[cache_key]


def scenario_calibration(spec: ModelSpec, state: MachineState) -> Calibration | None:
    """The factor for this model on this machine state, from the probe history."""
    key = CalibrationKey(
        machine=state.machine.id,
        backend=state.resolved_backend,
        runtime=state.runtime,
        model=model_identity(spec),
    )
    return load_calibration(key)


def factor_of(calibration: Calibration | None) -> float | None:
    return calibration.factor if calibration is not None else None
