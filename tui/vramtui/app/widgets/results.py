"""The right-hand side: what the current choice means. Each widget takes its data by data_bind."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Digits, Label, Static

from vramtui.app.state import Evaluation, Sweep
from vramtui.core.fit.ram import reason_evidence
from vramtui.core.fit.types import PoolUsage
from vramtui.core.sizes import GiB, format_gib, format_tokens
from vramtui.core.vocab import Verdict
from vramtui.present.fit_words import (
    advice_brief,
    evidence_note,
    headroom_sentence,
    measured_evidence,
)
from vramtui.present.reasons import reason_sentence
from vramtui.present.set_words import set_lines
from vramtui.present.speed_words import figure_words, ram_note

if TYPE_CHECKING:
    from vramtui.core.advice.actions import Advice

# The banner's CSS class per verdict (colours in vramtui.tcss).
VERDICT_CLASSES = {
    Verdict.FITS: "-fits",
    Verdict.FITS_WITH_WARNINGS: "-warn",
    Verdict.WILL_NOT_FIT: "-fail",
}


def verdict_text(evaluation: Evaluation | None, advice: tuple[Advice, ...] = ()) -> Text:
    """The banner: the verdict, every reason as its own sentence, then the advice (worked out
    with the sweep, off the screen's thread)."""
    if evaluation is None:
        return Text("…")
    fit = evaluation.fit
    if fit is None:
        return Text(evaluation.error or "no answer yet")
    text = Text(fit.verdict.banner, style="bold")
    state = evaluation.choice.machine
    spec = evaluation.choice.effective_spec
    for reason in fit.reasons:
        text.append("\n• ")
        text.append(reason_sentence(reason))
        evidence = reason_evidence(reason, spec, state) if spec is not None else None
        notes = (measured_evidence(reason, state), evidence_note(evidence) if evidence else None)
        for note in notes:
            if note is not None:
                text.append("\n  ")
                text.append(note, style="italic")
    if advice:  # the best item; `vramtui check` lists them all with their flags
        text.append(f"\n→ {advice_brief(advice[0])}", style="bold")
    if not fit.reasons:
        text.append(f"\n• {headroom_sentence(fit)}")
    if evaluation.set_fit is not None:  # the set, one model a line (as `check --also` says)
        for line in set_lines(evaluation.set_fit):
            text.append(f"\n{line.strip()}")
    return text


def update_static(widget: Static, content: str | Text, min_lines: int = 0) -> None:
    """Update a Static only when its content changed, and relayout only when its height did.

    Static.update always asks for a full layout pass (~20 ms on the main screen); most
    changes keep the same number of lines, so a plain repaint of the widget is enough.
    """
    key = content.markup if isinstance(content, Text) else content
    if getattr(widget, "_vramtui_key", None) == key:
        return
    widget._vramtui_key = key  # type: ignore[attr-defined]
    width = widget.content_region.width if widget.is_mounted else 0
    old_height = getattr(widget, "_vramtui_height", None)
    text = content if isinstance(content, Text) else Text.from_markup(content)
    height = max(min_lines, len(text.wrap(widget.app.console, width))) if width > 0 else None
    widget._vramtui_height = height  # type: ignore[attr-defined]
    auto_width = widget.styles.width is not None and widget.styles.width.is_auto
    # Same height (and a width set by the container): no layout pass needed.
    widget.update(content, layout=height is None or height != old_height or auto_width)


class VerdictBanner(Static):
    """The verdict, coloured by outcome, with each reason as a sentence.

    The stylesheet gives it a min-height of MIN_LINES (the verdict and one reason), so a flip
    between "fits" and "fits, with warnings" keeps its height and needs no layout pass.
    """

    MIN_LINES = 3

    evaluation: reactive[Evaluation | None] = reactive(None)
    sweep: reactive[Sweep | None] = reactive(None)

    def watch_evaluation(self, evaluation: Evaluation | None) -> None:
        verdict = evaluation.fit.verdict if evaluation and evaluation.fit else ""
        for verdict_name, cls in VERDICT_CLASSES.items():
            self.set_class(verdict == verdict_name, cls)
        self.set_class(evaluation is not None and evaluation.fit is None, "-none")
        self._show()

    def watch_sweep(self) -> None:
        self._show()

    def _show(self) -> None:
        """The advice comes with the sweep of the same question, a moment after the verdict."""
        evaluation, found = self.evaluation, self.sweep
        current = evaluation is not None and found is not None and found.choice == evaluation.choice
        advice = found.advice if current and found is not None else ()
        update_static(self, verdict_text(evaluation, advice), self.MIN_LINES)


def _gb_digits(n_bytes: int) -> str:
    return f"{n_bytes / GiB:.1f}"


class Figures(Widget):
    """The three numbers people look for: RAM left for the OS, tokens/s, time to first token."""

    evaluation: reactive[Evaluation | None] = reactive(None)

    def compose(self) -> ComposeResult:
        with Vertical(id="ram-left-box"):
            yield Label("RAM left for the OS, GiB", classes="figure-label")
            yield Digits("-", id="ram-left")
        with Vertical(id="speed-box"):
            yield Label("Expected speed", classes="figure-label")
            yield Static("-", id="speed")

    def watch_evaluation(self, evaluation: Evaluation | None) -> None:
        digits = self.query_one("#ram-left", Digits)
        speed = self.query_one("#speed", Static)
        fit = evaluation.fit if evaluation else None
        if fit is None or not fit.runs:  # no speed and no RAM left for a model that won't load
            digits.update("-")
            update_static(speed, "-" if fit is None else "none: it will not load")
            return
        left = fit.system_ram_left_bytes
        digits.update(_gb_digits(left))
        digits.set_class(left < 8 * GiB, "-low")
        sp = fit.speed
        parts = Text()
        if sp is not None:
            parts.append(figure_words(sp, "decode"), style="bold")
            parts.append(" decode\n")
            parts.append(figure_words(sp, "ttft"), style="bold")
            parts.append(" to first token\n")
            parts.append(f"{figure_words(sp, 'prefill')} prefill")
            if ram := ram_note(sp):
                parts.append(f"\n{ram}", style="italic")
            if sp.calibrated and evaluation is not None:
                note = evaluation.choice.calibration_note or "calibrated"
                parts.append(f"\n{note}", style="italic")
        update_static(speed, parts)


# Segment kinds as the fit names them -> (component class, legend name, fill character).
SEGMENT_KINDS: dict[str, tuple[str, str, str]] = {
    "weights": ("poolbars--weights", "weights", "█"),
    "kv_cache": ("poolbars--kv", "KV cache", "▓"),
    "kv": ("poolbars--kv", "KV cache", "▓"),
    "recurrent_state": ("poolbars--kv", "KV cache", "▓"),
    "compute": ("poolbars--compute", "compute", "▒"),
    "output": ("poolbars--compute", "compute", "▒"),
    "projector": ("poolbars--projector", "projector", "▚"),
    "os": ("poolbars--os", "OS", "▞"),
    "os_baseline": ("poolbars--os", "OS", "▞"),
    "host": ("poolbars--host", "host buffers", "▤"),
    "gpu": ("poolbars--gpu", "GPU (shared)", "▦"),
    "kept": ("poolbars--kept", "model kept in RAM", "▥"),
    "other_model": ("poolbars--other", "other models", "▪"),
    "free": ("poolbars--free", "free", "░"),
}
FREE_KIND = SEGMENT_KINDS["free"]
OTHER_KIND = ("poolbars--other", "other", "▪")
LABEL_WIDTH = 0


class PoolBars(Widget):
    """A stacked bar per memory pool (dedicated, shared/GTT, system RAM) with labelled parts."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "poolbars--weights",
        "poolbars--kv",
        "poolbars--compute",
        "poolbars--projector",
        "poolbars--os",
        "poolbars--free",
        "poolbars--other",
        "poolbars--host",
        "poolbars--gpu",
        "poolbars--kept",
        "poolbars--title",
        "poolbars--over",
    }

    evaluation: reactive[Evaluation | None] = reactive(None)

    _reserved: tuple[int, int] = (0, 0)  # (width, legend lines) the bars keep room for

    def watch_evaluation(self) -> None:
        # Relayout only when the height changes; otherwise a repaint is enough (fast keys).
        height = self.get_content_height(self, self, max(10, self.content_size.width))
        self.refresh(layout=height != getattr(self, "_height", -1))
        self._height = height

    def _legend_lines(self, width: int) -> int:
        """Legend lines, never fewer than before at this width: a legend that wraps once
        keeps its room, so stepping the carve-out back and forth never relayouts the screen."""
        lines = self._legend_height(width)
        if self._reserved[0] == width:
            lines = max(lines, self._reserved[1])
        self._reserved = (width, lines)
        return lines

    def _pools(self) -> list[object]:
        fit = self.evaluation.fit if self.evaluation else None
        return list(fit.pool_usage) if fit is not None else []

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        pools = self._pools()
        if not pools:
            return 1
        per_pool = 1 if self.has_class("-compact") else 2
        return per_pool * len(pools) + self._legend_lines(width)

    def _legend(self) -> list[tuple[str, str, str]]:
        """Kinds present in any bar, in bar order, then free."""
        fit = self.evaluation.fit if self.evaluation else None
        kinds: dict[str, tuple[str, str, str]] = {}
        for pool in fit.pool_usage if fit else ():
            for seg in pool.segments:
                if seg.n_bytes > 0 and seg.kind != "free":
                    kind = SEGMENT_KINDS.get(seg.kind, OTHER_KIND)
                    kinds.setdefault(kind[1], kind)
        kinds.setdefault(FREE_KIND[1], FREE_KIND)
        return list(kinds.values())

    def _legend_height(self, width: int) -> int:
        lines, column = 1, 0
        for _, name, _ in self._legend():
            entry = len(name) + 5
            if column and column + entry > width:
                lines, column = lines + 1, 0
            column += entry
        return lines

    def render(self) -> Text:
        fit = self.evaluation.fit if self.evaluation else None
        if fit is None:
            return Text("")
        width = max(10, self.content_size.width)
        if self.has_class("-compact"):
            return self._render_compact(fit.pool_usage, width)
        out = Text(no_wrap=True, overflow="ellipsis")
        kinds_seen: dict[str, tuple[str, str, str]] = {}
        for index, pool in enumerate(fit.pool_usage):
            used = sum(s.n_bytes for s in pool.segments if s.kind != "free")
            if index:
                out.append("\n")
            title = pool.name[:1].upper() + pool.name[1:]
            figure = f"{format_gib(used)} of {format_gib(pool.capacity_bytes)}"
            over = used > pool.capacity_bytes
            if over:
                figure = f"over by {format_gib(used - pool.capacity_bytes)}! " + figure
            pad = max(1, width - len(title) - len(figure))
            out.append(title, style=self.get_component_rich_style("poolbars--title"))
            out.append(" " * pad)
            out.append(
                figure, style=self.get_component_rich_style("poolbars--over") if over else ""
            )
            out.append("\n")
            out.append_text(self._bar(pool, width, kinds_seen))
        out.append("\n")
        self._append_legend(out, width)
        return out

    def _append_legend(self, out: Text, width: int) -> None:
        column = 0
        for cls, name, char in self._legend():
            entry = len(name) + 5
            if column and column + entry > width:  # wrap the legend by hand (no_wrap text)
                out.append("\n")
                column = 0
            out.append(char * 2, style=self.get_component_rich_style(cls))
            out.append(f" {name}  ")
            column += entry

    def _render_compact(self, pools: tuple[PoolUsage, ...], width: int) -> Text:
        """One line per pool (name, bar, figure), for screens short of rows."""
        titles = [pool.name[:1].upper() + pool.name[1:] for pool in pools]
        figures = []
        for pool in pools:
            used = sum(s.n_bytes for s in pool.segments if s.kind != "free")
            figure = f"{used / GiB:.1f} of {format_gib(pool.capacity_bytes)}"
            if used > pool.capacity_bytes:
                figure = f"over by {format_gib(used - pool.capacity_bytes)}!"
            figures.append((figure, used > pool.capacity_bytes))
        title_w = max(len(t) for t in titles) + 1
        figure_w = max(len(f) for f, _ in figures) + 1
        bar_w = max(10, width - title_w - figure_w)
        out = Text(no_wrap=True, overflow="ellipsis")
        kinds_seen: dict[str, tuple[str, str, str]] = {}
        for title, pool, (figure, over) in zip(titles, pools, figures, strict=True):
            out.append(title.ljust(title_w), style=self.get_component_rich_style("poolbars--title"))
            out.append_text(self._bar(pool, bar_w, kinds_seen))
            style = self.get_component_rich_style("poolbars--over") if over else ""
            out.append(figure.rjust(figure_w), style=style)
            out.append("\n")
        self._append_legend(out, width)
        return out

    def _bar(self, pool: object, width: int, kinds_seen: dict[str, tuple[str, str, str]]) -> Text:
        segments = [s for s in pool.segments if s.n_bytes > 0]  # type: ignore[attr-defined]
        capacity = max(pool.capacity_bytes, sum(s.n_bytes for s in segments), 1)  # type: ignore[attr-defined]
        bar = Text(no_wrap=True)
        cells_left = width
        # Largest-remainder rounding keeps the bar exactly `width` cells wide.
        raw = [s.n_bytes * width / capacity for s in segments]
        cells = [int(r) for r in raw]
        for i in sorted(range(len(raw)), key=lambda i: raw[i] - cells[i], reverse=True):
            if sum(cells) >= width:
                break
            cells[i] += 1
        for seg, want in zip(segments, cells, strict=True):
            n_cells = min(want, cells_left)
            if n_cells <= 0:
                continue
            kind = SEGMENT_KINDS.get(seg.kind, OTHER_KIND)
            kinds_seen.setdefault(kind[1], kind)
            style = self.get_component_rich_style(kind[0])
            label = f"{seg.label or kind[1]} {seg.n_bytes / GiB:.1f}"
            if len(label) + 2 <= n_cells:
                body = f" {label}".ljust(n_cells)
            elif len(f"{seg.n_bytes / GiB:.1f}") + 2 <= n_cells:
                body = f" {seg.n_bytes / GiB:.1f}".ljust(n_cells)
            else:
                body = kind[2] * n_cells
            bar.append(body, style=style)
            cells_left -= n_cells
        if cells_left > 0:
            free = capacity - sum(s.n_bytes for s in segments)
            kinds_seen.setdefault(FREE_KIND[1], FREE_KIND)
            label = f" free {free / GiB:.1f}" if free > 0 and cells_left >= 12 else ""
            bar.append(label.ljust(cells_left), style=self.get_component_rich_style(FREE_KIND[0]))
        return bar


def context_label(n: int | None) -> str:
    return "-" if not n else format_tokens(n)


class ResultsHeader(Horizontal):
    """The verdict banner beside the figures."""
