"""The speed model against public measurements: rows, their placement, the fit and the k-fold.

Rows live in tests/data/speed_rows.toml (one published llama-bench number or ZBook article
measurement each, with its source); models the catalog lacks in tests/data/speed_models.toml. Every
row runs through the app's own path: a MachineState and RuntimeSettings as `vramtui check` would
build them, `evaluate_fit`, and the speed model's terms from the fit's SpeedInputs, so the placement
(dedicated, GTT, Windows shared memory) is the one the app computes.

The constants are fitted by bounded least squares on relative error (each row weighs the same),
separately per constants key (backend/os/machine kind). A key fits only the terms its rows can
pin down (GATE); the rest it borrows at run time from its relatives (`speed_constants.resolve`)
and the fit prices them the same way. The k-fold: rows sharing a `fold` (one model on one
machine class, or one chip) are held back together and predicted from constants fitted on every
other row; rows with role "fit" (the only witness of a constant, and the ZBook article) are always
fitted on and never held back; role "info" rows are only reported.

    python -m bench.speed_rows                    # the constants and the rows behind them
    python -m bench.speed_rows --write-constants  # rewrite tui/.../speed_constants_fitted.py
"""

from __future__ import annotations

import math
import statistics
import sys
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import evaluate_fit
from vramtui.core.gguf.spec import ModelSpec, SkippedArray
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB, MiB
from vramtui.core.speed.constants import REQUEST_OVERHEAD_S, constants_key, resolve
from vramtui.core.speed.features import SpeedInputs, decode_terms, prefill_terms
from vramtui.core.speed.predict import (
    DEFAULT_IMAGE_SIZE,
    decode_seconds,
    image_encode_seconds,
    image_tokens,
    prefill_seconds,
)
from vramtui.core.vocab import RocmRelease

ROOT = Path(__file__).resolve().parent.parent
ROWS = ROOT / "tests" / "data" / "speed_rows.toml"
# Rows only ever checked against, never fitted on: older llama.cpp builds and ROCm releases.
CHECK_ROWS = ROOT / "tests" / "data" / "speed_rows_check.toml"
MODELS = ROOT / "tests" / "data" / "speed_models.toml"
FITTED_PY = ROOT / "tui" / "vramtui" / "core" / "speed" / "constants_fitted.py"
BANDS_PY = ROOT / "tui" / "vramtui" / "core" / "speed" / "bands_fitted.py"

