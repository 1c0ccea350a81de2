"""The range beside every speed (core/speed/bands.py, written by bench/speed_bands.py).

Properties only: every range holds its own figure, ranges are wider for a class with no rows,
the llama.cpp build moves prefill where the check rows show it does, and the shipped ranges are
the bench's output. How often the ranges hold rows kept apart is a benchmark printout
(`python -m bench speed`), not a test.
"""

from __future__ import annotations

import json

import pytest

from bench import speed_bands
from bench.speed_rows import (
    CHECK_ROWS,
    Row,
    kfold,
    load_check_rows,
    load_rows,
    row_inputs,
    row_sources,
)
from vramtui.cli.main import main
from vramtui.core.speed import bands_fitted
from vramtui.core.speed.bands import FIGURES, prefill_build_factor, speed_band

STRIX = ("--machine", "framework-desktop-128gb", "--os", "linux")


def _check(capsys: pytest.CaptureFixture[str], *argv: str, rc: int = 0) -> dict[str, object]:
    assert main(["check", *argv, "--json"]) == rc
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("backend", ["vulkan", "rocm"])
def test_every_range_holds_its_figure(capsys: pytest.CaptureFixture[str], backend: str) -> None:
    data = _check(capsys, "gpt-oss-20b:MXFP4", *STRIX, "--backend", backend)
    for name in ("decode_tokens_per_second", "prefill_tokens_per_second", "time_to_first_token_s"):
        low, high = data[f"{name}_range"]  # type: ignore[misc]
        value = data[name]
        assert isinstance(value, float)
        assert 0 < low <= value <= high, name
        speed = data["speed"]
        assert isinstance(speed, dict) and speed[f"{name}_range"] == [low, high]


def test_a_model_that_will_not_load_has_no_range(capsys: pytest.CaptureFixture[str]) -> None:
    data = _check(capsys, "qwen3-235b-a22b:Q8_0", "--machine", "hp-zbook-ultra-g1a-64gb", rc=3)
    assert data["verdict"] == "will_not_fit"
    assert data["decode_tokens_per_second_range"] is None


@pytest.mark.parametrize("figure", FIGURES)
def test_a_class_with_no_rows_is_wider_and_says_so(figure: str) -> None:
    known = [speed_band(k, figure) for k in ("cuda/linux/dgx_spark", "rocm/linux/strix_halo")]
    unknown = speed_band("rocm/linux/dgx_spark", figure)
    assert unknown.rows == 0 and all(b.rows > 0 for b in known)
    assert all(unknown.high / unknown.low > b.high / b.low for b in known)


def test_an_older_build_slows_radv_prefill_and_says_how_far() -> None:
    key = "vulkan.radv/linux/strix_halo"
    assert prefill_build_factor(key, None) == 1.0
    assert prefill_build_factor(key, 6735) < prefill_build_factor(key, 8500) < 1.0
    assert prefill_build_factor(key, 20000) == 1.0  # newer than the data: no row says which way
    assert speed_band(key, "prefill", 6735).build_gap == bands_fitted.DATA_BUILD[key] - 6735


def test_the_build_reaches_check(capsys: pytest.CaptureFixture[str]) -> None:
    now = _check(capsys, "gpt-oss-20b:MXFP4", *STRIX, "--backend", "vulkan")
    old = _check(
        capsys, "gpt-oss-20b:MXFP4", *STRIX, "--backend", "vulkan", "--llama-build", "6735"
    )
    assert old["prefill_tokens_per_second"] < now["prefill_tokens_per_second"]  # type: ignore[operator]
    assert old["decode_tokens_per_second"] == now["decode_tokens_per_second"]


def test_shipped_ranges_are_the_benchs_output() -> None:
    """bands_fitted.py is what `python -m bench.speed_rows --write-constants` writes."""
    data = speed_bands.compute()
    table = data["bands"]
    assert isinstance(table, dict) and set(table) == set(bands_fitted.BANDS)
    for k, (lo, hi, n) in table.items():
        slo, shi, sn = bands_fitted.BANDS[k]
        assert (lo, hi, n) == (pytest.approx(slo, rel=1e-3), pytest.approx(shi, rel=1e-3), sn), k
    assert data["slopes"] == bands_fitted.BUILD_SLOPE
    assert data["builds"] == bands_fitted.DATA_BUILD
    rows = load_rows()
    assert speed_bands.choose_z(rows, kfold(rows, windows=True)) == speed_bands.Z


def test_check_rows_are_kept_apart_and_name_their_build() -> None:
    fit_rows = load_rows()
    check = load_check_rows()
    assert len(check) >= 200
    assert not {r.id for r in check} & {r.id for r in fit_rows}
    for r in check:
        assert r.role == "check" and r.raw["build"] < bands_fitted.DATA_BUILD[row_key(r)], r.id
        assert r.source in row_sources(CHECK_ROWS) and r.raw["date"], r.id


def row_key(r: Row) -> str:
    return row_inputs(r).key


@pytest.mark.parametrize("figure", ["decode", "prefill"])
def test_a_class_with_no_rows_borrows_its_measured_relatives_range(figure: str) -> None:
    """CUDA on Windows has no rows; CUDA on Linux lends it constants and, twice as wide in log
    terms, its range: narrower than every class's rows pooled, wider than its own."""
    relative = speed_band("cuda/linux/discrete_gpu", figure)
    borrowed = speed_band("cuda/windows/discrete_gpu", figure)
    assert relative.rows > 0 and borrowed.rows == 0
    assert borrowed.relative == "cuda/linux/discrete_gpu"
    width = relative.high / relative.low
    assert borrowed.high / borrowed.low == pytest.approx(width**2)
    pooled_low, pooled_high = bands_fitted.POOLED[figure]
    assert borrowed.high / borrowed.low < pooled_high / pooled_low
