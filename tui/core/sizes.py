"""Sizes as people type them and as they read them.

As in BIOS menus and RAM sizes, M and G are binary: `512M` = 512 MiB, `32G` = `32GiB` = 32 GiB.
"""

from __future__ import annotations

import re

from tui.core.errors import SettingsError

KiB = 1024
MiB = 1024**2
GiB = 1024**3

_UNITS = {"": 1, "b": 1, "k": KiB, "m": MiB, "g": GiB, "t": 1024**4}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str, what: str = "size") -> int:
    """Parse `512M`, `32G`, `32GiB`, `0.5G`, `1024` (bytes) into bytes; SettingsError if not."""
    match = _SIZE_RE.match(text)
    if not match:
        raise SettingsError(f"{what}: {text!r} is not a size like 512M, 32G or 0.5GiB")
    number, unit = match.groups()
    return round(float(number) * _UNITS[unit.lower()])


def format_bytes(n: int | float, precision: int = 1) -> str:
    """Human figure in binary units, as Task Manager and llama.cpp print them (GiB shown as GB)."""
    value = float(n)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit, scale in (("TB", 1024**4), ("GB", GiB), ("MB", MiB), ("KB", KiB)):
        if value >= scale:
            return f"{sign}{value / scale:.{precision}f} {unit}"
    return f"{sign}{value:.0f} B"


def format_gib(n: int | float, precision: int = 1) -> str:
    return f"{n / GiB:.{precision}f} GB"


def format_tokens(n: int) -> str:
    """4096 -> "4K", 131072 -> "128K", 40960 -> "40K", 1000 -> "1000"."""
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}K"
    return str(n)


def short_tokens(n: int) -> str:
    """For tables: 162560 -> "158K" (rounded down: never more than fits), 1000 -> "1000"."""
    if n >= 10240:
        return f"{n // 1024}K"
    return format_tokens(n)
