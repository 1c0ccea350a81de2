"""The vramtui Textual app: one main screen, help on every screen, themes remembered."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import BindingType
from textual.notifications import SeverityLevel

from vramtui.app.commands import VramtuiCommands
from vramtui.app.config import save_theme, saved_keymap, saved_theme
from vramtui.app.keys import APP_BINDINGS
from vramtui.app.screens.help import HelpScreen
from vramtui.app.screens.main import MainScreen
from vramtui.app.state import Choice
from vramtui.present import untrusted

NOTE_MAX = 600  # characters of one notification: a pasted 100 KB name does not fill the screen


class VramtuiApp(App[None]):
    """Will this model run on this machine, and which BIOS carve-out should I pick?"""

    TITLE = "vramtui"
    CSS_PATH = Path(__file__).parent / "vramtui.tcss"
    COMMANDS: ClassVar = App.COMMANDS | {VramtuiCommands}
    BINDINGS: ClassVar[list[BindingType]] = list(APP_BINDINGS)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification (screens and widgets notify through the app) is shown as text:
        messages quote names, paths and server words, so none is read as markup or escapes,
        and a long one is cut."""
        super().notify(
            untrusted.lines(message, NOTE_MAX),
            title=untrusted.plain(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def __init__(
        self, choice: Choice, *, pending_ref: str | None = None, discover: bool = True
    ) -> None:
        super().__init__()
        self._choice = choice
        self._pending_ref = pending_ref
        self.discover = discover
        """Whether the model picker looks for models on this machine (off in tests)."""
        self._theme_ready = False
        self.user_keymap: dict[str, str] = {}
        """The keys the user rebound by binding id (`[app.keymap]` in config.toml)."""

    def on_mount(self) -> None:
        theme = saved_theme()
        if theme and theme in self.available_themes:
            self.theme = theme
        self._theme_ready = True
        self.user_keymap = saved_keymap()
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        self.push_screen(MainScreen(self._choice, pending_ref=self._pending_ref))

    def watch_theme(self, theme: str) -> None:
        if self._theme_ready:
            try:
                save_theme(theme)
            except OSError as err:
                self.notify(f"Could not remember the theme: {err}", severity="warning")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.user_keymap))
