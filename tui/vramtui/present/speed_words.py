"""Speed figures in words, each with its range: "38–46 tok/s", "5.8–25 s"."""

from __future__ import annotations

from vramtui.core.speed.bands import RAM_HIGH_GBPS, RAM_LOW_GBPS
from vramtui.core.speed.predict import SpeedEstimate

DASH = "\u2013"  # en dash between the ends of a range


def _num(value: float) -> str:
    """Whole numbers from 10 up, one decimal below (tok/s and seconds alike)."""
    return f"{value:.0f}" if round(value, 1) >= 10 else f"{value:.1f}"


def span_words(low: float, high: float, unit: str) -> str:
    """ "38–46 tok/s"; one figure where both ends print the same."""
    lo, hi = _num(low), _num(high)
    return f"{lo} {unit}" if lo == hi else f"{lo}{DASH}{hi} {unit}"


def rate_span(value: float, span: tuple[float, float] | None) -> str:
    """A rate's range without its unit, for table cells and running text: "38–46"; the figure
    alone ("41") where no range comes with it (a class with no band)."""
    if span is None:
        return _num(value)
    lo, hi = _num(span[0]), _num(span[1])
    return lo if lo == hi else f"{lo}{DASH}{hi}"


def decode_span(speed: SpeedEstimate) -> str:
    """Decode's range without its unit: "38–46"."""
    return rate_span(speed.decode_tokens_per_second, speed.decode_range())


def decode_words(speed: SpeedEstimate) -> str:
    """Decode's range with its unit: "38–46 tok/s"."""
    return f"{decode_span(speed)} tok/s"


def figure_words(speed: SpeedEstimate, figure: str) -> str:
    """One figure with its range: decode or prefill in tok/s, the first token (ttft) in s."""
    value = {
        "decode": speed.decode_tokens_per_second,
        "prefill": speed.prefill_tokens_per_second,
        "ttft": speed.time_to_first_token_s,
    }[figure]
    unit = "s" if figure == "ttft" else "tok/s"
    span = speed.ranges().get(figure)
    return span_words(*span, unit) if span else f"{_num(value)} {unit}"


def range_note(speed: SpeedEstimate) -> str:
    """Where the ranges come from, in a clause: the held-back rows of this class, or none."""
    band = speed.band("decode")
    if band is None:
        return ""
    if band.rows == 0 and band.relative:
        note = f"no measured rows for {band.key}: ranges of {band.relative}, twice as wide"
    elif band.rows == 0:
        note = f"no measured rows for {band.key}: ranges from every class, doubled"
    else:
        note = f"ranges from {band.rows} held-back {band.key} rows"
    if band.build_gap:
        note += f", for a llama.cpp build {band.build_gap} builds from theirs"
    ram = ram_note(speed)
    return f"{note}; {ram}" if ram else note


def ram_note(speed: SpeedEstimate) -> str:
    """Why the range is wide when the CPU's RAM bandwidth is a guess, and what measures it;
    nothing when it is measured or rated."""
    band = speed.band("decode")
    if band is None or band.assumed_ram_gbps is None:
        return ""
    return (
        f"the RAM bandwidth is assumed ({band.assumed_ram_gbps:.0f} GB/s), so the range covers "
        f"RAM from {RAM_LOW_GBPS:g} to {RAM_HIGH_GBPS:g} GB/s; `vramtui detect --measure` "
        "measures it"
    )


def speed_sentence(speed: SpeedEstimate) -> str:
    """ "expected: 38–46 tok/s decode, 900–1300 tok/s prefill, first token after 1.0–1.5 s
    (1024-token prompt; ranges from 10 held-back ... rows)" """
    calibrated = " [calibrated]" if speed.calibrated else ""
    note = range_note(speed)
    return (
        f"expected: {figure_words(speed, 'decode')} decode, "
        f"{figure_words(speed, 'prefill')} prefill, first token after "
        f"{figure_words(speed, 'ttft')}{image_words(speed)} ({speed.prompt_tokens}-token prompt"
        f"{'; ' + note if note else ''}){calibrated}"
    )


def image_words(speed: SpeedEstimate) -> str:
    """ ", 5.8–32 s with a 2040-token image" for a model with a projector, else nothing."""
    t = speed.time_to_first_token_image_s
    if t is None:
        return ""
    span = speed.image_range()
    said = span_words(*span, "s") if span else f"{_num(t)} s"
    return f", {said} with a {speed.image_tokens}-token image"
