"""Rows of a family's tensor table and typed metadata reads, shared by the family modules.

A row is (name, shape in GGUF order, kept F32), the synthesizer's `RawTensor` fields.
"""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.gguf.spec import MetaValue

Row = tuple[str, tuple[int, ...], bool]


class Md:
    """Typed reads of `<arch>.<key>` metadata (an array reads as its maximum)."""

    def __init__(self, md: Mapping[str, MetaValue], arch: str) -> None:
        self.md = md
        self.arch = arch

    def num(self, key: str, default: int = 0) -> int:
        v = self.md.get(f"{self.arch}.{key}")
        if isinstance(v, tuple):
            nums = [int(x) for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)]
            return max(nums) if nums else default
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return default
        return int(v)


def vec(name: str, n: int) -> Row:
    return (name, (n,), True)


def mat(name: str, *shape: int) -> Row:
    return (name, tuple(shape), False)
