"""The model picker: recent choices, models found on this machine, the catalog, or any path/URL.

Type to filter; Enter opens the highlighted line. Discovery reads headers, so it runs in a thread
worker and the list grows when it finishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from vramtui.app.recent import load_recent
from vramtui.core.catalog.entries import catalog_entries
from vramtui.core.discovery.scan import discover_models
from vramtui.core.sizes import format_file_size, format_gib, short_tokens
from vramtui.present.speed_words import decode_words
from vramtui.present.untrusted import plain

if TYPE_CHECKING:
    from vramtui.app.state import Choice
    from vramtui.core.advice.quants import QuantLadder

OPEN_TYPED = "open-typed"


@dataclass(frozen=True)
class PickerItem:
    """One line of the picker: the reference it opens and how it is shown."""

    ref: str
    section: str  # "recent" | "local" | "catalog"
    name: str
    quant: str = ""
    size_bytes: int | None = None
    detail: str = ""

    @property
    def search_text(self) -> str:
        return f"{self.name} {self.quant} {self.detail} {self.ref}".lower()

    def label(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{plain(self.name, 44):<44}", style="bold")
        text.append(f" {plain(self.quant, 8):<8}")
        size = format_gib(self.size_bytes) if self.size_bytes else ""
        text.append(f" {size:>8}", style="dim")
        if self.detail:
            text.append(f"  {plain(self.detail)}", style="dim italic")
        return text


def catalog_items() -> list[PickerItem]:
    """Every catalog model in every quantization it is offered in."""
    items = []
    for entry in catalog_entries():
        for quant in entry.quants:
            items.append(
                PickerItem(
                    ref=f"{entry.id}:{quant.name}",
                    section="catalog",
                    name=entry.name,
                    quant=quant.name,
                    size_bytes=quant.file_size_bytes,
                    detail=entry.architecture,
                )
            )
    return items


def looks_like_reference(text: str) -> bool:
    """A path, folder, hf: reference or URL rather than words to filter by."""
    return (
        text.startswith(("hf:", "http://", "https://", "~", ".", "/", "catalog:"))
        or "/" in text
        or "\\" in text
        or text.lower().endswith(".gguf")
    )


SECTION_TITLES = {"recent": "Recent", "local": "On this machine", "catalog": "Catalog"}


class ModelPicker(ModalScreen[str | None]):
    """Returns the chosen model reference, or None when cancelled."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "focus_list", "List", show=False, id="picker.list"),
    ]

    def __init__(
        self,
        *,
        discover: bool = True,
        choice: Choice | None = None,
    ) -> None:
        super().__init__()
        self._discover = discover
        # The quant ladder of a highlighted catalog model, judged on the current machine and
        # settings (the choice on screen).
        self._choice = choice
        self._ladders: dict[str, Text] = {}
        self._recent = [PickerItem(ref, "recent", ref) for ref in load_recent()]
        self._local: list[PickerItem] = []
        self._catalog = catalog_items()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="picker"):
            yield Label("Pick a model", classes="dialog-title")
            yield Input(
                placeholder="type to filter, or a path, hf:ORG/REPO:QUANT, URL", id="filter"
            )
            yield Label("", id="discovery-status", classes="dialog-hint")
            yield OptionList(id="models")
            yield Static("", id="ladder", markup=False)
            yield Label("Enter opens · ↓ to the list · Esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self._refill()
        if self._discover:
            self.query_one("#discovery-status", Label).update("Looking for models on this machine…")
            self._run_discovery()

    @work(thread=True, exclusive=True, group="discovery", exit_on_error=False)
    def _run_discovery(self) -> None:
        def progress(done: int, total: int) -> None:
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(
                    self.query_one("#discovery-status", Label).update,
                    f"Reading model headers… {done}/{total}",
                )

        result = discover_models(progress=progress)
        items = [
            PickerItem(
                ref=m.path,
                section="local",
                name=m.name,
                quant=m.quant,
                size_bytes=m.size_bytes,
                detail=m.source,
            )
            for m in result.models
        ]
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._discovered, items, len(result.problems))

    def _discovered(self, items: list[PickerItem], n_problems: int) -> None:
        self._local = items
        status = f"{len(items)} model(s) found on this machine"
        if n_problems:
            status += f", {n_problems} folder(s) could not be read"
        self.query_one("#discovery-status", Label).update(status)
        self._refill()

    def _refill(self) -> None:
        query = self.query_one("#filter", Input).value.strip()
        words = query.lower().split()
        options: list[Option | None] = []
        open_typed = Option(Text.assemble(("Open ", "bold"), plain(query)), id=OPEN_TYPED)
        if query and looks_like_reference(query):
            options.append(open_typed)
        self._by_id: dict[str, PickerItem] = {}
        for section, items in (
            ("recent", self._recent),
            ("local", self._local),
            ("catalog", self._catalog),
        ):
            shown = [it for it in items if all(w in it.search_text for w in words)]
            if not shown:
                continue
            options.append(
                Option(Text(SECTION_TITLES[section], style="bold underline"), disabled=True)
            )
            for index, item in enumerate(shown):
                ident = f"{section}-{index}"
                self._by_id[ident] = item
                options.append(Option(item.label(), id=ident))
        if query and not looks_like_reference(query):
            options.append(open_typed)
        option_list = self.query_one("#models", OptionList)
        option_list.set_options(options)
        first = next((i for i, o in enumerate(options) if o is not None and not o.disabled), None)
        option_list.highlighted = first

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._refill()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        option_list = self.query_one("#models", OptionList)
        if option_list.highlighted is not None:
            option = option_list.get_option_at_index(option_list.highlighted)
            self._choose(option.id)

    @on(OptionList.OptionSelected, "#models")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, ident: str | None) -> None:
        if ident == OPEN_TYPED:
            self.dismiss(self.query_one("#filter", Input).value.strip())
        elif ident is not None and ident in self._by_id:
            self.dismiss(self._by_id[ident].ref)

    @on(OptionList.OptionHighlighted, "#models")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        item = self._by_id.get(event.option.id or "")
        if item is None or item.section != "catalog" or self._choice is None:
            self.query_one("#ladder", Static).update("")
            return
        family = item.ref.split(":", 1)[0]
        if family in self._ladders:
            self.query_one("#ladder", Static).update(self._ladders[family])
        else:
            self.query_one("#ladder", Static).update(f"Judging every quant of {item.name}…")
            self._judge_quants(family)

    @work(thread=True, exclusive=True, group="ladder", exit_on_error=False)
    def _judge_quants(self, family: str) -> None:
        from vramtui.core.advice.quants import catalog_sources, quant_ladder  # noqa: PLC0415

        found = catalog_sources(family, "auto")
        if found is None or self._choice is None:
            return
        c = self._choice
        ladder = quant_ladder(found[0], "catalog", found[1], c.settings, c.machine)
        text = ladder_text(ladder)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_ladder, family, text)

    def _show_ladder(self, family: str, text: Text) -> None:
        self._ladders[family] = text
        highlighted = self.query_one("#models", OptionList).highlighted_option
        item = self._by_id.get(highlighted.id or "") if highlighted is not None else None
        if item is not None and item.ref.split(":", 1)[0] == family:
            self.query_one("#ladder", Static).update(text)

    def action_focus_list(self) -> None:
        self.query_one("#models", OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


def ladder_text(ladder: QuantLadder) -> Text:
    """Every quant on this machine, one line each; the largest that runs cleanly starred."""
    best = ladder.largest_clean
    text = Text(f"On this machine ({plain(ladder.model)}):\n", style="bold")
    for row in ladder.rows:
        fit = row.fit
        runs = fit is not None and fit.runs
        tps = decode_words(fit.speed) if runs and fit else ""
        ctx = f"clean to {short_tokens(row.max_clean_context)}" if row.max_clean_context else ""
        mark = "★" if row is best else " "
        text.append(f"{mark} {row.quant:<8} {format_file_size(row.file_size_bytes):>9}  ")
        text.append(f"{row.verdict.short:<9}", style=row.verdict.style)
        text.append(f" {tps:>11}  {ctx}\n")
    if best is not None:
        text.append(f"★ best for this machine: {best.quant}", style="bold")
    else:
        text.append("No quant runs cleanly here at these settings.")
    return text
