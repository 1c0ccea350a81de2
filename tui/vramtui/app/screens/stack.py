"""The stack: more models loaded at the same time as the main one (a chat model beside an
embedding, a draft or an autocomplete model), each with its own runtime settings. The main
screen's fit is then the set's (vramtui.core.fit.set): every model's share in the bars, the
table and the chart.

Keys on this screen: `a` adds a model ("MODEL [its own flags]", as `vramtui check --also`
takes it), `d` removes the highlighted one, `u` / `j` move it up / down (the order models
start in: the last ones spill first), Esc goes back with the stack as it is.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from vramtui.app.screens.dialogs import AskText
from vramtui.core.errors import VramtuiError
from vramtui.core.fit.set import MAX_SET_MODELS, SetMember
from vramtui.core.scenario.also import check_count, open_members, parse_also
from vramtui.core.sizes import format_bytes
from vramtui.present import untrusted

STACK_HINT = "a add, d remove, u/j move up/down, Esc back"


def member_label(m: SetMember) -> str:
    """One row of the stack: the reference, its context and its weights."""
    s = m.settings
    return (
        f"{m.model_ref}  ctx {s.ctx_size}  -np {s.parallel}  {format_bytes(m.spec.weights_bytes)}"
    )


class StackScreen(ModalScreen[tuple[SetMember, ...]]):
    """The other models of the set; dismissed with the stack as it is when closed."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "close", "Back", id="stack.close"),
        Binding("a", "add", "Add", id="stack.add"),
        Binding("d,delete", "remove", "Remove", id="stack.remove"),
        Binding("u", "move(-1)", "Up", id="stack.up"),
        Binding("j", "move(1)", "Down", id="stack.down"),
    ]

    def __init__(self, main_ref: str, stack: tuple[SetMember, ...]) -> None:
        super().__init__()
        self._main_ref = main_ref
        self.stack = stack

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            title = f"Loaded beside {self._main_ref} (at most {MAX_SET_MODELS} in all)"
            yield Label(untrusted.text(title, limit=400), classes="dialog-title")
            yield OptionList(id="stack-list")
            yield Label(STACK_HINT, classes="dialog-hint")

    def on_mount(self) -> None:
        self._refresh_list()

    def _refresh_list(self, highlight: int | None = None) -> None:
        listing = self.query_one("#stack-list", OptionList)
        listing.clear_options()
        if not self.stack:
            listing.add_option(Option("no other model: press a to add one", disabled=True))
            return
        listing.add_options(
            [Option(untrusted.text(member_label(m)), id=str(i)) for i, m in enumerate(self.stack)]
        )
        listing.highlighted = min(highlight or 0, len(self.stack) - 1)

    def _current(self) -> int | None:
        index = self.query_one("#stack-list", OptionList).highlighted
        return index if self.stack and index is not None and index < len(self.stack) else None

    @work(exclusive=True, group="stack-add")
    async def action_add(self) -> None:
        text = await self.app.push_screen_wait(
            AskText(
                "Add a model loaded at the same time: MODEL [its own flags]",
                placeholder="llama-3.1-8b:Q4_K_M -c 4K",
            )
        )
        if not text:
            return
        try:
            check_count(len(self.stack) + 1, where="stack")
            parse_also(text)  # a bad flag is said at once, before any model is opened
        except VramtuiError as err:
            self.notify(str(err), title="Not added", severity="error", markup=False)
            return
        self._open(text)

    @work(thread=True, exclusive=True, group="stack-open", exit_on_error=False)
    def _open(self, text: str) -> None:
        try:
            opened = open_members((parse_also(text),))
        except VramtuiError as err:
            self.app.call_from_thread(
                self.notify, str(err), title="Not added", severity="error", markup=False
            )
            return
        self.app.call_from_thread(self._added, opened[0])

    def _added(self, member: SetMember) -> None:
        self.stack = (*self.stack, member)
        self._refresh_list(len(self.stack) - 1)

    def action_remove(self) -> None:
        i = self._current()
        if i is None:
            return
        self.stack = self.stack[:i] + self.stack[i + 1 :]
        self._refresh_list(i)

    def action_move(self, delta: int) -> None:
        i = self._current()
        if i is None or not 0 <= i + delta < len(self.stack):
            return
        order = list(self.stack)
        order[i], order[i + delta] = order[i + delta], order[i]
        self.stack = tuple(order)
        self._refresh_list(i + delta)

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        self.dismiss(self.stack)
