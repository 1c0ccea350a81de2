"""The speed model's ranges: from held-back errors per class, checked on rows kept apart.

A range is the spread of `measured / predicted` on held-back rows (each predicted from constants
fitted without its fold; the Windows rows one model left out at a time) for one constants key
(backend[.driver]/os/machine kind) and one figure (decode, prefill, first token): centred on
the class's median (its bias), z spreads either side, the class's spread shrunk towards every
class's (POOL_ROWS) and inflated for few rows, the prediction itself always inside. z is one per
figure (decode; prefill, whose spread a first token takes too): decode's errors come in clusters
(one model off on every depth of a class) and need more spreads than prefill's to hold the same
share, so one z for both made prefill's ranges wider than they need be. The pair is the one with
the narrowest median range at which ranges built without a row's fold still hold GOAL_COVER of
held-back rows (`choose_z`). A key
with no rows takes every class's range, doubled, and says so; a first token with no rows of
its own takes its key's prefill range (prefill is most of it; core/speed/bands.py).

The llama.cpp build: the check rows (speed_rows_check.toml, older builds and ROCm releases, never
fitted on) give a per-key prefill slope per 1000 builds, kept only where it helps rows of models
it was not fitted on (`supported`), and how much wider a range must be per 1000 builds away
from the fitted rows' build to hold them (`BUILD_WIDEN`). The ROCm release: inside the windows
of core/speed/releases.py (ROCm 7.2.0 and the nightlies at some builds) prefill's measured /
predicted on the check rows, a factor per window (`release_factors`); each check row is scored
with the slope and the factor fitted without its model (`held_out_shifts`), and the slope is
fitted without the windows' rows.

    python -m bench.speed_bands        # the ranges and their coverage
"""

from __future__ import annotations

import math
import statistics
import sys
from collections import defaultdict

from bench.speed_rows import (
    Row,
    fit,
    kfold,
    load_check_rows,
    load_rows,
    predict,
    row_build,
    row_inputs,
    row_release,
)
from vramtui.core.speed.releases import ReleaseWindow, release_window

GOAL_COVER = 0.80  # the range should hold 80 % of rows it was not built from
# The open goal, for every bench line that scores against it: within ±WITHIN of the measured
# value on this share of rows per figure, and ranges no wider (median high / low) than WIDTH_GOAL.
WITHIN = 0.25
FIGURE_GOAL = {"decode": 0.95, "prefill": 0.80}
WIDTH_GOAL = 1.6
NO_ROWS_WIDEN = 2.0
POOL_ROWS = 5  # every class's spread counts as this many rows of a class's own
# Half-width in spreads, per figure: the pair of Z_SWEEP with the narrowest median range at which
# ranges built without a row's own fold hold GOAL_COVER of held-back rows (`choose_z`). 1.28 would
# be a normal distribution's 80 %; decode's errors are clustered by model, its tails heavier.
Z_SWEEP = (1.0, 1.1, 1.2, 1.28, 1.4, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0)
# what choose_z picks on today's rows (tests/test_speed_bands.py checks it still does)
Z: dict[str, float] = {"decode": 1.75, "prefill": 1.28}


def figure(row: Row) -> str:
    return {"tg": "decode", "pp": "prefill", "ttft": "ttft"}[row.test]


def log_ratio(row: Row, pred: float) -> float:
    """ln(measured / predicted); for first tokens (seconds) the same ratio of seconds."""
    return math.log(row.measured / pred)


def _quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def spread(ls: list[float]) -> float:
    """Root mean square of log ratios about their median."""
    c = statistics.median(ls)
    return math.sqrt(sum((x - c) ** 2 for x in ls) / len(ls))


def robust_spread(ls: list[float]) -> float:
    """1.4826 x the median absolute deviation: every class's spread, not swayed by one class's
    outliers."""
    c = statistics.median(ls)
    return 1.4826 * statistics.median(abs(x - c) for x in ls)


def band_of(ls: list[float], pool_sd: float, z: float) -> tuple[float, float]:
    """(low, high) in log ratio from a class's held-back log ratios: centred on their median
    (the class's bias), half-width z x their spread shrunk towards every class's spread
    (`pool_sd`, worth POOL_ROWS rows) and inflated sqrt(1 + 1/n) for a prediction from n rows;
    the model's own value always inside."""
    n = len(ls)
    c = statistics.median(ls)
    sd = math.sqrt((n * spread(ls) ** 2 + POOL_ROWS * pool_sd**2) / (n + POOL_ROWS))
    half = z * sd * math.sqrt(1 + 1 / n)
    return min(c - half, 0.0), max(c + half, 0.0)


