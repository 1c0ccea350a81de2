"""The speed model against public llama-bench rows and the ZBook article
(tests/data/speed_rows.toml).

The speed model's accuracy goal, on rows not used for fitting (k-fold: each fold, one model on one
machine class or one chip, is predicted from constants fitted on all the other rows): at least 90 %
of decode rows and 80 % of prefill rows within ±25 %, median |error| at most 12 %, no machine class
x backend biased by more than 15 %; the ZBook article's decode rows within ±30 %. No timing here
(`python -m bench speed` prints the timing and the full table).
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path

import pytest

from bench.speed_rows import (
    Row,
    fit,
    kfold,
    load_rows,
    open_model,
    predict,
    row_inputs,
    row_sources,
    speed_models,
)
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB
from vramtui.core.speed.constants_fitted import FALLBACK_FITTED, FITTED

FITTED_FILE = Path(__file__).resolve().parent.parent / "tui/vramtui/core/speed/constants_fitted.py"


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return load_rows()


@pytest.fixture(scope="module")
def held(rows: list[Row]) -> dict[str, float]:
    return kfold(rows)


def _err(pred: float, row: Row) -> float:
    return pred / row.measured - 1


def test_rows_are_well_formed(rows: list[Row]) -> None:
    ids = [r.id for r in rows]
    assert len(ids) == len(set(ids))
    sources = row_sources()
    assert len(rows) >= 150
    for r in rows:
        assert r.source in sources, r.id
        assert r.role in {"cv", "fit", "info"}, r.id
        assert r.test in {"tg", "pp", "ttft"} and r.n > 0 and r.measured > 0, r.id
        assert get_machine(r.machine).id == r.machine
        assert r.fold, r.id
    # every machine class the goal names is in the data
    classes = {(r.class_label, r.backend_label) for r in rows}
    for want in [
        ("strix_halo/linux", "vulkan.radv"),
        ("strix_halo/linux", "rocm"),
        ("dgx_spark", "cuda"),
        ("apple", "metal"),
        ("discrete_gpu", "cuda"),
        ("strix_halo/windows", "vulkan"),
        ("strix_halo/windows", "rocm"),
    ]:
        assert want in classes


def test_speed_models_reproduce_llama_bench_parameter_counts() -> None:
    for model_id, m in speed_models().items():
        spec = open_model(f"{model_id}:BF16")
        assert spec.n_params / 1e9 == pytest.approx(m["params_b"], rel=0.005), model_id


def test_synthesized_files_are_close_to_llama_bench_sizes(rows: list[Row]) -> None:
    """The bench scales weight bytes to llama-bench's size column; the synthesized mix must be
    close enough that the scaling is a correction, not a different model. A file in a quant the
    catalog does not offer (`file_quant`, encoded as the nearest offered one) may differ by up to
    30 %."""
    sized = [r for r in rows if "size_gib" in r.raw]
    assert any("file_quant" in r.raw for r in sized)
    for r in sized:
        ratio = float(r.raw["size_gib"]) * GiB / open_model(r.model).weights_bytes
        low = 0.7 if "file_quant" in r.raw else 0.9
        assert low < ratio < 1.15, (r.id, r.model, ratio)


def test_shipped_constants_are_the_fit_of_the_rows(rows: list[Row]) -> None:
    """speed_constants_fitted.py is what `python -m bench.speed_rows --write-constants` writes
    from these rows: no hand-edited constant, no stale file."""
    table, fallback, witnesses = fit(rows)
    assert set(table) == set(FITTED)
    for name, value in table.items():
        assert FITTED[name] == pytest.approx(value, rel=1e-5, abs=1e-12), name
    for term, value in fallback.items():
        assert FALLBACK_FITTED[term] == pytest.approx(value, rel=1e-5, abs=1e-12), term
    lines = FITTED_FILE.read_text(encoding="utf-8").splitlines()
    ids = {r.id for r in rows}
    for name in table:
        assert witnesses[name], name  # every constant rests on rows ...
        at = lines.index(f'    "{name}": {FITTED[name]:.6g},')
        comment = []
        while lines[at - 1].lstrip().startswith("#"):
            at -= 1
            comment.append(lines[at])
        named = set(re.findall(r"\b([A-Z]+\d+)\b", " ".join(comment)))
        assert named == set(witnesses[name]) and named <= ids, name  # ... and names them


def test_held_back_rows_meet_the_goal(rows: list[Row], held: dict[str, float]) -> None:
    decode = [_err(held[r.id], r) for r in rows if r.id in held and r.test == "tg"]
    prefill = [_err(held[r.id], r) for r in rows if r.id in held and r.test == "pp"]
    assert len(decode) >= 50 and len(prefill) >= 50
    assert sum(abs(e) <= 0.25 for e in decode) >= 0.90 * len(decode)
    assert sum(abs(e) <= 0.25 for e in prefill) >= 0.80 * len(prefill)
    assert statistics.median(abs(e) for e in decode + prefill) <= 0.12
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in rows:
        if r.id in held:
            groups[(r.class_label, r.backend_label, r.test)].append(_err(held[r.id], r))
    for key, errors in groups.items():
        assert abs(statistics.median(errors)) <= 0.15, key


def test_zbook_decode_rows_within_30_percent(rows: list[Row]) -> None:
    zbook = [r for r in rows if r.source == "zbook" and r.test == "tg"]
    assert len(zbook) == 11
    for r in zbook:
        assert abs(_err(predict(r, FITTED, FALLBACK_FITTED), r)) <= 0.30, r.id


def test_rows_run_through_the_apps_placement(rows: list[Row]) -> None:
    """A kyuz0 row sits in GTT (512 MB carve-out + 124 GiB GTT, no slow pool); a ZBook row at
    512 MB on Windows spills everything into shared GPU memory."""
    kyuz0 = next(r for r in rows if r.source == "kyuz0" and r.model.startswith("gpt-oss-120b"))
    inp = row_inputs(kyuz0)
    assert inp.key == "vulkan.radv/linux/strix_halo" or inp.key.startswith(("rocm", "vulkan"))
    assert inp.weights_shared == 0 and inp.n_host_layers == 0
    spilled = next(r for r in rows if r.id == "ZBOOK01")
    assert row_inputs(spilled).weights_shared == 1.0
    assert row_inputs(spilled).key == "vulkan/windows/strix_halo"
