"""Exact mode in the app: llama.cpp's own dry run on the model on screen (a child process,
seconds; on a sparse copy of the header for a remote or catalog model), beside the instant
estimate, with the difference per column (vramtui.core.estimate.exact). It runs for the
verdict's backend, by the call `check --exact` makes: on llama.cpp's RPC backend as the GPU
stand-in where that build is here, else the CPU build, and says which."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from vramtui.core.errors import VramtuiError
from vramtui.core.estimate.exact import (
    INSTALL_HINT,
    comparison_rows,
    exact_available,
    exact_report,
)
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.present.exact_words import exact_status
from vramtui.present.untrusted import plain


def _mib(n: int) -> str:
    """Whole MiB, floored, as llama.cpp's memory table prints them."""
    return f"{n // 2**20:,} MiB"


class ExactScreen(ModalScreen[None]):
    """llama.cpp's figures beside the instant estimate; Esc closes (and abandons the run)."""

    BINDINGS = [Binding("escape", "close", "Close", id="exact.close")]  # noqa: RUF012

    def __init__(self, spec: ModelSpec, settings: RuntimeSettings, backend: str) -> None:
        """`backend`: the verdict's (`FitResult.backend`), as `check --exact` passes it."""
        super().__init__()
        self._spec = spec
        self._settings = settings
        self._backend = backend

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="exact-dialog"):
            yield Label(Text(f"Exact mode: {plain(self._spec.name)}"), classes="dialog-title")
            yield Static("Running llama.cpp's own dry run…", id="exact-status")
            yield DataTable(id="exact-table", cursor_type="none")
            yield Label("Esc closes", classes="dialog-hint")

    def on_mount(self) -> None:
        table = self.query_one("#exact-table", DataTable)
        for column in ("", "instant", "llama.cpp", "difference"):
            table.add_column(column)
        if not exact_available():
            self._failed(f"exact mode needs llama.cpp's Python package: {INSTALL_HINT}")
            return
        self.run_exact()

    @work(thread=True, exclusive=True, group="exact", exit_on_error=False)
    def run_exact(self) -> None:
        try:
            report = exact_report(self._spec, self._settings, backend=self._backend)
        except VramtuiError as err:
            self.app.call_from_thread(self._failed, str(err))
            return
        self.app.call_from_thread(self._show, report)

    def _show(self, report: dict[str, Any]) -> None:
        table = self.query_one("#exact-table", DataTable)
        for label, ours, theirs, diff, pct in comparison_rows(report):
            pct_text = f" ({pct:+.1f} %)" if pct is not None else ""
            table.add_row(label, _mib(ours), _mib(theirs), f"{diff / 2**20:+,.0f} MiB{pct_text}")
        status = exact_status(report)
        self.query_one("#exact-status", Static).update(Text(plain(status, 600)))

    def _failed(self, message: str) -> None:
        self.query_one("#exact-status", Static).update(Text(plain(message, 400), style="red"))

    def action_close(self) -> None:
        self.dismiss(None)
