"""Sharing text: the terminal's OSC 52 clipboard (the app sends it), plus a way that does not
depend on the terminal passing OSC 52 on (tmux, many SSH setups, some terminals drop it): the
platform's clipboard tool where one is present, else a file whose path is shown.

Tools, in order: wl-copy (Wayland), xclip / xsel (X11), pbcopy (macOS), clip.exe (Windows and
WSL). A tool that needs a display is tried only when its display variable is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vramtui.core.atomic import write_atomic
from vramtui.core.paths import data_dir

SHARE_FILE = "vramtui-share.txt"
TOOL_TIMEOUT_S = 3.0

# (command, environment variable that must be set, or "" for none)
CLIPBOARD_TOOLS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("wl-copy",), "WAYLAND_DISPLAY"),
    (("xclip", "-selection", "clipboard"), "DISPLAY"),
    (("xsel", "--clipboard", "--input"), "DISPLAY"),
    (("pbcopy",), ""),
    (("clip.exe",), ""),
)


@dataclass(frozen=True)
class Shared:
    """Where the text went: a tool's name, or the file written (and why no tool worked)."""

    tool: str | None = None
    path: Path | None = None
    problem: str = ""

    def message(self) -> str:
        if self.tool is not None:
            return f"Copied a shareable summary to the clipboard ({self.tool})."
        where = f"Saved the summary to {self.path}" if self.path else "Could not save the summary"
        return f"{where} ({self.problem}); the terminal was also asked to copy it (OSC 52)."


def available_tools(
    env: Mapping[str, str] | None = None, which: Callable[[str], str | None] = shutil.which
) -> list[tuple[str, ...]]:
    """The clipboard commands usable here, best first."""
    env = os.environ if env is None else env
    return [
        (found, *command[1:])
        for command, needs in CLIPBOARD_TOOLS
        if (not needs or env.get(needs)) and (found := which(command[0])) is not None
    ]


def _run_tool(command: tuple[str, ...], text: str) -> str:
    """ "" when the tool took the text, else why not."""
    try:
        done = subprocess.run(
            command,
            input=text.encode("utf-8"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as err:
        return f"{Path(command[0]).name}: {err}"
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"{Path(command[0]).name} failed" + (f": {detail[0]}" if detail else "")
    return ""


def share(text: str, tools: list[tuple[str, ...]] | None = None) -> Shared:
    """Put `text` on the clipboard with the first tool that works; otherwise write it to
    data_dir()/vramtui-share.txt (mode 0644). Blocking: call it from a worker thread."""
    problems = []
    for command in available_tools() if tools is None else tools:
        problem = _run_tool(command, text)
        if not problem:
            return Shared(tool=Path(command[0]).name)
        problems.append(problem)
    reason = "; ".join(problems) or "no clipboard tool found"
    if sys.platform.startswith("linux") and not problems:
        reason += " (install wl-clipboard or xclip)"
    path = (data_dir() / SHARE_FILE).resolve()
    try:
        write_atomic(path, text)
        path.chmod(0o644)
    except OSError as err:
        return Shared(problem=f"{reason}; {err}")
    return Shared(path=path, problem=reason)
