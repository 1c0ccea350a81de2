"""Command palette entries, built from the one declaration of every command (`keys.COMMANDS`):
titled "category: action", with the same help line the help screen shows."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from vramtui.app.keys import PALETTE
from vramtui.app.screens.main import MainScreen


class VramtuiCommands(Provider):
    """The app's own actions; main-screen ones only while the main screen is showing."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        on_main = isinstance(self.screen, MainScreen)
        out: list[tuple[str, Callable[[], object], str]] = []
        for command in PALETTE:
            run: Callable[[], object]
            if command.app_action:
                run = partial(self.app.run_action, command.app_action)
            elif on_main:
                run = partial(self.screen.run_action, command.action)
            else:
                continue
            out.append((command.title, run, command.help))
        return out

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
