"""The help screen (? or F1, on every screen): the keys, and what the numbers mean.

The key table is built from the one declaration of every command (`keys.COMMANDS`), with the
keys the user's keymap gives them, so it lists every binding and the key that really acts.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown, Static

from vramtui.app.keys import COMMANDS, keys_of
from vramtui.app.problems import file_problems

INTRO_MARKDOWN = """\
## What this answers

*Which carve-out should I set in the BIOS, and will this model run at this context?*
Change anything on the left; the verdict, the bars and the speed on the right follow at once.

"""

# Keys that are Textual's own (focus, the palette), listed after the app's commands.
OTHER_KEYS = (
    ("`Tab` / `Shift+Tab`", "Move between controls; `Enter` opens a list"),
    ("`Ctrl+P`", "Command palette: every action, themes"),
)

KEYS_NOTE = """
The footer shows the keys that act where the focus is: in a text field `+`, `-` and the
letters type, so their actions are hidden until you leave it.

Keys can be changed by binding id (the last column) in `config.toml`, e.g. `[app.keymap]`
`pick-model = "o"`; this table shows the keys as they are now.

"""

CONCEPTS_MARKDOWN = """\
## The memory pools

- **Dedicated**: the carve-out, RAM the BIOS hides from the OS for the GPU (fast for the GPU).
- **Shared / GTT**: system RAM the GPU may also borrow (Windows: half of what the OS sees;
  Linux: the GTT limit; macOS: the GPU working-set limit). It works, but is slower on Windows.
- **System RAM**: total minus carve-out. The OS, apps, and anything the GPU borrows live here.

## The 48 GB + 16 GB pitfall

A very large carve-out leaves too little system RAM: the desktop stutters, and a big model can
fail to load at all because loading passes through system RAM. On a 64 GB laptop (2026-02-02
article), Qwen3-VL-32B Q6_K loaded at 32 GB carve-out but not at 48 GB. The comparison table marks
the step that runs the model cleanly **and** leaves the OS the most RAM with ★. Its columns: **Clean
ctx** is the largest context that runs with no warning, **Loads ctx** the largest that loads at all
(with warnings).

## Memory against context

The chart shows the GPU memory the model needs and the RAM left for the OS from 4K to the
model's maximum context, at the current carve-out. The dashed lines are the BIOS carve-out
steps (the solid one is the current step; on a Mac or a discrete GPU, the GPU's limit), the
vertical line is the current context, and the strip under the axis is the verdict at each
context: green fits, yellow fits with warnings, red will not fit.

## Speed

Decode tokens/s comes from memory bandwidth and the bytes read per token (active weights and
KV cache), with a penalty for spilling into shared memory. About 10 tok/s is the bar for daily
use without "thinking" mode.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def keys_markdown(keymap: Mapping[str, str]) -> str:
    """The key table: every command's keys (after `keymap`), what it does, its binding id."""
    rows = ["## Keys", "", "| Key | Does | Id |", "|---|---|---|"]
    for command in COMMANDS:
        keys = " ".join(f"`{key}`" for key in keys_of(command, keymap))
        rows.append(f"| {_cell(keys)} | {_cell(command.help)} | `{command.id}` |")
    rows += [f"| {keys} | {does} | |" for keys, does in OTHER_KEYS]
    return "\n".join(rows) + "\n" + KEYS_NOTE


def help_markdown(keymap: Mapping[str, str]) -> str:
    return INTRO_MARKDOWN + keys_markdown(keymap) + CONCEPTS_MARKDOWN


class HelpScreen(ModalScreen[None]):
    """Keys and concepts; Esc, q, ? or F1 close it."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape,q,question_mark,f1", "dismiss_help", "Close", id="help.close"),
    ]

    def __init__(self, keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._keymap = dict(keymap or {})

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Label("vramtui help  ·  Esc closes", classes="dialog-title")
            with VerticalScroll(id="help-scroll"):
                problems = file_problems()
                if problems:
                    yield Label("Problems with your files", classes="dialog-title")
                    # Plain text: file names and messages are never read as markup.
                    yield Static(
                        "\n".join(f"• {p}" for p in problems), id="help-problems", markup=False
                    )
                yield Markdown(help_markdown(self._keymap), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
