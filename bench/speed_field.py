"""Field rows: public Strix Halo speed measurements from sources other than the fit's and the
check rows', most on 2026 models (tests/data/speed_rows_field.toml), scored and never fitted on.

Each row is predicted as the app would show it: the shipped constants, prefill scaled by the
build factor at the row's llama.cpp build where the source names it (`prefill_build_factor`),
and the range of the row's class and figure at that build (`speed_band`), the one beside every
speed in the app. Error = predicted / measured - 1. Secondary rows carry a caveat their
`detail` names (server timings, an assumed generated length or OS, a UD quant mix, a rounded
figure); the summary gives every row and the primary rows alone.

    python -m bench speed     # prints this section after the check rows
"""

from __future__ import annotations

import statistics
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.speed_bands import FIGURE_GOAL, GOAL_COVER, WIDTH_GOAL, WITHIN
from bench.speed_rows import (
    ROOT,
    Row,
    load_rows,
    open_model,
    predict,
    row_build,
    row_inputs,
    row_release,
)
from vramtui.core.speed.bands import prefill_build_factor, speed_band
from vramtui.core.vocab import RocmRelease

FIELD_ROWS = ROOT / "tests" / "data" / "speed_rows_field.toml"
RANGE_GOAL = {"cover": GOAL_COVER, "width": WIDTH_GOAL}


@dataclass(frozen=True)
class Scored:
    row: Row
    predicted: float  # shipped constants, the build ignored
    at_build: float  # what the app shows at the row's build (prefill's build factor)
    low: float  # the range the app shows around `at_build`
    high: float

    @property
    def error(self) -> float:
        return self.at_build / self.row.measured - 1

    @property
    def inside(self) -> bool:
        return self.low <= self.row.measured <= self.high

    @property
    def width(self) -> float:
        return self.high / self.low


def load_field_rows(path: Path = FIELD_ROWS) -> list[Row]:
    return load_rows(path)


def field_sources(path: Path = FIELD_ROWS) -> dict[str, str]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {k: v["text"] for k, v in data["source"].items()}


def score(
    rows: list[Row], table: dict[str, float], fb: dict[str, float], with_release: bool = True
) -> list[Scored]:
    """Each row as the app shows it: at its build and ROCm release (the release ignored unless
    `with_release`)."""
    out = []
    for r in rows:
        pred = predict(r, table, fb)
        key = row_inputs(r).key
        build = row_build(r)
        release = row_release(r) if with_release else RocmRelease.CURRENT
        factor = prefill_build_factor(key, build, release)
        shown = pred if r.is_decode else pred * factor
        band = speed_band(key, "decode" if r.is_decode else "prefill", build)
        low, high = band.around(shown)
        out.append(Scored(r, pred, shown, low, high))
    return out


def _label(r: Row) -> str:
    return f"{r.test}{r.n}" + (f"@d{r.depth}" if r.depth else "")


def row_table(scored: list[Scored]) -> None:
    print(
        f"{'row':5} {'source':13} {'backend':13} {'model':31} {'test':12} {'build':>5} "
        f"{'pred':>8} {'@build':>8} {'meas':>8} {'err':>6}  {'range':>17} in  sec"
    )
    for s in scored:
        r = s.row
        build = row_build(r)
        print(
            f"{r.id:5} {r.source:13} {r.backend_label:13} {r.model:31} {_label(r):12} "
            f"{build or '-':>5} {s.predicted:8.1f} {s.at_build:8.1f} {r.measured:8.1f} "
            f"{s.error:+6.0%}  {s.low:8.1f}-{s.high:<8.1f} {'y' if s.inside else 'n':2}  "
            f"{'y' if r.secondary else ''}"
        )


def group_table(scored: list[Scored]) -> None:
    """Per model and backend, per figure: rows, within ±25 %, median error, range held."""
    groups: dict[tuple[str, str, str], list[Scored]] = defaultdict(list)
    for s in scored:
        groups[(s.row.model, s.row.backend_label, s.row.test)].append(s)
    print(
        f"{'model':31} {'backend':13} {'test':4} {'rows':>4} {'±25%':>5} {'bias':>6} {'range':>6}"
    )
    for (model, backend, test), v in sorted(groups.items()):
        within = sum(abs(s.error) <= WITHIN for s in v)
        held = sum(s.inside for s in v)
        bias = statistics.median(s.error for s in v)
        print(f"{model:31} {backend:13} {test:4} {len(v):4d} {within:5d} {bias:+6.0%} {held:6d}")


def architecture_table(scored: list[Scored]) -> None:
    """Per GGUF architecture and figure: how many rows fall within ±25 %, the median error."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in scored:
        arch = open_model(s.row.model).architecture
        groups[(arch, "decode" if s.row.is_decode else "prefill")].append(s.error)
    print(f"{'architecture':16} {'figure':8} {'rows':>4} {'±25%':>5} {'median':>7} {'worst':>6}")
    for (arch, fig), errs in sorted(groups.items()):
        within = sum(abs(e) <= WITHIN for e in errs)
        worst = max(errs, key=abs)
        med = statistics.median(errs)
        print(f"{arch:16} {fig:8} {len(errs):4d} {within:5d} {med:+7.0%} {worst:+6.0%}")


def summary_lines(scored: list[Scored]) -> list[str]:
    """Decode and prefill within ±25 % (every row, primary rows only), range holds, median
    range width, each against the open goal's bar."""
    out = []
    for test, name in (("tg", "decode"), ("pp", "prefill")):
        for which, keep in (("all rows", False), ("primary rows", True)):
            errs = [
                s.error for s in scored if s.row.test == test and not (keep and s.row.secondary)
            ]
            if not errs:
                out.append(f"---- field {name}, {which}: no rows")
                continue
            share = sum(abs(e) <= WITHIN for e in errs) / len(errs)
            verdict = "PASS" if share >= FIGURE_GOAL[name] else "FAIL"
            out.append(
                f"{verdict} field {name}, {which}: {share:.0%} of {len(errs)} within ±25 % "
                f"(goal {FIGURE_GOAL[name]:.0%}; median error {statistics.median(errs):+.0%})"
            )
    for which, keep in (("all rows", False), ("primary rows", True)):
        chosen = [s for s in scored if not (keep and s.row.secondary)]
        share = sum(s.inside for s in chosen) / len(chosen)
        width = statistics.median(s.width for s in chosen)
        ok = share >= RANGE_GOAL["cover"] and width <= RANGE_GOAL["width"]
        out.append(
            f"{'PASS' if ok else 'FAIL'} field ranges, {which}: hold {share:.0%} of "
            f"{len(chosen)}, median width {width:.2f} (goal >= 80 %, <= {RANGE_GOAL['width']})"
        )
    return out


def report(table: dict[str, float], fb: dict[str, float]) -> None:
    rows = load_field_rows()
    sources = field_sources()
    per_source: dict[str, int] = defaultdict(int)
    for r in rows:
        per_source[r.source] += 1
    print(
        f"{len(rows)} rows from {len(sources)} sources ("
        + ", ".join(f"{k} {n}" for k, n in sorted(per_source.items()))
        + "); predicted at each row's build where given, range as the app shows it"
    )
    scored = score(rows, table, fb)
    row_table(scored)
    print()
    group_table(scored)
    print()
    architecture_table(scored)
    print()
    for line in summary_lines(scored):
        print(line)
