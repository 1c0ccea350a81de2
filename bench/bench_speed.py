"""Speed model vs every public llama-bench row and the Windows LM Studio rows: error per class x
backend, k-fold.

Reference: the measured tok/s (and seconds to first token) in tests/data/speed_rows.toml, each
with its source. "fitted" columns use the shipped constants on the rows they were fitted on;
"held back" columns predict each cv row from constants fitted without its fold (one model on
one machine class, or one chip). Error = predicted / measured - 1; bias = the median error.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Iterable

from bench import speed_field, speed_rows
from bench.speed_bands import (
    FIGURE_GOAL,
    GOAL_COVER,
    WIDTH_GOAL,
    WITHIN,
    choose_z,
    coverage_summary,
    data_builds,
    figure,
    held_out_shifts,
    nested_coverage,
)
from bench.speed_rows import (
    Row,
    fit,
    kfold,
    load_check_rows,
    load_rows,
    predict,
    row_build,
    row_image_tokens,
    row_inputs,
)
from vramtui.core.speed.bands import speed_band
from vramtui.core.speed.bands_fitted import BUILD_SLOPE
from vramtui.core.vocab import Backend, OsName, Runtime

GOAL = {**FIGURE_GOAL, "median": 0.12, "bias": 0.15, "windows": 0.30}
RANGE_GOAL = {"cover": GOAL_COVER, "width": WIDTH_GOAL}
TTFT_SIZES = ((1280, 720), (1920, 1080), (1920, 1200), (2560, 1440), (2880, 1800))


def _stats(errors: list[float]) -> str:
    if not errors:
        return f"{'-':>3} {'':>6} {'':>6} {'':>6}"
    med = statistics.median(abs(e) for e in errors)
    worst = max(abs(e) for e in errors)
    bias = statistics.median(errors)
    return f"{len(errors):3d} {med:6.0%} {worst:6.0%} {bias:+6.0%}"


def _err(pred: float, row: Row) -> float:
    return pred / row.measured - 1


def per_class_table(rows: list[Row], fitted: dict[str, float], held: dict[str, float]) -> None:
    groups: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r.class_label, r.backend_label, figure(r))].append(r)
    print(
        f"{'class':20} {'backend':14} {'test':8}  {'fitted: n  med|e|  max|e|   bias':>32}"
        f"   {'held back: n  med|e|  max|e|   bias':>35}"
    )
    for key in sorted(groups):
        members = groups[key]
        fit_err = [_err(fitted[r.id], r) for r in members if r.role != "info" and r.id in fitted]
        held_err = [_err(held[r.id], r) for r in members if r.id in held]
        print(f"{key[0]:20} {key[1]:14} {key[2]:8}  {_stats(fit_err):>32}   {_stats(held_err):>35}")


def goal_lines(rows: list[Row], held: dict[str, float], fitted: dict[str, float]) -> list[str]:
    """The accuracy goal on held-back rows, and the Windows rows' ±30 % (fitted), as PASS/FAIL
    lines."""
    out = []
    for test, need in (("tg", GOAL["decode"]), ("pp", GOAL["prefill"])):
        for where, keep in (("", ""), (" (Linux/macOS)", "strix_halo/windows")):
            errs = [
                _err(held[r.id], r)
                for r in rows
                if r.id in held and r.test == test and r.class_label != keep
            ]
            share = sum(abs(e) <= WITHIN for e in errs) / len(errs)
            verdict = "PASS" if share >= need else "FAIL"
            label = "decode" if test == "tg" else "prefill"
            out.append(
                f"{verdict} held-back {label}{where}: {share:.0%} of {len(errs)} within ±25 % "
                f"(goal {need:.0%})"
            )
    errs = [_err(held[r.id], r) for r in rows if r.id in held]
    med = statistics.median(abs(e) for e in errs)
    out.append(
        f"{'PASS' if med <= GOAL['median'] else 'FAIL'} held-back median |error| "
        f"{med:.1%} (goal <= 12 %)"
    )
    worst_bias, worst_key = max_bias(rows, held)
    out.append(
        f"{'PASS' if abs(worst_bias) <= GOAL['bias'] else 'FAIL'} largest class x backend "
        f"bias {worst_bias:+.1%} ({worst_key}; goal within ±15 %)"
    )
    win = [
        _err(fitted[r.id], r)
        for r in rows
        if r.os == "windows" and r.test == "tg" and r.role != "info"
    ]
    worst = max(abs(e) for e in win)
    out.append(
        f"{'PASS' if worst <= GOAL['windows'] else 'FAIL'} Windows decode rows fitted on: "
        f"largest |error| {worst:.0%} of {len(win)} (goal within ±30 %)"
    )
    win_held = [_err(held[r.id], r) for r in rows if r.os == "windows" and r.id in held]
    if win_held:
        share = sum(abs(e) <= WITHIN for e in win_held) / len(win_held)
        out.append(
            f"{'PASS' if share >= GOAL['decode'] else 'FAIL'} held-back Windows rows, one model "
            f"left out at a time: {share:.0%} of {len(win_held)} within ±25 % (goal "
            f"{GOAL['decode']:.0%}), largest |error| {max(abs(e) for e in win_held):.0%}"
        )
    return out


def max_bias(rows: list[Row], held: dict[str, float]) -> tuple[float, str]:
    groups: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r.id in held:
            key = f"{r.class_label} {r.backend_label} {figure(r)}"
            groups[key].append(_err(held[r.id], r))
    biases = {k: statistics.median(v) for k, v in groups.items()}
    key = max(biases, key=lambda k: abs(biases[k]))
    return biases[key], key


def windows_table(rows: list[Row], fitted: dict[str, float], held: dict[str, float]) -> None:
    """Every Windows decode row: the shipped constants' prediction (role "info" rows were not
    fitted on), and the prediction with the row's model held back."""
    print(
        f"{'row':8} {'role':4} {'what':58} {'meas':>7} {'shipped':>7} {'err':>6} "
        f"{'held':>7} {'err':>6}"
    )
    for r in rows:
        if r.os == "windows" and r.test == "tg":
            pred = fitted[r.id]
            back = f"{held[r.id]:7.2f} {_err(held[r.id], r):+6.0%}" if r.id in held else ""
            print(
                f"{r.id:8} {r.role:4} {r.raw['detail'][:58]:58} {r.measured:7.2f} "
                f"{pred:7.2f} {_err(pred, r):+6.0%} {back}"
            )