def held_ratios(rows: list[Row], held: dict[str, float]) -> dict[tuple[str, str], list[float]]:
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        if r.id in held:
            out[(row_inputs(r).key, figure(r))].append(log_ratio(r, held[r.id]))
    return dict(out)


def pool_fig(fig: str) -> str:
    return "prefill" if fig == "ttft" else fig


def pool_spreads(ratios: dict[tuple[str, str], list[float]]) -> dict[str, float]:
    """Per figure, the spread of every class's rows together (first tokens: prefill's)."""
    by: dict[str, list[float]] = defaultdict(list)
    for (_, fig), ls in ratios.items():
        if fig != "ttft":
            by[fig] += ls
    return {fig: robust_spread(ls) for fig, ls in by.items()}


def bands(
    ratios: dict[tuple[str, str], list[float]], z: dict[str, float] | None = None
) -> dict[str, tuple[float, float, int]]:
    """`<figure>@<key>` -> (low, high, rows) as ratios measured / predicted."""
    sds = pool_spreads(ratios)
    zs = z or Z
    out = {}
    for (key, fig), ls in sorted(ratios.items()):
        lo, hi = band_of(ls, sds[pool_fig(fig)], zs[pool_fig(fig)])
        out[f"{fig}@{key}"] = (math.exp(lo), math.exp(hi), len(ls))
    return out


def pooled(
    ratios: dict[tuple[str, str], list[float]], z: dict[str, float] | None = None
) -> dict[str, tuple[float, float]]:
    """Per figure, every class's rows together, widened NO_ROWS_WIDEN: for a key with none."""
    sds = pool_spreads(ratios)
    by: dict[str, list[float]] = defaultdict(list)
    for (_, fig), ls in ratios.items():
        if fig != "ttft":  # a first token with no rows of its own takes the prefill range
            by[fig] += ls
    out = {}
    for fig, ls in sorted(by.items()):
        lo, hi = band_of(ls, sds[fig], (z or Z)[fig])
        out[fig] = (math.exp(lo * NO_ROWS_WIDEN), math.exp(hi * NO_ROWS_WIDEN))
    return out


def data_builds(rows: list[Row]) -> dict[str, int]:
    """Per key, the newest llama.cpp build among its fitted prefill rows (where the source names
    it): the build prefill's constants stand for (decode does not move with the build)."""
    out: dict[str, int] = {}
    for r in rows:
        b = row_build(r)
        if b is not None and r.role != "info" and not r.is_decode:
            key = row_inputs(r).key
            out[key] = max(out.get(key, 0), b)
    return out


def build_gap(row: Row, builds: dict[str, int]) -> float | None:
    """Thousands of builds the row ran before its class's fitted rows (None: unknown)."""
    key = row_inputs(row).key
    b = row_build(row)
    if b is None or key not in builds:
        return None
    return max(builds[key] - b, 0) / 1000


def row_window(row: Row) -> ReleaseWindow | None:
    """The ROCm release window (core/speed/releases.py) a row's prefill ran in, if any."""
    if row.test != "pp":
        return None
    return release_window(row_inputs(row).key, row_release(row), row_build(row))


