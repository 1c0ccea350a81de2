"""The probe's sentences: why a run does or does not calibrate later predictions."""

from __future__ import annotations

from vramtui.core.detect.conditions import RunConditions
from vramtui.core.probe.calibration import SANE_RATIO
from vramtui.core.vocab import CalibrationRefusal
from vramtui.present.untrusted import plain


def _busy_cpu(c: RunConditions) -> str:
    parts = []
    if c.load_1m is not None and c.cpu_count:
        parts.append(f"load {c.load_1m:.1f} on {c.cpu_count} CPUs")
    if c.cpu_busy_share is not None:
        parts.append(f"{c.cpu_busy_share:.0%} of CPU time already in use")
    return "the machine was busy" + (f" ({', '.join(parts)})" if parts else "")


def refusal_words(
    code: CalibrationRefusal,
    conditions: RunConditions | None = None,
    ratio: float | None = None,
    served: str = "",
) -> str:
    """Why a run does not calibrate, as a clause ("the machine was busy (load 7.0 on 2 CPUs)")."""
    c = conditions or RunConditions()
    match code:
        case CalibrationRefusal.OTHER_MODEL:
            ran = f" ({plain(served, 200)})" if served else ""
            return f"the server ran another model{ran} than the one predicted"
        case CalibrationRefusal.NO_MEASUREMENT:
            return "there is no prediction or no decode speed to compare"
        case CalibrationRefusal.ABSURD_RATIO:
            low, high = SANE_RATIO
            got = f"measured {ratio:.2f}x the prediction" if ratio is not None else "the ratio"
            return f"{got} is outside {low:g}x to {high:g}x: a broken run, not a correction"
        case CalibrationRefusal.BUSY_CPU:
            return _busy_cpu(c)
        case CalibrationRefusal.CPU_STEAL:
            stolen = f"{c.cpu_steal_share:.0%}" if c.cpu_steal_share is not None else "much"
            return f"{stolen} of CPU time went to other virtual machines"
        case CalibrationRefusal.BUSY_GPU:
            busy = f" ({c.gpu_busy_share:.0%} of the time)" if c.gpu_busy_share else ""
            return f"another process kept the GPU busy{busy}"


def calibration_line(
    code: CalibrationRefusal | None,
    conditions: RunConditions | None = None,
    ratio: float | None = None,
    served: str = "",
) -> str:
    """The sentence the faces show under a probe's result."""
    if code is None:
        return "this run calibrates later predictions of this model on this machine"
    why = refusal_words(code, conditions, ratio, served)
    return f"kept in the history, not used to calibrate: {why}"
