"""The carve-out comparison: every BIOS step side by side, the recommended one starred.

The table's columns are chosen for the width it has: full labels and units when they fit, then
short ones, then the least needed columns are dropped (GPU left first), so it never clips. The
values come from a `Sweep` that may lag the screen's choice by a moment; the panel says
"updating…" and dims the figures until the new one arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from vramtui.app.state import Choice, Sweep, sweep_pending
from vramtui.app.widgets.results import update_static
from vramtui.core.advice.recommend import Recommendation, StepRow
from vramtui.core.sizes import GiB, format_gib, short_tokens
from vramtui.present.fit_words import (
    carve_out_label,
    gtt_alternative_sentence,
    recommendation_sentence,
)
from vramtui.present.speed_words import decode_span

Cell = Text | str


@dataclass(frozen=True)
class Column:
    """One comparison column: its labels (full, short) and its cell in each form."""

    key: str
    label: str
    short: str
    cell: Callable[[StepRow, bool], Cell]  # (row, compact) -> cell


def _gib(n_bytes: int, compact: bool) -> str:
    return f"{n_bytes / GiB:.1f}G" if compact else format_gib(n_bytes)


def _runs(row: StepRow, cell: str) -> str:
    """A step that will not load has no speed, no RAM left and no GPU left to show."""
    return cell if row.fit.runs else "-"


def _ctx(n: int) -> str:
    return short_tokens(n) if n else "-"


def _verdict(row: StepRow, compact: bool) -> Text:
    verdict = row.fit.verdict
    word = verdict.short
    if compact and len(word) > 5:
        word = word[:4]
    return Text(word, style=f"bold {verdict.style}")


# Display order. Every column has a short form; DROP_ORDER says which go first.
COLUMNS = (
    Column("carve", "Carve-out", "Carve", lambda r, c: carve_out_label(r.carve_out_bytes)),
    Column("verdict", "Verdict", "Verdict", _verdict),
    Column("gpu-left", "GPU left", "GPU", lambda r, c: _runs(r, _gib(r.gpu_left_bytes, c))),
    Column("ram-left", "RAM left", "RAM", lambda r, c: _runs(r, _gib(r.system_ram_left_bytes, c))),
    Column("clean-ctx", "Clean ctx", "Clean", lambda r, c: _ctx(r.max_clean_context)),
    Column("load-ctx", "Loads ctx", "Loads", lambda r, c: _ctx(r.max_loading_context)),
    Column(
        "tps",
        "tok/s",
        "tok/s",
        lambda r, c: _runs(r, decode_span(r.fit.speed) if r.decode_tps else "-"),
    ),
)
DROP_ORDER = ("gpu-left", "load-ctx", "tps", "clean-ctx")
MARK_WIDTH = 2  # "▸★"
CELL_PADDING = 1  # DataTable's default, on each side of every column


def _cell_len(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else Text(cell).cell_len


def _width(columns: list[Column], rows: tuple[StepRow, ...], compact: bool) -> int:
    total = MARK_WIDTH + 2 * CELL_PADDING
    for column in columns:
        cells = [_cell_len(column.cell(row, compact)) for row in rows]
        label = column.short if compact else column.label
        total += max([len(label), *cells]) + 2 * CELL_PADDING
    return total


def choose_columns(
    rows: tuple[StepRow, ...], width: int, *, carve_out: bool = True
) -> tuple[tuple[Column, ...], bool]:
    """The richest column set that fits `width`: full form, then compact, then fewer columns.
    Without a carve-out (a Mac, a discrete GPU) there is no carve-out column."""
    columns = [c for c in COLUMNS if carve_out or c.key != "carve"]
    for dropped in range(len(DROP_ORDER) + 1):
        keep = [c for c in columns if c.key not in DROP_ORDER[:dropped]]
        for compact in (False, True):
            if _width(keep, rows, compact) <= width:
                return tuple(keep), compact
    return tuple(c for c in columns if c.key not in DROP_ORDER), True


def reach_sentence(row: StepRow) -> str:
    """For a machine without a carve-out: how much context it holds."""
    if not row.max_loading_context:
        return "It does not load at any context with these settings."
    loads = short_tokens(row.max_loading_context)
    if not row.max_clean_context:
        return f"Never runs cleanly with these settings; loads up to {loads} of context."
    clean = short_tokens(row.max_clean_context)
    return f"Runs cleanly up to {clean} of context; loads up to {loads}."


class CompareTable(DataTable[Cell]):
    """Every BIOS carve-out step side by side; Enter picks a step, left/right still step it."""

    @dataclass
    class StepCarveOut(Message):
        """Left/right on the table step the carve-out, as they do everywhere else."""

        delta: int

    def action_cursor_left(self) -> None:
        self.post_message(self.StepCarveOut(-1))

    def action_cursor_right(self) -> None:
        self.post_message(self.StepCarveOut(1))


class CarveOutComparison(Vertical):
    """Title, the recommendation in words, the table, and the Linux GTT route."""

    choice: reactive[Choice | None] = reactive(None)
    sweep: reactive[Sweep | None] = reactive(None)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._layout: tuple[tuple[str, ...], bool, tuple[str, ...]] | None = None
        self._cells: dict[str, tuple[Cell, ...]] = {}

    def compose(self) -> ComposeResult:
        yield Static("Carve-out comparison", id="compare-title", classes="panel-title")
        yield Static("", id="recommendation")
        yield CompareTable(id="compare", cursor_type="row", zebra_stripes=True)
        yield Static("", id="gtt-alternative")

    @property
    def has_carve_out(self) -> bool:
        machine = self.choice.machine.machine if self.choice is not None else None
        return machine is not None and bool(machine.carve_out_steps) and not machine.discrete

    @property
    def stale(self) -> bool:
        """The figures are for an earlier question (a newer sweep is on its way)."""
        return self.choice is not None and sweep_pending(self.choice, self.sweep)

    def watch_choice(self) -> None:
        self._refresh_all()

    def watch_sweep(self) -> None:
        self._refresh_all()

    def on_resize(self) -> None:
        self._refresh_all()

    def _refresh_all(self) -> None:
        if not self.is_mounted:
            return
        stale = self.stale
        self.set_class(stale, "-stale")
        title = (
            "Carve-out comparison  [dim](Enter picks a step)[/]"
            if self.has_carve_out
            else "How much context  [dim](no carve-out to set)[/]"
        )
        update_static(
            self.query_one("#compare-title", Static), title + ("  [i]updating…[/]" if stale else "")
        )
        rec = self.sweep.recommendation if self.sweep is not None else None
        self._fill(rec)

    def _fill(self, rec: Recommendation | None) -> None:
        table = self.query_one(CompareTable)
        words = self.query_one("#recommendation", Static)
        alt = self.query_one("#gtt-alternative", Static)
        if rec is None or self.choice is None:
            if table.row_count:
                table.clear()
            update_static(words, "working out every carve-out step…" if self.stale else "")
            alt.display = False
            return
        if self.has_carve_out:
            update_static(words, Text(recommendation_sentence(rec)))
        else:
            update_static(words, Text(reach_sentence(rec.rows[0])))
        gtt = rec.linux_gtt_alternative
        alt.display = gtt is not None
        if gtt is not None:
            update_static(alt, Text(gtt_alternative_sentence(gtt)))
        self._fill_table(table, rec)

    def _fill_table(self, table: CompareTable, rec: Recommendation) -> None:
        """Rows are updated in place when the steps and columns are the same (no relayout)."""
        assert self.choice is not None
        current = self.choice.machine.carve_out_bytes
        carve = self.has_carve_out
        columns, compact = choose_columns(rec.rows, self.content_size.width, carve_out=carve)
        rows: list[tuple[str, tuple[Cell, ...]]] = []
        for index, row in enumerate(rec.rows):
            mark = ("▸" if row.carve_out_bytes == current else " ") + (
                "★" if index == rec.recommended_index else " "
            )
            if not carve:
                mark = "  "
            cells = tuple(column.cell(row, compact) for column in columns)
            rows.append((str(row.carve_out_bytes), (mark, *cells)))
        keys = tuple(key for key, _ in rows)
        layout = (tuple(c.key for c in columns), compact, keys)
        if layout == self._layout:
            for key, cells in rows:
                old = self._cells.get(key, ())
                for index, cell in enumerate(cells):
                    if index >= len(old) or old[index] != cell:  # repaint only changed cells
                        table.update_cell(key, ("mark", *layout[0])[index], cell)
        else:
            table.clear(columns=True)
            table.add_column("", key="mark")
            for column in columns:
                table.add_column(column.short if compact else column.label, key=column.key)
            for key, cells in rows:
                table.add_row(*cells, key=key)
            table.scroll_to(x=0, animate=False)  # a narrower set may have left it scrolled
            self._layout = layout
        self._cells = dict(rows)
        if str(current) in keys:
            table.move_cursor(row=keys.index(str(current)), animate=False)