def build_slopes(
    check: list[Row], full: dict[str, float], builds: dict[str, int], leave_out: str = ""
) -> dict[str, float]:
    """Per key, the prefill log ratio measured / predicted per 1000 builds before the fitted
    rows' build: least squares through the fitted build (no change at no gap), on the check
    rows (without those of model `leave_out`, and without rows inside a ROCm release window,
    whose slowness is the release's)."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in check:
        gap = build_gap(r, builds)
        if r.test != "pp" or gap is None or r.model == leave_out or row_window(r) is not None:
            continue
        acc = sums[row_inputs(r).key]
        acc[0] += gap * log_ratio(r, full[r.id])
        acc[1] += gap * gap
    return {k: round(a / b, 4) for k, (a, b) in sorted(sums.items()) if b}


def release_factors(
    check: list[Row],
    full: dict[str, float],
    builds: dict[str, int],
    slopes: dict[str, float],
    leave_out: str = "",
) -> dict[str, tuple[float, int]]:
    """Per ROCm release window (by its release): prefill's measured / predicted inside it, the
    geometric mean over its check rows (without those of model `leave_out`) with the build
    slope applied first, and how many rows it rests on."""
    logs: dict[str, list[float]] = defaultdict(list)
    for r in check:
        window = row_window(r)
        if window is None or r.model == leave_out:
            continue
        logs[window.release.value].append(log_ratio(r, shifted(r, full[r.id], slopes, builds)))
    return {k: (round(math.exp(statistics.fmean(v)), 4), len(v)) for k, v in sorted(logs.items())}


def shifted(
    row: Row,
    pred: float,
    slopes: dict[str, float],
    builds: dict[str, int],
    releases: dict[str, tuple[float, int]] | None = None,
) -> float:
    """The row's prediction with its build (`build_slopes`) and, given `releases`, its ROCm
    release (`release_factors`) as inputs; prefill only."""
    gap = build_gap(row, builds)
    if row.test != "pp" or gap is None:
        return pred
    out = pred * math.exp(slopes.get(row_inputs(row).key, 0.0) * gap)
    window = row_window(row)
    if releases and window is not None and window.release.value in releases:
        out *= releases[window.release.value][0]
    return out


def supported(
    check: list[Row], full: dict[str, float], at_build: dict[str, float], slopes: dict[str, float]
) -> dict[str, float]:
    """The slopes that earn their place: a key keeps its slope only where its prefill check rows,
    predicted with the slope fitted without their model, land within ±25 % more often than with
    the build ignored."""
    out = {}
    for key, slope in slopes.items():
        rs = [r for r in check if r.test == "pp" and row_inputs(r).key == key]
        plain = sum(abs(full[r.id] / r.measured - 1) <= 0.25 for r in rs)
        shifted_ = sum(abs(at_build[r.id] / r.measured - 1) <= 0.25 for r in rs)
        if shifted_ > plain:
            out[key] = slope
    return out


def held_out_shifts(
    check: list[Row],
    full: dict[str, float],
    builds: dict[str, int],
    keys: set[str] | None = None,
    with_release: bool = True,
) -> dict[str, float]:
    """Each check row's prediction at its build and ROCm release, the slope and the release
    factor fitted without the row's model (only the slopes of `keys`, when given; the release
    ignored unless `with_release`)."""
    out = {}
    for model in sorted({r.model for r in check}):
        slopes = build_slopes(check, full, builds, leave_out=model)
        if keys is not None:
            slopes = {k: v for k, v in slopes.items() if k in keys}
        releases = (
            release_factors(check, full, builds, slopes, leave_out=model) if with_release else {}
        )
        for r in check:
            if r.model == model:
                out[r.id] = shifted(r, full[r.id], slopes, builds, releases)
    return out


def build_widen(
    check: list[Row],
    pred: dict[str, float],
    table: dict[str, tuple[float, float, int]],
    builds: dict[str, int],
) -> dict[str, float]:
    """Per figure, the log-ratio widening per 1000 builds that lets the ranges hold GOAL_COVER of
    the check rows (predicted at their build, the slope held out): for each row, how far past its
    class's range it lies per 1000 builds away."""
    need: dict[str, list[float]] = defaultdict(list)
    for r in check:
        band = table.get(f"{figure(r)}@{row_inputs(r).key}")
        gap = build_gap(r, builds)
        if band is None or gap is None:
            continue
        lr = log_ratio(r, pred[r.id])
        past = max(lr - math.log(band[1]), math.log(band[0]) - lr, 0.0)
        need[figure(r)].append(past / max(gap, 0.1))
    return {fig: round(_quantile(v, GOAL_COVER), 4) for fig, v in sorted(need.items())}


def coverage_summary(cov: dict[tuple[str, str], list[tuple[bool, float]]]) -> tuple[float, float]:
    """Share of rows held, median width (high / low)."""
    hits = [c for v in cov.values() for c, _ in v]
    widths = [w for v in cov.values() for _, w in v]
    return sum(hits) / len(hits), statistics.median(widths)


def choose_z(rows: list[Row], held: dict[str, float]) -> dict[str, float]:
    """Per figure, the half-width in spreads (module doc): the narrowest of Z_SWEEP whose ranges,
    built without a row's fold, hold GOAL_COVER of that figure's held-back rows (decode apart
    from prefill and first tokens, so neither figure's ranges buy the other's narrowness); the
    widest if none does."""
    out: dict[str, float] = {}
    for fig in ("decode", "prefill"):
        out[fig] = Z_SWEEP[-1]
        for z in Z_SWEEP:
            cov = nested_coverage(rows, held, {"decode": z, "prefill": z})
            share, _ = coverage_summary({k: v for k, v in cov.items() if pool_fig(k[1]) == fig})
            if share >= GOAL_COVER:
                out[fig] = z
                break
    return out


