"""Typed reads of values from a server's JSON: the answer may hold anything, so a field that is
not a finite number (or a digit string) reads as None rather than raising."""

from __future__ import annotations

import math
from typing import Any


def as_int(value: Any) -> int | None:
    """An integer field: ints, finite floats (truncated) and digit strings; bools are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def as_float(value: Any) -> float | None:
    """A finite number field as a float; bools, strings, NaN and infinities are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None
