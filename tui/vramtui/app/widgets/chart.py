"""Memory against context as a picture: GPU memory and the RAM left for the OS from 4K to the
model's maximum context, the carve-out steps (or the GPU's limit) as horizontal lines, the
current context as a vertical line, and under the axis a strip coloured by verdict.

Drawn with braille dots (2 x 4 per cell) so the lines are smooth at any size; the x axis is
logarithmic (context doubles per tick), the y axis is linear in GiB from 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from vramtui.core.advice.recommend import ContextPoint
from vramtui.core.fit.fit import FitResult
from vramtui.core.hardware.pools import MachineState
from vramtui.core.sizes import GiB, short_tokens
from vramtui.core.vocab import Verdict

BRAILLE = 0x2800
# Dot bit for (x in 0..1, y in 0..3 from the top) inside one braille cell (Unicode order).
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
GUTTER = 5  # y labels: "128G "
RIGHT = 5  # line labels: " 32G"
VERDICT_CLASS = {
    Verdict.FITS: "chart--fits",
    Verdict.FITS_WITH_WARNINGS: "chart--warn",
    Verdict.WILL_NOT_FIT: "chart--fail",
}


@dataclass(frozen=True)
class Level:
    """A horizontal line: a carve-out step, or the GPU's memory limit."""

    label: str
    n_bytes: int
    current: bool = False


@dataclass(frozen=True)
class ChartData:
    """Everything the chart draws, computed off the screen's thread."""

    points: tuple[ContextPoint, ...]
    levels: tuple[Level, ...]
    current_ctx: int
    level_name: str  # "carve-out steps" or "GPU limit"


def gib_label(n_bytes: int) -> str:
    """Axis label in GiB: "24G", "0.5G"."""
    value = n_bytes / GiB
    return f"{value:.0f}G" if value >= 1 or value == 0 else f"{value:.1f}G"


def chart_data(
    state: MachineState, fit: FitResult | None, points: tuple[ContextPoint, ...], current_ctx: int
) -> ChartData:
    """The levels to draw for this machine: its carve-out steps (1 GiB and up; smaller ones
    sit on the axis), else the memory the GPU may use."""
    machine = state.machine
    if machine.carve_out_steps and not machine.discrete:
        levels = tuple(
            Level(gib_label(step), step, step == state.carve_out_bytes)
            for step in machine.carve_out_steps
            if step >= GiB
        )
        return ChartData(points, levels, current_ctx, "carve-out steps")
    limit = fit.pools.gpu_total_bytes if fit is not None else machine.gpu_vram_bytes
    levels = (Level(gib_label(limit), limit, True),) if limit else ()
    return ChartData(points, levels, current_ctx, "GPU limit")


def nice_scale(n_bytes: float) -> tuple[int, int]:
    """(top, tick) of the y axis in bytes: ticks of a power of two GiB, at most five above 0,
    the top the first tick at or above the largest value."""
    gib = max(n_bytes / GiB, 1.0)
    tick = 1
    while gib / tick > 5:
        tick *= 2
    return int(math.ceil(gib / tick) * tick) * GiB, tick * GiB


def value_at(points: tuple[ContextPoint, ...], ctx: float, attr: str) -> float:
    """A series at any context, linear between the sampled points (memory grows linearly with
    context between two samples)."""
    prev = points[0]
    for point in points[1:]:
        if ctx <= point.ctx:
            span = point.ctx - prev.ctx
            t = (ctx - prev.ctx) / span if span else 1.0
            a, b = getattr(prev, attr), getattr(point, attr)
            return float(a + (b - a) * max(0.0, min(1.0, t)))
        prev = point
    return float(getattr(points[-1], attr))


def verdict_at(points: tuple[ContextPoint, ...], ctx: float) -> Verdict:
    """The verdict of the last sample at or below `ctx` (memory only grows with context)."""
    verdict = points[0].verdict
    for point in points:
        if point.ctx <= ctx:
            verdict = point.verdict
    return verdict