# The typical size of each constant: used only to decide which terms a key's rows can pin down
# (a term is fitted for a key when, priced at this size, it is at least GATE of the measured
# time on at least two of its rows) and as the first guess for the terms that cannot.
TYPICAL: dict[str, float] = {
    "w": 1.2,
    "w.xbf16": 1.0,
    "kv": 1.5,
    "af": 5.0,
    "af.wide": 10.0,
    "launch": 7e-6,
    "rlayer": 2e-5,
    "p.rlayer": 2e-5,
    "sh": 1.0,
    "shlayer": 2e-4,
    "cpu": 1.5,
    "cpulayer": 0.0,
    "p.q": 3.0,
    "p.mx": 3.0,
    "p.f16": 3.0,
    "p.bf16": 3.0,
    "p.attn": 5.0,
    "p.score": 500.0,
    "p.kv": 0.02,
    "p.rd": 1.5,
    "p.layer": 1e-3,
    "p.sh": 1.0,
    "p.host": 1.25,
}
GATE = 0.05
# Terms whose ideal time is a hardware limit (theoretical bandwidth, peak FLOPs) cannot take
# less than it: their constants are at least 1. The rest (launch costs, extra costs of a quant,
# re-reads that overlap compute) are at least 0.
AT_LEAST_ONE = frozenset({"w", "kv", "af.wide", "cpu", "p.q", "p.mx", "p.f16", "p.bf16", "p.attn"})
# No GPU here streams its whole theoretical bandwidth: the best measured share in the sources
# is memtest_vulkan's 235 of 256 GB/s on Strix Halo (lhl/strix-halo-testing), so weights
# cannot read faster than 1 / 0.92 of their ideal time.
LOWER: dict[str, float] = {"w": 256 / 235}
# Launch costs per layer differ most between OS and runtime, and the copies a spill into
# Windows shared memory adds per layer are the ZBook article's explanation of 17 vs 43 tok/s:
# a key with two rows or more that carry such a term fits its own, as it fits its own
# bandwidth.
# BF16 on a device without bf16 (RADV, AMDVLK: "bf16: 0") is a per-quant cost the rows of the
# BF16 models measure even where it is a small share of the ideal time: fitted wherever two rows
# carry it.
ALWAYS = frozenset({"w", "launch", "rlayer", "p.rlayer", "af.wide", "shlayer", "w.xbf16", "p.bf16"})
# Per-quant terms only where a pair of rows differing in that quant measures them (none today:
# a Q6_K term fitted on the ZBook article's one Q4_K_M/Q6_K pair had no held-back support and
# made Q6_K files slower than Q8_0 ones elsewhere, so it left the model).
ONLY_FOR: dict[str, str] = {}
# The ZBook article's Windows + LM Studio keys: 11 decode rows with no prefill and little depth
# pin down these terms only; KV, attention and prefill borrow from AMDVLK / ROCm on Linux.
ZBOOK_TERMS = frozenset({"w", "launch", "sh", "shlayer"})
# The Windows keys rest on one article's rows (5 or 6 per key): each of their constants is
# shrunk towards the value it would borrow from Linux (AMDVLK/RADV, ROCm) with the weight of
# this many rows, so a constant moves away from Linux only as far as the rows insist. Chosen
# by leave-one-model-out over the Windows rows (`python -m bench speed` prints the sweep): the
# held-back errors are lowest at 0.01 and grow slowly with it (0.01, 0.03, 0.1, 0.3, 1 tried).
SHRINK = 0.01
SHRINK_SWEEP = (0.01, 0.03, 0.1, 0.3, 1.0)
# Shared memory has no Linux relative: its constant is shrunk towards its prior (PRIORS["sh"]);
# the per-layer spill term has none and is fitted free.


@dataclass(frozen=True)
class Row:
    id: str
    source: str
    machine: str
    os: str
    backend: str
    driver: str
    model: str
    test: str  # tg | pp | ttft
    n: int
    depth: int
    measured: float
    fold: str
    role: str  # cv | fit | info
    secondary: bool
    raw: dict[str, Any] = field(compare=False, repr=False)

    @property
    def is_decode(self) -> bool:
        return self.test == "tg"

    @property
    def backend_label(self) -> str:
        return f"{self.backend}.{self.driver}" if self.driver else self.backend

    @property
    def class_label(self) -> str:
        """The machine class the bench groups by: preset kind, and the OS for Strix Halo."""
        kind = get_machine(self.machine).kind
        return f"{kind}/{self.os}" if kind == "strix_halo" else kind


def load_rows(path: Path = ROWS) -> list[Row]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Row(
            id=r["id"],
            source=r["source"],
            machine=r["machine"],
            os=r["os"],
            backend=r["backend"],
            driver=r.get("driver", ""),
            model=r["model"],
            test=r["test"],
            n=int(r["n"]),
            depth=int(r["depth"]),
            measured=float(r["measured"]),
            fold=r["fold"],
            role=r.get("role", "cv"),
            secondary=bool(r.get("secondary", False)),
            raw=r,
        )
        for r in data["row"]
    ]


def load_check_rows() -> list[Row]:
    """The check rows (CHECK_ROWS): scored apart, never fitted on."""
    return load_rows(CHECK_ROWS)


def row_build(row: Row) -> int | None:
    """The llama.cpp build number (`build: <sha> (<number>)`) the row ran, where known: the
    row's own `build`, else its source's."""
    if "build" in row.raw:
        return int(row.raw["build"])
    builds = {**_source_builds(ROWS), **_source_builds(CHECK_ROWS)}
    return builds.get(row.source)


