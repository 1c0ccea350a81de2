"""Typed reads of values from a server's JSON: the answer may hold anything, so a field that is
not a plain, bounded number reads as None rather than raising.

Every numeric field a server sends goes through `as_int` or `as_float`: ASCII digits only (no
"²", no 5,000-digit strings that int() refuses), finite floats only, and values within
0..MAX_FIELD (2**53, exact in a float) so later arithmetic cannot overflow. `rate` divides by a
measured time only when that time is a real one (not zero, not a denormal).
"""

from __future__ import annotations

import math
from typing import Any

MAX_FIELD = 2**53  # the largest count or byte size taken from a server
MAX_CONTEXT = 2**24  # the largest context (tokens) taken from a server: 16M, over any model's
MAX_SLOTS = 4096  # the most parallel slots taken from a server
MAX_DIGITS = 16  # len(str(2**53)); longer digit strings are out of range anyway
MIN_SECONDS = 1e-9  # a measured duration below a nanosecond is not a measurement


def as_int(value: Any, high: int = MAX_FIELD) -> int | None:
    """An integer field: ints, finite floats (truncated) and ASCII digit strings, within
    0..high (at most MAX_FIELD); bools, other strings and out-of-range values are None."""
    number: int | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and abs(value) <= MAX_FIELD:
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit():
            number = int(text)
    return number if number is not None and 0 <= number <= min(high, MAX_FIELD) else None


def as_context(value: Any) -> int | None:
    """A context length in tokens (0..MAX_CONTEXT)."""
    return as_int(value, MAX_CONTEXT)


def as_float(value: Any) -> float | None:
    """A finite number field as a float within -MAX_FIELD..MAX_FIELD; bools, strings, NaN,
    infinities and ints too large for a float are None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and abs(value) > MAX_FIELD:
        return None  # float() of a 401-digit int raises OverflowError
    number = float(value)
    return number if math.isfinite(number) and abs(number) <= MAX_FIELD else None


def rate(count: float | None, seconds: float | None) -> float | None:
    """count / seconds when both are real measurements (a positive count and a duration of at
    least MIN_SECONDS), else None; a finite result or None, never a ZeroDivisionError."""
    if not count or count <= 0 or seconds is None or not seconds >= MIN_SECONDS:
        return None
    result = count / seconds
    return result if math.isfinite(result) else None


def plain_value(value: Any) -> str | int | float | None:
    """A detail worth keeping as is: a string, or a number within the bounds above."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return as_int(value)
    return as_float(value)