def ttft_table(rows: list[Row], table: dict[str, float], fb: dict[str, float]) -> None:
    """The ZBook article's Qwen3-VL first tokens at the image sizes its screenshot could have."""
    ttft = [r for r in rows if r.test == "ttft"]
    head = "".join(f" {w}x{h:<5}" for w, h in TTFT_SIZES)
    print(f"{'row':7} {'backend':8} {'ctx':>6} {'meas s':>7}  model s at image size:{head}")
    for r in ttft:
        preds = [predict(r, table, fb, size) for size in TTFT_SIZES]
        cells = "".join(f" {p:10.1f}" for p in preds)
        print(f"{r.id:7} {r.backend:8} {r.raw['ctx']:6d} {r.measured:7.2f}  {'':22}{cells}")
    tokens = [row_image_tokens(ttft[0], size) for size in TTFT_SIZES] if ttft else []
    print(
        f"{'':7} image tokens (Qwen-VL, 32 px per token, 8..4096):      "
        + "".join(f" {t:10d}" for t in tokens)
    )


def worst_rows(rows: list[Row], held: dict[str, float], n: int = 12) -> None:
    ranked = sorted((r for r in rows if r.id in held), key=lambda r: -abs(_err(held[r.id], r)))
    for r in ranked[:n]:
        test = f"{r.test}{r.n}" + (f"@d{r.depth}" if r.depth else "")
        print(
            f"{r.id:6} {r.class_label:18} {r.backend_label:14} {r.model:26} {test:14} "
            f"meas {r.measured:9.2f} held-back {_err(held[r.id], r):+5.0%}"
        )