# kyuz0's toolbox names (a check row's `rocm`) as the app's ROCm releases: 7.2.1 and later run
# like the fitted rows' 7.2.3; "7alpha" was TheRock's 7.x alpha, the nightlies' forerunner.
TOOLBOX_RELEASES: dict[str, RocmRelease] = {
    "rocm6_4_4": RocmRelease.R6_4,
    "rocm7_rc": RocmRelease.R7_0,
    "rocm7.1": RocmRelease.R7_1,
    "rocm7.1.1": RocmRelease.R7_1,
    "rocm-7.2": RocmRelease.R7_2_0,
    "rocm-7_2": RocmRelease.R7_2_0,
    "rocm-7alpha": RocmRelease.NIGHTLY,
    "rocm7-nightlies": RocmRelease.NIGHTLY,
}


def row_release(row: Row) -> RocmRelease:
    """The ROCm release a row ran: its `rocm_release` (the app's words), else its toolbox's
    (`rocm`), else current (none named, or a 7.2.1+ toolbox)."""
    if "rocm_release" in row.raw:
        return RocmRelease(row.raw["rocm_release"])
    return TOOLBOX_RELEASES.get(row.raw.get("rocm", ""), RocmRelease.CURRENT)


@cache
def _source_builds(path: Path) -> dict[str, int]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {k: int(v["build"]) for k, v in data["source"].items() if "build" in v}


def row_sources(path: Path = ROWS) -> dict[str, str]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {k: v["text"] for k, v in data["source"].items()}


@cache
def speed_models() -> dict[str, dict[str, Any]]:
    data = tomllib.loads(MODELS.read_text(encoding="utf-8"))
    return {m["id"]: m for m in data["model"]}


@cache
def open_model(ref: str) -> ModelSpec:
    """A catalog ref, or `<speed_models id>:<quant>`."""
    spec = open_catalog_model(ref)
    if spec is not None:
        return spec
    model_id, quant = ref.rsplit(":", 1)
    m = speed_models()[model_id]
    md = dict(m["metadata"])
    md["tokenizer.ggml.tokens"] = SkippedArray(8, int(m["vocab_size"]))  # 8: GGUF string
    return synthesize_spec(md, quant, name=m["name"], source=f"speed_models:{model_id}")


def state_for(row: Row) -> MachineState:
    r = row.raw
    changes: dict[str, Any] = {
        "os": row.os,
        "backend": row.backend,
        "runtime": r.get("runtime", "llamacpp"),
    }
    if "carve_out_mib" in r:
        changes["carve_out_bytes"] = int(r["carve_out_mib"] * MiB)
    if "gtt_gib" in r:
        changes["gtt_bytes"] = int(r["gtt_gib"] * GiB)
    return MachineState.default_for(get_machine(row.machine), **changes)


def settings_for(row: Row) -> RuntimeSettings:
    r = row.raw
    if r.get("runtime") == "lmstudio":  # LM Studio's defaults (flash attention off), its context
        return RuntimeSettings(ctx_size=int(r["ctx"]))
    ub = int(r.get("ubatch", 512))
    # llama-bench sizes its context to prompt + generated + depth; -fa 1, -mmp 0
    return RuntimeSettings(
        ctx_size=row.depth + row.n,
        ubatch_size=ub,
        batch_size=max(2048, ub),
        flash_attn="on",
        mmap=False,
    )


def _scaled(inp: SpeedInputs, ratio: float) -> SpeedInputs:
    """The same placement with weight bytes scaled to llama-bench's `size` (the synthesized
    quantization mix differs from Unsloth's UD mixes and QAT files by a few percent)."""
    if abs(ratio - 1) < 1e-3:
        return inp
    p = inp.profile
    prof = replace(
        p,
        active_bytes={k: round(v * ratio) for k, v in p.active_bytes.items()},
        dense_bytes=round(p.dense_bytes * ratio),
        expert_bytes=round(p.expert_bytes * ratio),
        output_bytes=round(p.output_bytes * ratio),
        q6k_bytes=round(p.q6k_bytes * ratio),
    )
    return replace(inp, profile=prof)


