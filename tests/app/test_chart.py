"""Memory against context: the chart's drawing, the data under it, and the same data as a table
in the CLI (`vramtui recommend --contexts`)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from dataclasses import replace

from textual.app import App, ComposeResult

from tests.app.conftest import ZBOOK_MACHINE
from vramtui.app.widgets.chart import (
    GUTTER,
    ChartData,
    ChartPainter,
    ContextChart,
    Level,
    nice_scale,
    value_at,
    verdict_at,
)
from vramtui.cli.main import main as cli_main
from vramtui.core.advice.recommend import (
    CTX_STEP,
    ContextPoint,
    context_curve,
    curve_contexts,
    recommend,
)
from vramtui.core.catalog.entries import DEFAULT_MODEL_REF, open_catalog_model
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import evaluate_fit, n_ctx_train
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB
from vramtui.core.vocab import Verdict

CONTEXTS = (4096, 8192, 16384, 32768, 65536, 131072)


def synthetic() -> ChartData:
    """GPU memory 10 -> 35 GiB and RAM left 50 -> 25 GiB over 4K..128K; fits up to 32K."""
    points = tuple(
        ContextPoint(
            ctx,
            Verdict.FITS if ctx <= 32768 else Verdict.FITS_WITH_WARNINGS,
            int((10 + 5 * i) * GiB),
            int((50 - 5 * i) * GiB),
            20.0,
        )
        for i, ctx in enumerate(CONTEXTS)
    )
    levels = (Level("16G", 16 * GiB), Level("32G", 32 * GiB, current=True), Level("48G", 48 * GiB))
    return ChartData(points, levels, 16384, "carve-out steps")


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        chart = ContextChart()
        chart.styles.width = 70
        chart.styles.height = 16
        yield chart


async def test_the_chart_draws_levels_the_cursor_and_the_axes() -> None:
    app = ChartApp()
    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(ContextChart)
        data = synthetic()
        chart.data = data
        await pilot.pause()
        painter = ChartPainter(chart, data, 70, 16)
        lines = painter.paint().plain.split("\n")
        assert len(lines) == 16
        assert "now 16K" in lines[0]
        plot = lines[len(painter.legend) : len(painter.legend) + painter.rows]
        # The current step is a solid line, labelled at the right; the others are dashed.
        row32 = painter.row_of(32 * GiB)
        assert "─" in plot[row32] and plot[row32].rstrip().endswith("32G")
        assert "┄" in plot[painter.row_of(16 * GiB)]
        # The current context is a vertical line in its column, wherever no curve passes.
        column = GUTTER + painter.col_of_ctx(16384)
        marks = [line[column] for line in plot]
        assert marks.count("│") >= len(plot) - 3
        # Both series are drawn: braille at the rows of their first values.
        assert any("\u2800" < ch <= "\u28ff" for ch in plot[painter.row_of(10 * GiB)])
        assert any("\u2800" < ch <= "\u28ff" for ch in plot[painter.row_of(50 * GiB)])
        # y labels at the ticks, the axis from 0; x labels at each doubling.
        assert plot[-1].lstrip().startswith("0G")
        ticks = lines[-1]
        for label in ("4K", "8K", "16K", "32K", "64K", "128K"):
            assert label in ticks


def test_the_scale_and_the_series_between_samples() -> None:
    assert nice_scale(53 * GiB) == (64 * GiB, 16 * GiB)
    assert nice_scale(24 * GiB) == (24 * GiB, 8 * GiB)
    assert nice_scale(125 * GiB) == (128 * GiB, 32 * GiB)
    data = synthetic()
    # Halfway between 4K and 8K (linear in context): halfway between 10 and 15 GiB.
    assert value_at(data.points, 6144, "gpu_memory_used_bytes") == 12.5 * GiB
    assert verdict_at(data.points, 40000) == Verdict.FITS
    assert verdict_at(data.points, 65536) == Verdict.FITS_WITH_WARNINGS


def test_the_curve_spans_4k_to_the_model_maximum() -> None:
    spec = open_catalog_model(DEFAULT_MODEL_REF)
    state = MachineState.default_for(get_machine(ZBOOK_MACHINE), carve_out_bytes=32 * GiB)
    top = n_ctx_train(spec)
    assert curve_contexts(top)[0] == 4096 and curve_contexts(top)[-1] == top
    assert all(c % CTX_STEP == 0 for c in curve_contexts(top, per_octave=4)[:-1])
    curve = context_curve(spec, RuntimeSettings(), state)
    gpu = [p.gpu_memory_used_bytes for p in curve]
    ram = [p.system_ram_left_bytes for p in curve]
    assert gpu == sorted(gpu) and gpu[0] < gpu[-1]
    assert ram == sorted(ram, reverse=True)
    for point in curve:  # each point is the fit at that context
        fit = evaluate_fit(spec, RuntimeSettings(ctx_size=point.ctx), state)
        assert (point.verdict, point.gpu_memory_used_bytes) == (
            fit.verdict,
            fit.gpu_memory_used_bytes,
        )


def test_loads_ctx_is_the_boundary_of_loading() -> None:
    spec = open_catalog_model("qwen3-vl-32b:Q6_K")
    state = MachineState.default_for(get_machine(ZBOOK_MACHINE))
    rec = recommend(spec, RuntimeSettings(), state)
    top = n_ctx_train(spec)
    checked = 0
    for row in rec.rows:
        assert row.max_loading_context >= row.max_clean_context
        st = replace(state, carve_out_bytes=row.carve_out_bytes)
        if row.max_loading_context:
            at = evaluate_fit(spec, RuntimeSettings(ctx_size=row.max_loading_context), st)
            assert at.verdict != Verdict.WILL_NOT_FIT
        if 0 < row.max_loading_context < top:
            past = RuntimeSettings(ctx_size=row.max_loading_context + CTX_STEP)
            assert evaluate_fit(spec, past, st).verdict == Verdict.WILL_NOT_FIT
            checked += 1
    assert checked or all(r.max_loading_context in (0, top) for r in rec.rows)


def test_the_cli_gives_the_same_data_as_a_table() -> None:
    args = ["recommend", DEFAULT_MODEL_REF, "--machine", ZBOOK_MACHINE, "--contexts"]
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_main([*args, "--json"]) == 0
    data = json.loads(out.getvalue())
    contexts = data["contexts"]
    spec = open_catalog_model(DEFAULT_MODEL_REF)
    state = MachineState.default_for(
        get_machine(ZBOOK_MACHINE), carve_out_bytes=contexts["carve_out_bytes"]
    )
    curve = context_curve(spec, RuntimeSettings(), state)
    assert [p["ctx"] for p in contexts["points"]] == [p.ctx for p in curve]
    assert [p["gpu_memory_used_bytes"] for p in contexts["points"]] == [
        p.gpu_memory_used_bytes for p in curve
    ]
    assert all("max_loading_context" in row for row in data["rows"])
    text = io.StringIO()
    with redirect_stdout(text):
        assert cli_main(args) == 0
    table = text.getvalue()
    assert "Memory against context" in table
    for point in curve:
        assert f"{point.ctx // 1024}K" in table