def range_table(rows: list[Row], held: dict[str, float]) -> None:
    z = choose_z(rows, held)
    cov = nested_coverage(rows, held, z)
    print(f"{'class':34} {'figure':8} {'rows':>4} {'held':>6} {'median width':>13}")
    for (key, fig), v in sorted(cov.items()):
        hits = sum(c for c, _ in v) / len(v)
        width = statistics.median(w for _, w in v)
        print(f"{key:34} {fig:8} {len(v):4d} {hits:6.0%} {width:13.2f}")
    share, width = coverage_summary(cov)
    ok = share >= RANGE_GOAL["cover"] and width <= RANGE_GOAL["width"]
    print(
        f"{'PASS' if ok else 'FAIL'} ranges hold {share:.0%} of held-back rows, median width "
        f"{width:.2f} (goal >= 80 %, <= {RANGE_GOAL['width']}; half-width {z['decode']} spreads "
        f"for decode, {z['prefill']} for prefill and first tokens)"
    )


def check_scores(
    rows: list[Row], table: dict[str, float], fb: dict[str, float], with_release: bool = True
) -> list[tuple[Row, float, float, bool, float]]:
    """Each check row with the shipped constants: its error with the build ignored, with the
    build and ROCm release as inputs (prefill's build slope and release factor fitted without
    the row's model), whether the range at its own build holds it, and that range's width
    (high / low). `with_release` False: the ROCm release ignored."""
    check = load_check_rows()
    builds = data_builds(rows)
    full = {r.id: predict(r, table, fb) for r in check}
    at_build = held_out_shifts(check, full, builds, set(BUILD_SLOPE), with_release)
    out = []
    for r in check:
        band = speed_band(row_inputs(r).key, figure(r), row_build(r))
        inside = band.low <= r.measured / at_build[r.id] <= band.high
        out.append((r, _err(full[r.id], r), _err(at_build[r.id], r), inside, band.high / band.low))
    return out


def check_table(rows: list[Row], table: dict[str, float], fb: dict[str, float]) -> None:
    """Check rows scored with the shipped constants: the build ignored, and the build and ROCm
    release as inputs (prefill's build slope and release factor fitted without the row's
    model); ranges at each row's own build."""
    groups: dict[tuple[str, str], list[tuple[float, float, bool, float]]] = defaultdict(list)
    for r, ignored, as_input, inside, width in check_scores(rows, table, fb):
        label = r.raw.get("rocm") or r.backend_label
        groups[(label, figure(r))].append((ignored, as_input, inside, width))
    print(
        f"{'backend / release':22} {'figure':8} {'rows':>4}  {'build ignored: ±25%  bias':>26}"
        f"  {'build, release as input: ±25%  bias':>27} {'range':>6}"
    )
    every: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (label, fig), v in sorted(groups.items()):
        every[fig] += [(a, b) for a, b, _, _ in v]
        cells = []
        for errs in ([a for a, _, _, _ in v], [b for _, b, _, _ in v]):
            within = sum(abs(e) <= WITHIN for e in errs) / len(errs)
            cells.append(f"{within:6.0%} {statistics.median(errs):+6.0%}")
        held = sum(i for _, _, i, _ in v) / len(v)
        print(f"{label:22} {fig:8} {len(v):4d}  {cells[0]:>26}  {cells[1]:>27} {held:6.0%}")
    for fig, pairs in sorted(every.items()):
        need = GOAL[fig]
        for name, errs in (
            ("build ignored", [a for a, _ in pairs]),
            ("build and release as inputs", [b for _, b in pairs]),
        ):
            share = sum(abs(e) <= WITHIN for e in errs) / len(errs)
            verdict = "PASS" if share >= need else "FAIL"
            print(
                f"{verdict} check {fig}, {name}: {share:.0%} of {len(errs)} within ±25 % "
                f"(goal {need:.0%})"
            )
    hits = [i for v in groups.values() for _, _, i, _ in v]
    widths = [w for v in groups.values() for _, _, _, w in v]
    print(
        f"check rows inside their range: {sum(hits) / len(hits):.0%} of {len(hits)}, median "
        f"width {statistics.median(widths):.2f}"
    )