class ContextChart(Widget):
    """GPU memory and RAM left for the OS against context, with the carve-out steps."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chart--gpu",
        "chart--ram",
        "chart--level",
        "chart--level-current",
        "chart--cursor",
        "chart--axis",
        "chart--fits",
        "chart--warn",
        "chart--fail",
    }

    DEFAULT_CSS = """
    ContextChart {
        height: 12;
        & > .chart--gpu { color: $primary; }
        & > .chart--ram { color: $success; }
        & > .chart--level { color: $text-muted; }
        & > .chart--level-current { color: $warning; text-style: bold; }
        & > .chart--cursor { color: $accent; }
        & > .chart--axis { color: $text-muted; }
        & > .chart--fits { color: $success; }
        & > .chart--warn { color: $warning; }
        & > .chart--fail { color: $error; }
    }
    """

    data: reactive[ChartData | None] = reactive(None)
    busy: reactive[bool] = reactive(True)  # a sweep is on its way (else nothing to draw)

    def render(self) -> Text:
        data = self.data
        width, height = self.content_size.width, self.content_size.height
        if data is None or not data.points:
            return Text("working out memory against context…" if self.busy else "", style="italic")
        if width < GUTTER + RIGHT + 12 or height < 5:
            return Text("(too small for the chart)", style="italic")
        return ChartPainter(self, data, width, height).paint()


class ChartPainter:
    """One drawing of the chart at one size (kept apart from the widget for the tests)."""

    def __init__(self, widget: ContextChart, data: ChartData, width: int, height: int) -> None:
        self.style = widget.get_component_rich_style
        self.data = data
        self.width = width
        self.legend = self._legend()
        self.rows = height - len(self.legend) - 2  # plot rows; the strip and the ticks below
        self.cols = width - GUTTER - RIGHT
        points = data.points
        self.x0, self.x1 = math.log2(points[0].ctx), math.log2(max(points[-1].ctx, 2))
        peak = max(max(p.gpu_memory_used_bytes, p.system_ram_left_bytes) for p in points)
        self.top, self.tick = nice_scale(max([peak, *(lv.n_bytes for lv in data.levels)]))

    # --- coordinates ----------------------------------------------------------------------

    def ctx_of_dot(self, dot_x: int) -> float:
        frac = dot_x / max(self.cols * 2 - 1, 1)
        return float(2 ** (self.x0 + frac * (self.x1 - self.x0)))

    def col_of_ctx(self, ctx: int) -> int:
        span = self.x1 - self.x0 or 1.0
        frac = (math.log2(max(ctx, 1)) - self.x0) / span
        return round(frac * (self.cols * 2 - 1)) // 2

    def dot_y(self, n_bytes: float) -> int:
        """Dot row counted from the top of the plot."""
        dots = self.rows * 4 - 1
        return dots - round(max(0.0, min(1.0, n_bytes / self.top)) * dots)

    def row_of(self, n_bytes: float) -> int:
        return self.dot_y(n_bytes) // 4

    # --- pieces ---------------------------------------------------------------------------

    def _legend(self) -> list[Text]:
        parts = [
            ("⣀⣀ ", "chart--gpu", "GPU memory"),
            ("⣀⣀ ", "chart--ram", "RAM left for the OS"),
            ("── ", "chart--level-current", self.data.level_name),
            ("│ ", "chart--cursor", f"now {short_tokens(self.data.current_ctx)}"),
        ]
        lines = [Text()]
        for mark, cls, name in parts:
            piece_len = len(mark) + len(name) + 2
            if lines[-1].cell_len and lines[-1].cell_len + piece_len > self.width:
                lines.append(Text())
            lines[-1].append(mark, style=self.style(cls))
            lines[-1].append(name + "  ")
        return lines

    def _series(self) -> dict[tuple[int, int], tuple[int, int]]:
        """(row, col) -> (gpu dot bits, ram dot bits)."""
        cells: dict[tuple[int, int], list[int]] = {}
        for index, attr in enumerate(("gpu_memory_used_bytes", "system_ram_left_bytes")):
            last: int | None = None
            for dot_x in range(self.cols * 2):
                y = self.dot_y(value_at(self.data.points, self.ctx_of_dot(dot_x), attr))
                lo, hi = (y, y) if last is None else (min(last, y), max(last, y))
                for dot_y in range(lo, hi + 1):  # join steep segments into a line
                    cell = cells.setdefault((dot_y // 4, dot_x // 2), [0, 0])
                    cell[index] |= DOT_BITS[dot_x % 2][dot_y % 4]
                last = y
        return {key: (bits[0], bits[1]) for key, bits in cells.items()}

    def _levels(self) -> dict[int, Level]:
        rows: dict[int, Level] = {}
        for level in sorted(self.data.levels, key=lambda lv: lv.current):
            rows[self.row_of(level.n_bytes)] = level  # the current step wins a shared row
        return rows

    def _y_labels(self, levels: dict[int, Level]) -> dict[int, str]:
        """Axis labels at the ticks; not on the row of a level of another size (a short chart
        puts both on one row; the level carries its own label on the right)."""
        labels: dict[int, str] = {}
        for value in range(self.top, -1, -self.tick):
            row = self.row_of(value)
            if value and row in levels and levels[row].n_bytes != value:
                continue
            if all(abs(row - other) >= 2 for other in labels):
                labels[row] = gib_label(value)
        return labels

    def _right_labels(self, levels: dict[int, Level]) -> dict[int, tuple[str, str]]:
        """Right of the plot: each level's size, and where each series ends, its name."""
        labels = {
            row: (level.label, "chart--level-current" if level.current else "chart--level")
            for row, level in levels.items()
        }
        last = self.data.points[-1]
        for name, cls, value in (
            ("GPU", "chart--gpu", last.gpu_memory_used_bytes),
            ("RAM", "chart--ram", last.system_ram_left_bytes),
        ):
            labels.setdefault(self.row_of(value), (name, cls))
        return labels

    def _plot_row(
        self,
        row: int,
        series: dict[tuple[int, int], tuple[int, int]],
        levels: dict[int, Level],
        cursor: int,
    ) -> Text:
        text = Text()
        level = levels.get(row)
        level_style = self.style(
            "chart--level-current" if level is not None and level.current else "chart--level"
        )
        for col in range(self.cols):
            gpu, ram = series.get((row, col), (0, 0))
            if gpu or ram:
                style = self.style("chart--gpu" if gpu else "chart--ram")
                text.append(chr(BRAILLE + (gpu | ram)), style=style)
            elif col == cursor:
                text.append("│", style=self.style("chart--cursor"))
            elif level is not None:
                text.append("─" if level.current else "┄", style=level_style)
            else:
                text.append(" ")
        return text

    def _strip(self) -> Text:
        """Under the axis: the verdict at each context, as a coloured bar."""
        text = Text(" " * GUTTER)
        for col in range(self.cols):
            verdict = verdict_at(self.data.points, self.ctx_of_dot(col * 2 + 1))
            text.append("▀", style=self.style(VERDICT_CLASS.get(verdict, "chart--axis")))
        return text

    def _ticks(self) -> Text:
        """Context labels at each doubling, and at the model's maximum."""
        line = [" "] * (GUTTER + self.cols + RIGHT)
        taken: list[tuple[int, int]] = []

        def place(ctx: int, anchor_right: bool = False) -> None:
            label = short_tokens(ctx)
            col = GUTTER + self.col_of_ctx(ctx)
            start = col - len(label) + 1 if anchor_right else max(GUTTER, col - len(label) // 2)
            end = start + len(label)
            if end > len(line) or any(start <= b + 1 and a <= end + 1 for a, b in taken):
                return
            line[start:end] = label
            taken.append((start, end))

        top = self.data.points[-1].ctx
        place(top, anchor_right=True)
        ctx = self.data.points[0].ctx
        while ctx < top:
            place(ctx)
            ctx *= 2
        return Text("".join(line), style=self.style("chart--axis"))

    def paint(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for line in self.legend:
            out.append_text(line)
            out.append("\n")
        series, levels = self._series(), self._levels()
        labels = self._y_labels(levels)
        cursor = self.col_of_ctx(self.data.current_ctx)
        if not self.data.points[0].ctx <= self.data.current_ctx <= self.data.points[-1].ctx:
            cursor = -1
        axis = self.style("chart--axis")
        right = self._right_labels(levels)
        for row in range(self.rows):
            out.append(
                f"{labels.get(row, ''):>{GUTTER - 1}}┤"
                if row in labels
                else " " * (GUTTER - 1) + "│",
                style=axis,
            )
            out.append_text(self._plot_row(row, series, levels, cursor))
            if row in right:
                label, cls = right[row]
                out.append(f" {label}"[:RIGHT], style=self.style(cls))
            out.append("\n")
        out.append_text(self._strip())
        out.append("\n")
        out.append_text(self._ticks())
        return out
