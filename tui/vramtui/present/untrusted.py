"""Text from files and servers, made safe to show.

Model and architecture names, paths, server model ids, preset names and descriptions come from
files and servers nobody here wrote. They are shown as text: never interpreted as Rich or
Textual markup (callers wrap them in `rich.text.Text`, which is never parsed), never as terminal
escapes (control characters are made visible), on one line (newlines collapsed, so a name
cannot forge a verdict line), and shortened.
"""

from __future__ import annotations

import unicodedata

from rich.text import Text

MAX_SHOWN = 120  # characters of one untrusted string shown inline


def _visible(ch: str) -> str:
    """A control or format character as a visible escape: ESC -> "\\x1b", BEL -> "\\x07"."""
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def plain(value: object, limit: int = MAX_SHOWN) -> str:
    """One line of harmless characters, at most `limit` long (an ellipsis marks the cut)."""
    text = str(value)
    if len(text) > 4 * limit:  # bound the work by what can be shown, not by the input
        text = text[: 4 * limit]
    out: list[str] = []
    for ch in text:
        if ch in "\r\n\t\v\f":
            out.append(" ")
        elif unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}:
            out.append(_visible(ch))
        else:
            out.append(ch)
    line = "".join(out)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def text(value: object, style: str = "", limit: int = MAX_SHOWN) -> Text:
    """`plain(value)` as a Rich Text: shown literally, whatever brackets it holds."""
    return Text(plain(value, limit), style=style)
