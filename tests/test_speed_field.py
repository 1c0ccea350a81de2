"""The field rows (tests/data/speed_rows_field.toml): public Strix Halo measurements from other
sources, checked against and never fitted on. Their errors are reported by `python -m bench
speed`, not asserted here: these tests hold the file to its form (sources declared, models that
open, llama-bench sizes that match) and keep it apart from the fit."""

from __future__ import annotations

import math

import pytest

from bench.speed_field import field_sources, load_field_rows, score, summary_lines
from bench.speed_rows import Row, load_check_rows, load_rows, open_model, row_inputs
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB
from vramtui.core.speed.constants_fitted import FALLBACK_FITTED, FITTED


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return load_field_rows()


def test_field_rows_are_well_formed(rows: list[Row]) -> None:
    ids = [r.id for r in rows]
    assert len(ids) == len(set(ids))
    sources = field_sources()
    assert rows
    for r in rows:
        assert r.source in sources, r.id
        assert r.role == "check", r.id
        assert r.test in {"tg", "pp"} and r.n > 0 and r.depth >= 0 and r.measured > 0, r.id
        assert get_machine(r.machine).id == r.machine, r.id
        assert r.backend in {"vulkan", "rocm"}, r.id
        assert r.backend != "vulkan" or r.driver in {"radv", "amdvlk"}, r.id
        assert r.raw.get("detail"), r.id
    # every declared source has rows
    assert {r.source for r in rows} == set(sources)


def test_field_rows_are_never_fitted_on(rows: list[Row]) -> None:
    """The fit reads speed_rows.toml only: no field row is among its rows or the check rows, and
    none repeats a fitted measurement (strix-halo-guide has rows on both sides: its decode rows
    and its prefill rows at builds from the kyuz0 fit rows' on are fitted on)."""
    field_ids = {r.id for r in rows}
    fitted = load_rows()
    check = load_check_rows()
    assert not field_ids & {r.id for r in [*fitted, *check]}
    assert not set(field_sources()) & {r.source for r in check}

    def measurement(r: Row) -> tuple[object, ...]:
        return (r.source, r.model, r.test, r.n, r.depth, r.raw.get("build"), r.measured)

    assert not {measurement(r) for r in rows} & {measurement(r) for r in fitted}
    shared = {r.source for r in rows} & {r.source for r in fitted}
    for r in rows:
        if r.source in shared:  # what stays a field row: prefill from an older or unknown build
            assert r.test == "pp" and int(r.raw.get("build", 0)) < 9187, r.id


def test_every_field_model_opens(rows: list[Row]) -> None:
    for ref in sorted({r.model for r in rows}):
        spec = open_model(ref)
        assert spec.weights_bytes > 0, ref


def test_field_sizes_match_the_opened_models(rows: list[Row]) -> None:
    """Where the source gives the file's size, the opened model is within a few percent of it;
    a file in a quant the catalog does not offer (`file_quant`, encoded as the nearest offered
    one and scaled to the size) is a correction of at most 30 %, never another model."""
    sized = [r for r in rows if "size_gib" in r.raw]
    assert any("file_quant" not in r.raw for r in sized)
    for r in sized:
        ratio = float(r.raw["size_gib"]) * GiB / open_model(r.model).weights_bytes
        if "file_quant" in r.raw:
            assert 0.7 < ratio < 1.15, (r.id, r.model, ratio)
        else:
            assert 0.96 < ratio < 1.04, (r.id, r.model, ratio)


def test_field_rows_score_through_the_apps_placement(rows: list[Row]) -> None:
    """Every row gets a finite prediction on its Strix Halo class and a range around the value
    the app would show."""
    for s in score(rows, FITTED, FALLBACK_FITTED):
        assert math.isfinite(s.at_build) and s.at_build > 0, s.row.id
        assert s.low < s.at_build < s.high, s.row.id
        assert row_inputs(s.row).key.endswith("/linux/strix_halo"), s.row.id


def test_field_summary_counts_every_row(rows: list[Row]) -> None:
    """The summary scores every decode and prefill row, and the primary lines only the rows
    without a caveat."""
    lines = summary_lines(score(rows, FITTED, FALLBACK_FITTED))
    decode = sum(r.test == "tg" for r in rows)
    primary_prefill = sum(r.test == "pp" and not r.secondary for r in rows)
    assert f"of {decode} within" in lines[0]
    assert f"of {primary_prefill} within" in lines[3]
    assert "hold" in lines[4] and f"of {len(rows)}," in lines[4]
