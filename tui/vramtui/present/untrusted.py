"""Text from files and servers, made safe to show: the one way the CLI and the app print it.

Model and architecture names, paths, server model ids, preset names and descriptions, machine
names and ids come from files and servers nobody here wrote. They are shown as text: never
interpreted as Rich or Textual markup (callers wrap them in `rich.text.Text`, which is never
parsed, or pass `markup=False`), never as terminal escapes (control characters, C1 controls
such as U+009B included, are made visible), on one line (newlines collapsed, so a name cannot
forge a verdict line), and shortened.

- `plain(value)`: one name or phrase, one line, at most MAX_SHOWN characters.
- `text(value)`: the same as a Rich `Text` (for tables, titles, widgets).
- `command(line)`: a generated shell command: complete (never shortened), every control
  character visible, newlines included (the command quotes paths with shlex).
- `lines(block)`: a block of text the CLI writes as it is (its lines and tabs kept), with
  every other control character visible: what every plain CLI print goes through last.
"""

from __future__ import annotations

import unicodedata

from rich.text import Text

MAX_SHOWN = 200  # characters of one untrusted string shown inline
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def _visible(ch: str) -> str:
    """A control or format character as a visible escape: ESC -> "\\x1b", BEL -> "\\x07"."""
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _escaped(text: str, keep: str = "", blank: str = "") -> str:
    """`text` with every control or format character visible; those in `keep` kept, those in
    `blank` turned into a space."""
    out: list[str] = []
    for ch in text:
        if ch in keep:
            out.append(ch)
        elif ch in blank:
            out.append(" ")
        elif ch.isprintable() or unicodedata.category(ch) not in _HIDDEN:
            out.append(ch)
        else:
            out.append(_visible(ch))
    return "".join(out)


def plain(value: object, limit: int = MAX_SHOWN) -> str:
    """One line of harmless characters, at most `limit` long (an ellipsis marks the cut)."""
    text = str(value)
    if len(text) > 4 * limit:  # bound the work by what can be shown, not by the input
        text = text[: 4 * limit]
    line = _escaped(text, blank="\r\n\t\v\f")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def text(value: object, style: str = "", limit: int = MAX_SHOWN) -> Text:
    """`plain(value)` as a Rich Text: shown literally, whatever brackets it holds."""
    return Text(plain(value, limit), style=style)


def command(line: object) -> str:
    """A generated command line, complete, with every control character visible (a path's
    newline too: the command stays one line that shows what the file is called)."""
    return _escaped(str(line))


def lines(block: object, limit: int | None = None) -> str:
    """A block of output as it is, its newlines and tabs kept, every other control
    character visible; at most `limit` characters when given, cut in the middle (an ellipsis
    marks the cut) so that a message keeps its start and the explanation at its end."""
    raw = str(block)
    if limit is not None and len(raw) > 4 * limit:
        raw = raw[: 2 * limit] + raw[-2 * limit :]
    shown = _escaped(raw, keep="\n\t")
    if limit is None or len(shown) <= limit:
        return shown
    head = (limit - 1) // 2
    return shown[:head] + "…" + shown[len(shown) - (limit - 1 - head) :]