def compute() -> dict[str, object]:
    rows = load_rows()
    held = kfold(rows, windows=True)
    ratios = held_ratios(rows, held)
    z = choose_z(rows, held)
    table = bands(ratios, z)
    builds = data_builds(rows)
    t, fb, _ = fit(rows)
    check = load_check_rows()
    full = {r.id: predict(r, t, fb) for r in check}
    slopes = supported(
        check, full, held_out_shifts(check, full, builds), build_slopes(check, full, builds)
    )
    at_build = held_out_shifts(check, full, builds, set(slopes))
    return {
        "bands": table,
        "pooled": pooled(ratios, z),
        "builds": builds,
        "slopes": slopes,
        "releases": release_factors(check, full, builds, slopes),
        "widen": build_widen(check, at_build, table, builds),
    }


def render(data: dict[str, object]) -> str:
    """bands_fitted.py: the ranges, generated with the constants."""
    table = data["bands"]
    assert isinstance(table, dict)
    lines = [
        '"""Generated by `python -m bench.speed_rows --write-constants` (bench/speed_bands.py)',
        "from the held-back errors of tests/data/speed_rows.toml and the check rows of",
        "tests/data/speed_rows_check.toml (do not edit by hand). BANDS: per figure and constants",
        "key, the range of measured / predicted that holds the middle 80 % of held-back rows",
        "(widened for few rows) and how many rows it rests on; POOLED: every key's rows together,",
        "doubled, for a key with none; DATA_BUILD: the llama.cpp build of each key's newest fitted",
        "rows; BUILD_SLOPE: per key, prefill's log ratio measured / predicted per 1000 builds",
        "before that one (fitted on the check rows); BUILD_WIDEN: per figure, how much wider (log",
        "ratio per 1000 builds) a range gets for a build away from that one, fitted to hold 80 %",
        "of the check rows predicted at their build with the slope fitted without their model;",
        "RELEASE_FACTOR: per ROCm release window (core/speed/releases.py), prefill's measured /",
        'predicted inside it on the check rows, and how many rows it rests on."""',
        "",
        "from __future__ import annotations",
        "",
        "# fmt: off",
        "BANDS: dict[str, tuple[float, float, int]] = {",
    ]
    lines += [f'    "{k}": ({lo:.4g}, {hi:.4g}, {n}),' for k, (lo, hi, n) in table.items()]
    lines += ["}", "POOLED: dict[str, tuple[float, float]] = {"]
    pooled_ = data["pooled"]
    assert isinstance(pooled_, dict)
    lines += [f'    "{k}": ({lo:.4g}, {hi:.4g}),' for k, (lo, hi) in pooled_.items()]
    lines += ["}", "DATA_BUILD: dict[str, int] = {"]
    builds = data["builds"]
    assert isinstance(builds, dict)
    lines += [f'    "{k}": {v},' for k, v in sorted(builds.items())]
    lines += ["}", "BUILD_SLOPE: dict[str, float] = {"]
    slopes = data["slopes"]
    assert isinstance(slopes, dict)
    lines += [f'    "{k}": {v},' for k, v in slopes.items()]
    lines += ["}", "BUILD_WIDEN: dict[str, float] = {"]
    widen = data["widen"]
    assert isinstance(widen, dict)
    lines += [f'    "{k}": {v},' for k, v in widen.items()]
    lines += ["}", "RELEASE_FACTOR: dict[str, tuple[float, int]] = {"]
    releases = data["releases"]
    assert isinstance(releases, dict)
    lines += [f'    "{k}": ({f}, {n}),' for k, (f, n) in releases.items()]
    lines += ["}", "# fmt: on"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    del argv
    data = compute()
    print(render(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


def nested_coverage(
    rows: list[Row], held: dict[str, float], z: dict[str, float] | None = None
) -> dict[tuple[str, str], list[tuple[bool, float]]]:
    """Per (key, figure): for each held-back row, whether the range built without its fold (its
    class's other rows, every class's spread without it) held it, and that range's width
    (high / low). A class with no other rows takes the pooled range, as the app would."""
    ratios: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for r in rows:
        if r.id in held:
            ratios[(row_inputs(r).key, figure(r))].append((r.fold, log_ratio(r, held[r.id])))
    out: dict[tuple[str, str], list[tuple[bool, float]]] = defaultdict(list)
    for (key, fig), members in ratios.items():
        for fold, lr in members:
            pool = [
                x for (_, g), m in ratios.items() if g == pool_fig(fig) for f, x in m if f != fold
            ]
            others = [x for f, x in members if f != fold]
            zf = (z or Z)[pool_fig(fig)]
            if others:
                lo, hi = band_of(others, robust_spread(pool), zf)
            else:
                lo, hi = band_of(pool, robust_spread(pool), zf)
                lo, hi = lo * NO_ROWS_WIDEN, hi * NO_ROWS_WIDEN
            out[(key, fig)].append((lo <= lr <= hi, math.exp(hi - lo)))
    return dict(out)
