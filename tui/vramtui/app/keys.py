"""Every command of the app, declared once: its binding id, keys, footer word, palette entry,
help line and action. The main screen's BINDINGS, the app's own bindings, the command palette
and the help screen's key table are all built from `COMMANDS`, so they cannot drift apart.

The binding id is what a user rebinds in config.toml (`[app.keymap]` `pick-model = "o"`); the
help screen shows the keys after that keymap, so it lists the key the user really has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import format_key


@dataclass(frozen=True)
class Command:
    """One command: a binding on the main screen (and, with `app_action`, on every screen)."""

    id: str  # the binding id: the name `[app.keymap]` rebinds
    keys: str  # Textual's key list, e.g. "right,]"
    action: str  # the main screen's action (with its arguments)
    description: str  # the footer's word
    help: str  # what it does: the help screen's line, the palette's help and the tooltip
    title: str = ""  # "category: action" in the command palette; "" keeps it out
    key_display: str | None = None
    show: bool = True  # in the footer
    priority: bool = False
    typed: bool = False  # its keys type in a text field: hidden and idle while one has focus
    app_action: str = ""  # also bound on every screen (show=False) to this app action

    def binding(self) -> Binding:
        """The main screen's binding."""
        return Binding(
            self.keys,
            self.action,
            self.description,
            show=self.show,
            key_display=self.key_display,
            priority=self.priority,
            tooltip=self.help,
            id=self.id,
        )

    def app_binding(self) -> Binding:
        """The app-wide binding (same id, so one keymap entry moves both)."""
        return Binding(
            self.keys,
            self.app_action,
            self.description,
            show=False,
            priority=self.priority,
            id=self.id,
        )


COMMANDS: tuple[Command, ...] = (
    Command(
        "help",
        "question_mark,f1",
        "show_help",
        "Help",
        "This help: the keys, and what the numbers mean",
        title="help: keys and concepts",
        key_display="?",
        typed=True,
        app_action="help",
    ),
    Command(
        "pick-model",
        "m",
        "pick_model",
        "Model",
        "Pick a model: found on this machine, the catalog, recent, or a path / hf: / URL",
        title="model: pick a model",
        typed=True,
    ),
    Command(
        "carve-out-down",
        "left,[",
        "carve_out(-1)",
        "VRAM-",
        "Less VRAM: the next BIOS carve-out step down",
        title="carve-out: less VRAM",
        key_display="←",
        show=False,
        typed=True,
    ),
    Command(
        "carve-out-up",
        "right,]",
        "carve_out(1)",
        "Carve-out",
        "More VRAM: the next BIOS carve-out step up",
        title="carve-out: more VRAM",
        key_display="←→",
        typed=True,
    ),
    Command(
        "context-down",
        "minus",
        "context(-1)",
        "Ctx-",
        "Smaller context: the next quick step down (4K at least)",
        title="context: smaller",
        show=False,
        typed=True,
    ),
    Command(
        "context-up",
        "plus,equals_sign",
        "context(1)",
        "Context",
        "Larger context: the next quick step up (the model's maximum at most)",
        title="context: larger",
        key_display="-+",
        typed=True,
    ),
    Command(
        "stack",
        "a",
        "stack",
        "Stack",
        "Models loaded at the same time: add, remove, reorder (each model's share in the bars)",
        title="model: models loaded at the same time",
        show=False,  # in the help and the palette; the footer keeps its width for the rest
        typed=True,
    ),
    Command(
        "save-preset",
        "s",
        "save_preset",
        "Save",
        "Save model, machine and settings as a preset",
        title="preset: save scenario",
        typed=True,
    ),
    Command(
        "load-preset",
        "l",
        "load_preset",
        "Load",
        "Load a saved scenario preset",
        title="preset: load scenario",
        typed=True,
    ),
    Command(
        "export-preset",
        "e",
        "export_preset",
        "Export",
        "Write this scenario to a TOML file to share",
        title="preset: export to file",
        show=False,
        typed=True,
    ),
    Command(
        "copy-share",
        "y",
        "copy_share",
        "Share",
        "Copy the verdict and a `vramtui check` line (OSC 52 and the platform's tool, else a file)",
        title="share: copy summary",
        show=False,
        typed=True,
    ),
    Command(
        "probe",
        "p",
        "probe",
        "Probe",
        "Measure a running llama.cpp, LM Studio or Ollama server beside the prediction",
        title="probe: measure a running server",
        typed=True,
    ),
    Command(
        "exact",
        "x",
        "exact",
        "Exact",
        "Run llama.cpp's own dry run beside the estimate",
        title="exact: llama.cpp's own figures",
        show=False,
        typed=True,
    ),
    Command(
        "cluster",
        "c",
        "cluster",
        "Cluster",
        "Split the model over several machines (llama.cpp's RPC backend)",
        title="cluster: split over machines",
        show=False,
        typed=True,
    ),
    Command(
        "calibration",
        "k",
        "toggle_calibration",
        "Calibration",
        "Use earlier probes of this model on this machine, or the raw prediction",
        title="calibration: on / off",
        show=False,
        typed=True,
    ),
    Command(
        "reset-session",
        "ctrl+r",
        "reset",
        "Reset",
        "Back to the defaults: the bundled model on this machine (else the last session returns)",
        title="session: reset to defaults",
        show=False,
    ),
    Command("quit-q", "q", "quit", "Quit", "Quit (in a text field q types)", typed=True),
    # Shown only while a text field has focus, where q types; the app-wide binding quits from
    # anywhere. Priority, so that the footer shows this one instead of the app's hidden one.
    Command(
        "quit",
        "ctrl+q",
        "typing_quit",
        "Quit",
        "Quit, from anywhere (a text field too)",
        key_display="^q",
        priority=True,
        app_action="quit",
    ),
    Command(
        "leave-field",
        "escape",
        "leave_field",
        "Leave field",
        "Leave a text field, keeping what was typed, and give the keys back to the screen",
        key_display="esc",
    ),
)

MAIN_BINDINGS: list[Binding] = [command.binding() for command in COMMANDS]
APP_BINDINGS: list[Binding] = [c.app_binding() for c in COMMANDS if c.app_action]
TYPED_KEY_ACTIONS = frozenset(c.action.split("(")[0] for c in COMMANDS if c.typed)
PALETTE: tuple[Command, ...] = tuple(c for c in COMMANDS if c.title)


def key_label(key: str) -> str:
    """One key as the help screen writes it: `←`, `[`, `F1`, `Esc`, `Ctrl+R`."""
    *modifiers, base = key.strip().split("+")
    shown = format_key(base)
    if len(shown) > 1 and shown.isalnum():
        shown = shown.upper() if shown[0] == "f" and shown[1:].isdigit() else shown.capitalize()
    elif modifiers:
        shown = shown.upper()
    return "+".join([*(m.capitalize() for m in modifiers), shown])


def keys_of(command: Command, keymap: Mapping[str, str]) -> list[str]:
    """The keys `command` answers to after the user's keymap, as the help screen writes them."""
    keys = keymap.get(command.id) or command.keys
    return [key_label(key) for key in keys.split(",") if key.strip()]
