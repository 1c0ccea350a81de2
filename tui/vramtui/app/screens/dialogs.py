"""Small typed modals: ask for a name or a path, pick one item from a list. Titles and items
quote names and paths from files, so they are shown as text (never markup)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from vramtui.present import untrusted


class AskText(ModalScreen[str | None]):
    """One line of text (a preset name, a file path); Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]  # noqa: RUF012

    def __init__(self, title: str, *, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(untrusted.text(self._title, limit=400), classes="dialog-title")
            yield Input(value=self._value, placeholder=self._placeholder, id="dialog-input")
            yield Label("Enter to confirm, Esc to cancel", classes="dialog-hint")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(text or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickOne(ModalScreen[str | None]):
    """Choose one of `items` (id, label); Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]  # noqa: RUF012

    def __init__(
        self, title: str, items: list[tuple[str, str]], *, empty: str = "nothing here"
    ) -> None:
        super().__init__()
        self._title = title
        self._items = items
        self._empty = empty

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(untrusted.text(self._title, limit=400), classes="dialog-title")
            if self._items:
                yield OptionList(
                    *(Option(untrusted.text(label), id=ident) for ident, label in self._items)
                )
            else:
                yield Label(self._empty, classes="dialog-hint")
            yield Label("Enter to choose, Esc to cancel", classes="dialog-hint")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
