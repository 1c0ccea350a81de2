"""The help screen (? or F1, on every screen): the keys, and what the numbers mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown, Static

from vramtui.app.problems import file_problems

HELP_MARKDOWN = """\
## What this answers

*Which carve-out should I set in the BIOS, and will this model run at this context?*
Change anything on the left; the verdict, the bars and the speed on the right follow at once.

## Keys

| Key | Does |
|---|---|
| `m` | pick a model: found on this machine, the catalog, recent, or a path / `hf:` / URL |
| `←` `→` (or `[` `]`) | step the carve-out through the BIOS's own steps |
| `-` `+` | smaller / larger context (4K ... the model's maximum) |
| `Tab` / `Shift+Tab` | move between controls; `Enter` opens a list |
| `s` / `l` / `e` | save the scenario as a preset / load one / export it to a file |
| `y` | share: a summary on the clipboard (OSC 52 and the platform's tool, else a file) |
| `p` | probe a running llama.cpp, LM Studio or Ollama server |
| `Ctrl+R` | reset to the defaults (the last session is otherwise restored at start) |
| `Ctrl+P` | command palette: every action, themes |
| `?` or `F1` | this help; `Esc` closes it |
| `q` or `Ctrl+Q` | quit (in a text field `q` types; `Esc` leaves the field) |

The footer shows the keys that act where the focus is: in a text field `+`, `-` and the
letters type, so their actions are hidden until you leave it.

Keys can be changed by binding id in `config.toml`, e.g. `[app.keymap]` `pick-model = "o"`.

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


class HelpScreen(ModalScreen[None]):
    """Keys and concepts; Esc, q, ? or F1 close it."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape,q,question_mark,f1", "dismiss_help", "Close", id="help.close"),
    ]

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
                yield Markdown(HELP_MARKDOWN)

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