def kept_apart_lines(
    rows: list[Row], held: dict[str, float], table: dict[str, float], fb: dict[str, float]
) -> list[str]:
    """The open goal on every public row kept apart from the fit, pooled: the k-fold's held-back
    rows (range built without the row's fold), the check rows (at their build and ROCm release)
    and the field rows (as the app shows them); and prefill with the ROCm release ignored."""
    errs, ranges, plain = _kept_apart(rows, held, table, fb)
    out = []
    for fig in ("decode", "prefill"):
        share = sum(abs(e) <= WITHIN for e in errs[fig]) / len(errs[fig])
        verdict = "PASS" if share >= GOAL[fig] else "FAIL"
        out.append(
            f"{verdict} kept apart, {fig}: {share:.0%} of {len(errs[fig])} within ±25 % "
            f"(goal {GOAL[fig]:.0%})"
        )
    held_share = sum(c for c, _ in ranges) / len(ranges)
    width = statistics.median(w for _, w in ranges)
    ok = held_share >= RANGE_GOAL["cover"] and width <= RANGE_GOAL["width"]
    out.append(
        f"{'PASS' if ok else 'FAIL'} kept apart, ranges hold {held_share:.0%} of {len(ranges)} "
        f"rows, median width {width:.2f} (goal >= 80 %, <= {RANGE_GOAL['width']})"
    )
    share = sum(abs(e) <= WITHIN for e in plain) / len(plain)
    out.append(f"     kept apart, prefill, the ROCm release ignored: {share:.0%} of {len(plain)}")
    return out


def _kept_apart(
    rows: list[Row], held: dict[str, float], table: dict[str, float], fb: dict[str, float]
) -> tuple[dict[str, list[float]], list[tuple[bool, float]], list[float]]:
    """Per figure, the errors of every kept-apart row; each row's (range holds, width); and the
    prefill errors with the ROCm release ignored (only check and field rows have one)."""
    errs: dict[str, list[float]] = defaultdict(list)
    ranges: list[tuple[bool, float]] = []
    for r in rows:
        if r.id in held and r.test in ("tg", "pp"):
            errs[figure(r)].append(_err(held[r.id], r))
    plain = list(errs["prefill"])
    for v in nested_coverage(rows, held, choose_z(rows, held)).values():
        ranges += v
    for r, _, as_input, inside, width in check_scores(rows, table, fb):
        errs[figure(r)].append(as_input)
        ranges.append((inside, width))
    field = speed_field.load_field_rows()
    for sc in speed_field.score(field, table, fb):
        errs[figure(sc.row)].append(sc.error)
        ranges.append((sc.inside, sc.width))
    plain += [e for r, _, e, _, _ in check_scores(rows, table, fb, False) if not r.is_decode]
    plain += [sc.error for sc in speed_field.score(field, table, fb, False) if not sc.row.is_decode]
    return errs, ranges, plain


def backend_table(
    rows: list[Row], held: dict[str, float], table: dict[str, float], fb: dict[str, float]
) -> None:
    """Vulkan (RADV) or ROCm on Strix Halo Linux: does the model pick the measured winner? Pairs
    of rows with the same model, test, depth and llama.cpp build; fit rows predicted held back
    where they were, check rows at their build (never fitted on)."""
    check = load_check_rows()
    builds = data_builds(rows)
    full = {r.id: predict(r, table, fb) for r in check}
    pred = {**{r.id: held[r.id] for r in rows if r.id in held}}
    pred.update(held_out_shifts(check, full, builds, set(BUILD_SLOPE)))
    pairs: dict[tuple[str, str, int, int, int | None], dict[str, Row]] = defaultdict(dict)
    for r in [*rows, *check]:
        if (
            r.class_label == "strix_halo/linux"
            and r.id in pred
            and r.backend_label
            in (
                "vulkan.radv",
                "rocm",
            )
        ):
            pairs[(r.model, r.test, r.n, r.depth, row_build(r))][r.backend_label] = r
    tally: dict[str, list[bool]] = defaultdict(list)
    for pair in pairs.values():
        if len(pair) == 2:
            v, rc = pair["vulkan.radv"], pair["rocm"]
            measured = v.measured > rc.measured
            tally[figure(v)].append((pred[v.id] > pred[rc.id]) == measured)
    for fig, hits in sorted(tally.items()):
        print(
            f"  {fig}: the model picks the measured faster backend in {sum(hits)} of "
            f"{len(hits)} pairs ({sum(hits) / len(hits):.0%})"
        )


def shrink_sweep(rows: list[Row]) -> None:
    shipped = speed_rows.SHRINK
    cells = []
    for w in speed_rows.SHRINK_SWEEP:
        speed_rows.SHRINK = w
        held = kfold([r for r in rows if r.os == "windows" or r.role != "info"], windows=True)
        errs = [abs(_err(held[r.id], r)) for r in rows if r.os == "windows" and r.id in held]
        cells.append(f"{w:g}: {statistics.median(errs):.0%}")
    speed_rows.SHRINK = shipped
    print("  " + ", ".join(cells) + f" (shipped: {shipped:g})")


