"""The help screen (? or F1, on every screen): the keys, and what the numbers mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown

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
| `y` | copy a shareable summary to the clipboard |
| `p` | probe a running llama.cpp, LM Studio or Ollama server |
| `Ctrl+P` | command palette: every action, themes |
| `?` or `F1` | this help; `Esc` closes it |
| `Ctrl+Q` | quit |

Keys can be changed by binding id in `config.toml`, e.g. `[app.keymap]` `pick-model = "o"`.

## The memory pools

- **Dedicated**: the carve-out, RAM the BIOS hides from the OS for the GPU (fast for the GPU).
- **Shared / GTT**: system RAM the GPU may also borrow (Windows: half of what the OS sees;
  Linux: the GTT limit; macOS: the GPU working-set limit). It works, but is slower on Windows.
- **System RAM**: total minus carve-out. The OS, apps, and anything the GPU borrows live here.

## The 48 GB + 16 GB pitfall

A very large carve-out leaves too little system RAM: the desktop stutters, and a big model can
fail to load at all because loading passes through system RAM. On the seed's 64 GB laptop,
Qwen3-VL-32B Q6_K loaded at 32 GB carve-out but not at 48 GB. The comparison table marks the
step that runs the model cleanly **and** leaves the OS the most RAM with ★.

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
                yield Markdown(HELP_MARKDOWN)

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
