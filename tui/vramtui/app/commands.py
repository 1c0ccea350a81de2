"""Command palette entries for every action, titled "category: action" with a help line."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from vramtui.app.screens.main import MainScreen

# (title, action on the main screen, help)
MAIN_COMMANDS: tuple[tuple[str, str, str], ...] = (
    (
        "model: pick a model",
        "pick_model",
        "Local models, the catalog, recent, or a path / hf: / URL",
    ),
    ("carve-out: more VRAM", "carve_out(1)", "Next BIOS carve-out step up"),
    ("carve-out: less VRAM", "carve_out(-1)", "Next BIOS carve-out step down"),
    ("context: larger", "context(1)", "Next context quick step up"),
    ("context: smaller", "context(-1)", "Next context quick step down"),
    ("preset: save scenario", "save_preset", "Save model, machine and settings as a preset"),
    ("preset: load scenario", "load_preset", "Load a saved scenario preset"),
    ("preset: export to file", "export_preset", "Write this scenario to a TOML file"),
    ("share: copy summary", "copy_share", "Copy the verdict and a `vramtui check` line"),
    (
        "session: reset to defaults",
        "reset",
        "The bundled model on this machine, every setting at its default",
    ),
    ("probe: measure a running server", "probe", "Time a llama.cpp, LM Studio or Ollama server"),
    ("exact: llama.cpp's own figures", "exact", "Run llama.cpp's dry run beside the estimate"),
    ("cluster: split over machines", "cluster", "The model over several machines (RPC)"),
    ("calibration: on / off", "toggle_calibration", "Use earlier probes of this model or not"),
)
APP_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("help: keys and concepts", "help", "Open the help screen"),
)


class VramtuiCommands(Provider):
    """The app's own actions; main-screen ones only while the main screen is showing."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        out: list[tuple[str, Callable[[], object], str]] = []
        if isinstance(self.screen, MainScreen):
            out += [(t, partial(self.screen.run_action, a), h) for t, a, h in MAIN_COMMANDS]
        out += [(t, partial(self.app.run_action, a), h) for t, a, h in APP_COMMANDS]
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