@cache
def row_inputs(row: Row) -> SpeedInputs:
    """The SpeedInputs `evaluate_fit` builds for the row's machine, settings and model."""
    spec = open_model(row.model)
    fit = evaluate_fit(spec, settings_for(row), state_for(row), prompt_tokens=max(row.depth, 1))
    inp = fit.speed.inputs
    assert inp is not None
    kind = get_machine(row.machine).kind
    inp = replace(inp, key=constants_key(row.backend, row.os, kind, row.driver or None))
    if "size_gib" in row.raw:
        inp = _scaled(inp, float(row.raw["size_gib"]) * GiB / spec.weights_bytes)
    return inp


def row_image_tokens(row: Row, size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> int:
    vision = row_inputs(row).profile.vision
    if not row.raw.get("image") or vision is None:
        return 0
    return image_tokens(vision, *size)


@cache
def row_terms(row: Row) -> dict[str, float]:
    """Ideal seconds per token of each term for the row's measurement: a tgN row averages
    decode over depth .. depth + N, a ppN row is N prompt tokens after `depth` cached ones."""
    inp = row_inputs(row)
    if row.is_decode:
        return decode_terms(inp, row.depth + row_image_tokens(row) + row.n / 2)
    return prefill_terms(inp, row.n, row.depth)


def measured_seconds(row: Row) -> float:
    return 1.0 / row.measured


def theta_at(key: str, table: dict[str, float], fallback: dict[str, float]) -> dict[str, float]:
    terms = {t.split("@", 1)[0] for t in table} | set(fallback) | set(TYPICAL)
    return {t: resolve(table, fallback, t, key) for t in terms}


def predict(
    row: Row,
    table: dict[str, float],
    fallback: dict[str, float],
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
) -> float:
    """The model's value in the row's unit (tok/s; seconds for ttft) under `table`."""
    inp = row_inputs(row)
    theta = theta_at(inp.key, table, fallback)
    if row.test == "ttft":
        vision = inp.profile.vision
        n_img = image_tokens(vision, *image_size) if vision and row.raw.get("image") else 0
        enc = image_encode_seconds(inp, vision, n_img, theta) if vision and n_img else 0.0
        total = n_img + row.n
        return (
            REQUEST_OVERHEAD_S
            + enc
            + prefill_seconds(inp, total, 0, theta)
            + decode_seconds(inp, total, theta)
        )
    t = sum(theta.get(k, 0.0) * x for k, x in row_terms(row).items())
    return 1.0 / t if t > 0 else math.inf


# ----------------------------------------------------------------------------- the fit


def _bounded_lsq(a: np.ndarray, b: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """min ||a x - b|| with x >= lower: an active-set method (Lawson and Hanson's NNLS, shifted
    to the bounds). Variables at their bound stay there while the gradient pushes them below."""
    n = a.shape[1]
    x = lower.astype(float).copy()
    free = np.zeros(n, dtype=bool)
    for _ in range(3 * n + 10):
        grad = a.T @ (b - a @ x)  # minus the gradient of the half squared error
        candidates = [j for j in range(n) if not free[j] and grad[j] > 1e-12 * (1 + abs(grad[j]))]
        if not candidates:
            break
        free[max(candidates, key=lambda j: grad[j])] = True
        while True:
            z = x.copy()
            idx = np.flatnonzero(free)
            rhs = b - a[:, ~free] @ x[~free]
            z[idx] = np.linalg.lstsq(a[:, idx], rhs, rcond=None)[0]
            below = [j for j in idx if z[j] < lower[j]]
            if not below:
                x = z
                break
            # step from x towards z until the first free variable meets its bound
            steps = [(x[j] - lower[j]) / (x[j] - z[j]) for j in below if x[j] != z[j]]
            alpha = min(steps, default=0.0)
            x = x + alpha * (z - x)
            for j in idx:
                if x[j] <= lower[j] + 1e-15:
                    x[j] = lower[j]
                    free[j] = False
    return x


def _groups(rows: list[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        if r.test in ("tg", "pp") and r.role != "info":
            groups[row_inputs(r).key].append(r)
    return dict(groups)


def _gated(key: str, members: list[Row]) -> list[str]:
    """The terms the key's rows pin down (see TYPICAL, GATE, ALWAYS, ONLY_FOR, ZBOOK_TERMS)."""
    zbook = "/windows/" in key
    out = []
    for t in sorted({t for r in members for t in row_terms(r)}):
        if (zbook and t not in ZBOOK_TERMS) or (t in ONLY_FOR and ONLY_FOR[t] not in key):
            continue
        big = sum(
            TYPICAL.get(t, 1.0) * row_terms(r).get(t, 0.0) >= GATE * measured_seconds(r)
            for r in members
        )
        carried = sum(row_terms(r).get(t, 0.0) > 0 for r in members)
        if big >= 2 or (t in ALWAYS and carried >= 2):
            out.append(t)
    return out


def _solve(
    members: list[Row],
    terms: list[str],
    fixed: dict[str, float],
    prior: dict[str, float] | None = None,
) -> np.ndarray:
    """Bounded least squares on relative error; `prior` adds one pseudo-row per term pulling
    its constant towards the relative's value (relative error, weight SHRINK)."""
    pulled = [t for t in terms if prior and prior.get(t, 0.0) > 0]
    a = np.zeros((len(members) + len(pulled), len(terms)))
    b = np.zeros(len(members) + len(pulled))
    for i, r in enumerate(members):
        x = row_terms(r)
        w = 1.0 / measured_seconds(r)  # relative error: each row weighs the same
        rest = sum(fixed.get(t, 0.0) * v for t, v in x.items() if t not in terms)
        a[i] = [x.get(t, 0.0) * w for t in terms]
        b[i] = (measured_seconds(r) - rest) * w
    for i, t in enumerate(pulled, start=len(members)):
        assert prior is not None
        a[i, terms.index(t)] = math.sqrt(SHRINK) / prior[t]
        b[i] = math.sqrt(SHRINK)
    lower = np.array([LOWER.get(t, 1.0 if t in AT_LEAST_ONE else 0.0) for t in terms])
    return _bounded_lsq(a, b, lower)


def fit(rows: list[Row]) -> tuple[dict[str, float], dict[str, float], dict[str, list[str]]]:
    """Constants `<term>@<key>`, the fallback medians, and the rows behind each constant.

    Pass 1 prices the terms a key cannot pin down at TYPICAL; later passes at what the key
    borrows at run time (its relatives' fitted values, else the median over fitted keys)."""
    groups = _groups(rows)
    gated = {k: _gated(k, m) for k, m in groups.items()}
    table: dict[str, float] = {}
    fb: dict[str, float] = {}
    for attempt in range(3):
        new: dict[str, float] = {}
        for key, members in groups.items():
            if not gated[key]:
                continue
            every = {t for r in members for t in row_terms(r)}
            fixed = {
                t: TYPICAL.get(t, 1.0) if attempt == 0 else resolve(table, fb, t, key)
                for t in every
            }
            prior = None
            if "/windows/" in key and attempt:
                prior = {t: borrowed(table, fb, t, key) for t in gated[key]}
            theta = _solve(members, gated[key], fixed, prior)
            new.update({f"{t}@{key}": float(v) for t, v in zip(gated[key], theta, strict=True)})
        table = new
        fb = fallback_constants(table)
    return table, fb, _witnesses(groups, table)


def borrowed(table: dict[str, float], fb: dict[str, float], term: str, key: str) -> float:
    """What `key` would take for `term` without a value of its own: its relatives' fitted
    value, else the fallback (the prior a Windows constant is shrunk towards)."""
    rest = {k: v for k, v in table.items() if not k.endswith(f"@{key}")}
    return resolve(rest, fb, term, key)


def fallback_constants(table: dict[str, float]) -> dict[str, float]:
    """Per term, the median over the Linux and macOS keys that fitted it (for a key with no
    relative that did): Windows keys are fitted on the ZBook article alone and lend nothing."""
    by_term: dict[str, list[float]] = defaultdict(list)
    for name, v in table.items():
        if "/windows/" not in name:
            by_term[name.split("@", 1)[0]].append(v)
    return {t: statistics.median(vs) for t, vs in by_term.items()}


def _witnesses(groups: dict[str, list[Row]], table: dict[str, float]) -> dict[str, list[str]]:
    """For each constant, the rows where its term weighs at least GATE of the measured time
    (at the fitted or the typical value, whichever is larger)."""
    out: dict[str, list[str]] = {}
    for name, value in table.items():
        term, key = name.split("@", 1)
        size = max(value, TYPICAL.get(term, 1.0))
        out[name] = [
            r.id
            for r in groups.get(key, [])
            if size * row_terms(r).get(term, 0.0) >= GATE * measured_seconds(r)
        ]
    return out


def kfold(rows: list[Row], windows: bool = False) -> dict[str, float]:
    """Each cv row's prediction from constants fitted without its fold. `windows`: every Windows
    row too (fit rows included), one model left out at a time (their folds), first tokens
    included."""

    def held(r: Row) -> bool:
        return r.role == "cv" or (windows and r.os == "windows")

    out: dict[str, float] = {}
    for fold in sorted({r.fold for r in rows if held(r)}):
        train = [r for r in rows if r.fold != fold or (r.role == "fit" and not held(r))]
        table, fb, _ = fit(train)
        for r in rows:
            if r.fold == fold and held(r):
                out[r.id] = predict(r, table, fb)
    return out


# ----------------------------------------------------------------------------- writing


def render_constants(
    table: dict[str, float], fb: dict[str, float], wit: dict[str, list[str]]
) -> str:
    """speed_constants_fitted.py: every constant with every row it was fitted on."""
    lines = [
        '"""Generated by `python -m bench.speed_rows --write-constants` from',
        "tests/data/speed_rows.toml (do not edit by hand). Each constant multiplies one term of",
        "vramtui.core.speed.features for one key (backend/os/machine kind): an inverse",
        "efficiency (ideal time x constant = time), or seconds per kernel launch (`launch`)",
        "or per layer (`*layer` terms).",
        "The comment above each names the rows it was fitted on; the rows name their sources:",
    ]
    for k, v in row_sources().items():
        lines += _wrapped(f"- {k}: {v}", "", 96)
    lines += ['"""', "", "from __future__ import annotations", "", "# fmt: off"]
    lines.append("FITTED: dict[str, float] = {")
    for name in sorted(table):
        lines += _wrapped(f"{len(wit[name])} rows: " + ", ".join(wit[name]), "    # ")
        lines.append(f'    "{name}": {table[name]:.6g},')
    lines.append("}")
    lines.append("# Per term, the median over the Linux/macOS keys: for a key with no relative.")
    lines.append("FALLBACK_FITTED: dict[str, float] = {")
    lines += [f'    "{t}": {fb[t]:.6g},' for t in sorted(fb)]
    lines += ["}", "# fmt: on"]
    return "\n".join(lines) + "\n"


def _wrapped(text: str, prefix: str, width: int = 99) -> list[str]:
    out: list[str] = []
    line = prefix
    for word in text.split(" "):
        if len(line) + len(word) + 1 > width and line.strip() != prefix.strip():
            out.append(line.rstrip())
            line = prefix + ("  " if not prefix else "")
        line += word + " "
    out.append(line.rstrip())
    return out


def main(argv: list[str]) -> int:
    rows = load_rows()
    table, fb, wit = fit(rows)
    if "--write-constants" in argv:
        from bench import speed_bands  # noqa: PLC0415 (it imports this module)

        FITTED_PY.write_text(render_constants(table, fb, wit), encoding="utf-8")
        BANDS_PY.write_text(speed_bands.render(speed_bands.compute()), encoding="utf-8")
        print(f"wrote {FITTED_PY.relative_to(ROOT)} ({len(table)} constants) and the ranges")
        return 0
    for name in sorted(table):
        print(f"{name:42} {table[name]:10.4g}  {len(wit[name]):3d} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
