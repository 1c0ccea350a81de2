"""Sizes and token counts as people type them and as they read them.

One unit convention, everywhere (README "Units"):
- Memory is shown in binary units labelled as such: KiB, MiB, GiB, TiB ("512 MiB", "18.3 GiB").
  A BIOS menu's "32 GB" step is 32 GiB; Windows Task Manager's "GB" are GiB too.
- File sizes are also shown as Hugging Face and LM Studio show them, in decimal GB
  (`format_file_size`: "18.13 GB").
- Typed sizes need a unit and are binary, as in BIOS menus: `512M` = 512 MiB, `32G` = `32GiB`.
"""

from __future__ import annotations

import re

from vramtui.core.errors import SettingsError

KiB = 1024
MiB = 1024**2
GiB = 1024**3
TiB = 1024**4
MAX_SIZE = 1024 * TiB  # no machine or model this tool answers for comes near 1 PiB
MAX_TOKENS = 16 * 1024 * 1024  # llama.cpp contexts top out far below 16M tokens

_UNITS = {"b": 1, "k": KiB, "m": MiB, "g": GiB, "t": TiB}
# At most 15 integer and 6 fraction digits: a 400-digit number is refused, not overflowed.
_SIZE_RE = re.compile(r"^\s*(\d{1,15}(?:\.\d{1,6})?)\s*(?:([kmgt])(?:i?b)?|(b))\s*$", re.IGNORECASE)
_BARE_RE = re.compile(r"^\s*\d{1,15}(?:\.\d{1,6})?\s*$")
_TOKENS_RE = re.compile(r"^(\d{1,9}(?:\.\d{1,6})?)(k?)$")


def ascii_int(text: str, low: int = 0, high: int = 2**63 - 1) -> int | None:
    """`text` as a plain decimal integer in [low, high], else None. Only ASCII digits count:
    str.isdigit() is true of "²" (which int() refuses) and int() takes "٣", " 3" and "3_0"."""
    if not 0 < len(text) <= len(str(high)) or not all("0" <= c <= "9" for c in text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def round_up(n: int, multiple: int) -> int:
    """`n` rounded up to a multiple of `multiple`: llama.cpp's GGML_PAD, GGUF's tensor alignment."""
    return -(-n // multiple) * multiple


def parse_size(text: str, what: str = "size", *, minimum: int = 0) -> int:
    """`512M`, `32G`, `32GiB`, `0.5G`, `123457B` -> bytes. A number without a unit is refused,
    as is anything else that is not a size, or a size below `minimum` (memory settings take
    at least 1 MiB: "32B" is a typo, not a carve-out); SettingsError names `what`."""
    match = _SIZE_RE.match(text)
    if match is None:
        if _BARE_RE.match(text):
            number = text.strip()
            raise SettingsError(f"{what}: {number} what? say {number}M or {number}G")
        raise SettingsError(f"{what}: {text!r} is not a size like 512M, 32G or 0.5GiB")
    number, unit, byte_unit = match.groups()
    value = round(float(number) * _UNITS[(unit or byte_unit).lower()])
    if value > MAX_SIZE:
        raise SettingsError(f"{what}: {text!r} is more than 1 PiB")
    if value < minimum:
        raise SettingsError(
            f"{what}: {text.strip()} is less than {format_bytes(minimum)}: say 512M or 32G"
        )
    return value


def parse_tokens(text: str, what: str = "context") -> int:
    """A context size as the app and the CLI accept it: "16K", "16k", "16384", "20_000",
    "max" or "0" (the model's training context) -> tokens; SettingsError otherwise."""
    raw = text.strip().lower().replace("_", "").replace(",", "")
    if raw == "max":
        return 0
    match = _TOKENS_RE.match(raw)
    if match is None:
        raise SettingsError(f"{what}: {text!r} is not a context size: try 16K, 32768 or max")
    value = float(match.group(1)) * (1024 if match.group(2) else 1)
    if value > MAX_TOKENS or value != int(value):
        raise SettingsError(f"{what}: {text!r} is out of range (0 to 16M whole tokens)")
    return int(value)


def size_arg(n_bytes: int) -> str:
    """The shortest exact size as typed: "32G", "512M", "64K", else bytes ("123457B")."""
    for unit, scale in (("T", TiB), ("G", GiB), ("M", MiB), ("K", KiB)):
        if n_bytes and n_bytes % scale == 0:
            return f"{n_bytes // scale}{unit}"
    return f"{n_bytes}B"


def format_bytes(n: int | float, precision: int = 1) -> str:
    """Memory in binary units: "512 MiB", "18.3 GiB", "1.5 TiB". Whole numbers drop the
    decimals; negative amounts are shown as 0 (callers show "-" where nothing is left)."""
    value = max(float(n), 0.0)
    for unit, scale in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if value >= scale:
            return _number(value / scale, precision) + f" {unit}"
    return f"{value:.0f} B"


def format_gib(n: int | float, precision: int = 1) -> str:
    """Always in GiB, for columns that compare like with like: "18.3 GiB"."""
    return _number(max(float(n), 0.0) / GiB, precision) + " GiB"


def format_file_size(n: int) -> str:
    """A file's size as Hugging Face and LM Studio show it: decimal GB ("18.13 GB")."""
    if n >= 1_000_000_000:
        return f"{n / 1e9:.2f} GB"
    return f"{n / 1e6:.0f} MB"


def _number(value: float, precision: int) -> str:
    rounded = round(value, precision)
    return f"{rounded:.0f}" if rounded == int(rounded) else f"{rounded:.{precision}f}"


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