def timing() -> None:
    """A full carve-out x context sweep of the ZBook laptop through evaluate_fit."""
    from tests.test_zbook_scenarios import _spec  # noqa: PLC0415
    from vramtui.core.advice.recommend import curve_contexts  # noqa: PLC0415
    from vramtui.core.estimate.settings import RuntimeSettings  # noqa: PLC0415
    from vramtui.core.fit.fit import evaluate_fit  # noqa: PLC0415
    from vramtui.core.hardware.pools import MachineState  # noqa: PLC0415
    from vramtui.core.hardware.presets import get_machine  # noqa: PLC0415
    from vramtui.core.speed.predict import estimate_speed  # noqa: PLC0415

    machine = get_machine("hp-zbook-ultra-g1a-64gb")
    spec = _spec("qwen3-vl-32b:Q4_K_M")
    contexts = curve_contexts(262144)
    states = [
        MachineState(machine, c, OsName.WINDOWS, runtime=Runtime.LMSTUDIO)
        for c in machine.carve_out_steps
    ]
    evaluate_fit(spec, RuntimeSettings(ctx_size=4096), states[0])
    started = time.perf_counter()
    fits = [evaluate_fit(spec, RuntimeSettings(ctx_size=c), s) for s in states for c in contexts]
    sweep = time.perf_counter() - started
    f0 = fits[0]
    n = 500
    started = time.perf_counter()
    for _ in range(n):
        estimate_speed(
            spec=spec,
            machine=machine,
            backend=Backend.VULKAN,
            os=OsName.WINDOWS,
            runtime=Runtime.LMSTUDIO,
            breakdown=f0.breakdown,
        )
    one = (time.perf_counter() - started) / n
    print(
        f"carve-out x context sweep: {len(fits)} fits ({len(states)} carve-outs x "
        f"{len(contexts)} contexts) in {sweep * 1000:.1f} ms ({sweep / len(fits) * 1000:.2f} ms "
        f"per fit, of which the speed model {one * 1e6:.0f} us)"
    )


def main(argv: Iterable[str] = ()) -> None:
    del argv
    rows = load_rows()
    table, fb, _ = fit(rows)
    fitted = {r.id: predict(r, table, fb) for r in rows if r.test in ("tg", "pp")}
    held = kfold(rows, windows=True)
    n_fit = sum(r.role == "fit" and r.id not in held for r in rows)
    print(
        f"{len(rows)} rows: {len(held)} held back in k-fold (every Windows row, first tokens "
        f"included, one model left out at a time), {n_fit} fitted only (the sole witness of a "
        "constant)"
    )
    print(f"keys fitted: {len({k.split('@')[1] for k in table})}, constants: {len(table)}\n")
    per_class_table(rows, fitted, held)
    print()
    for line in goal_lines(rows, held, fitted):
        print(line)
    print("\nWindows decode rows (LM Studio): shipped constants; held back one model at a time:")
    windows_table(rows, fitted, held)
    print("\nZBook article first tokens, Qwen3-VL-32B Q4_K_M screenshot prompt (never fitted on):")
    ttft_table(rows, table, fb)
    print("\nlargest held-back errors:")
    worst_rows(rows, held)
    print("\nranges (built without the row's own fold; width = high / low):")
    range_table(rows, held)
    print("\ncheck rows: older llama.cpp builds and ROCm releases, never fitted on:")
    check_table(rows, table, fb)
    print("\nfield rows: other sources' Strix Halo measurements, never fitted on:")
    speed_field.report(table, fb)
    print("\nevery public row kept apart from the fit (held back, check and field rows):")
    for line in kept_apart_lines(rows, held, table, fb):
        print(line)
    print("\nVulkan (RADV) vs ROCm on Strix Halo Linux, row pairs (the backend advice):")
    backend_table(rows, held, table, fb)
    print("\nWindows constants shrunk towards Linux: leave-one-model-out median |error| by weight:")
    shrink_sweep(rows)
    print()
    timing()


if __name__ == "__main__":
    main()
