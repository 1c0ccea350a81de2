"""The main screen's chart, kept in step with the question: its data (the sweep's curve with
this moment's machine and context), its title, and its height in one column.

The curve does not depend on the context itself, so a context change only moves the marker;
anything else makes it stale ("updating…", dimmed) until the next sweep. When no sweep is on
its way (no model open, or a setting the fit refuses) the chart is empty and says nothing is
being worked out: the banner says why.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from vramtui.app.state import Choice, Evaluation, Sweep, sweep_pending
from vramtui.app.widgets.chart import ContextChart, chart_data
from vramtui.app.widgets.controls import carve_label
from vramtui.app.widgets.results import update_static
from vramtui.present.untrusted import plain

CHART_ROWS = {"short": (9, 24), "tall": (18, 36)}  # (fewest, most) rows in one column
CHART_TITLE = "Memory against context"


def show_chart(
    chart: ContextChart,
    title: Static,
    choice: Choice | None,
    evaluation: Evaluation | None,
    result: Sweep | None,
) -> None:
    """Give the chart and its title the data for `choice`, from the newest sweep `result`."""
    if choice is None:
        return
    chart.busy = sweep_pending(choice, result)
    if result is None or not result.curve:
        if not chart.busy:
            chart.data = None  # nothing on its way: no old curve left standing
            chart.set_class(False, "-stale")
        update_static(title, CHART_TITLE)
        return
    fit = evaluation.fit if evaluation is not None else None
    same = replace(result.choice, settings=choice.settings) == choice
    chart.set_class(not same, "-stale")
    chart.data = chart_data(choice.machine, fit, result.curve, choice.settings.ctx_size)
    machine = choice.machine.machine
    where = (
        f"at the {carve_label(choice.machine.carve_out_bytes)} carve-out"
        if machine.carve_out_steps and not machine.discrete
        else f"on {plain(machine.name)}"
    )
    state = ("  updating…", "italic") if not same else ""
    update_static(title, Text.assemble(CHART_TITLE, "  ", (where, "dim"), state))


def fit_chart(chart: ContextChart, results: Widget, columns: list[Widget], tall: bool) -> None:
    """In one column, the chart takes the rows the rest leaves (within bounds), so a screen
    with room shows all of it at once. `results` is the scrolling pane, `columns` what it
    holds."""
    used = sum(column.outer_size.height for column in columns)
    spare = results.content_region.height - used
    low, high = CHART_ROWS["tall" if tall else "short"]
    want = max(low, min(high, chart.outer_size.height + spare))
    if want != chart.outer_size.height:
        chart.styles.height = want
