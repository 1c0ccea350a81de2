"""The model in use, at the top of the controls: its name, architecture and size."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Static

from vramtui.app.state import Choice
from vramtui.core.estimate.memory import projector_size
from vramtui.core.sizes import format_bytes, format_gib
from vramtui.present.untrusted import plain


class ModelCard(Static, can_focus=True):
    """The model in use; Enter or a click opens the picker."""

    BINDINGS = [Binding("enter", "screen.pick_model", "Pick model", show=False)]  # noqa: RUF012

    choice: reactive[Choice | None] = reactive(None)
    loading_ref: reactive[str] = reactive("")
    loading_bytes: reactive[int] = reactive(0)  # header bytes read so far (remote models)

    def render(self) -> Text:
        if self.loading_ref:
            text = Text(f"Reading {self.loading_ref}…", style="italic")
            if self.loading_bytes:
                text.append(f"\n{format_bytes(self.loading_bytes)} of header read", style="dim")
            return text
        choice = self.choice
        if choice is None or choice.spec is None:
            return Text("no model", style="italic")
        spec = choice.spec
        text = Text(plain(spec.name), style="bold")  # names from files: text, one line
        arch = plain(spec.architecture or "?")
        text.append(f"\n{arch} · {format_gib(spec.weights_bytes)} weights")
        if spec.mmproj is not None:
            # Loaded, with its compute: the figure check and the pool bars call "projector".
            text.append(f" + {format_bytes(projector_size(spec.mmproj).loaded_bytes)} projector")
        if spec.synthesized:
            text.append("\nfrom the catalog (no file needed)", style="dim italic")
        return text

    async def on_click(self) -> None:
        await self.run_action("screen.pick_model")
