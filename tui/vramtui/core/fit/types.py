"""The pieces of a fit answer the placement, the RAM rules and the verdict share: a reason
and the segments of each pool (what the pool bars draw)."""

from __future__ import annotations

from dataclasses import dataclass

from vramtui.core.vocab import ReasonCode, SegmentKind, Severity

# A figure a reason's sentence quotes: bytes and counts (int), rates (float), names (str), a
# yes/no (bool) or several sizes (tuple).
Figure = bool | int | float | str | tuple[int, ...]

# Which share of a load the load reason names first (besides host buffers and spilled GPU
# memory): the kept copy, else the weights staged for upload, else the OS baseline.
LOAD_HELD_BASELINE = "os_baseline"
LOAD_HELD_STAGED = "staged_weights"
LOAD_HELD_KEPT = "kept_copy"


@dataclass(frozen=True)
class Reason:
    """Why a verdict is what it is: the code and the figures its sentence needs, by name.
    The words are said in vramtui.present.reasons; the core says none."""

    code: ReasonCode
    figures: tuple[tuple[str, Figure], ...] = ()

    @classmethod
    def of(cls, code: ReasonCode, **figures: Figure) -> Reason:
        return cls(code, tuple(figures.items()))

    @property
    def severity(self) -> Severity:
        return self.code.severity

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.figures)

    def figure(self, name: str) -> Figure:
        for key, value in self.figures:
            if key == name:
                return value
        raise KeyError(f"{self.code} has no figure {name!r}")

    def count(self, name: str) -> int:
        """A whole number: bytes, layers, tokens."""
        value = self.figure(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{self.code}'s {name} is not a whole number")
        return value

    def rate(self, name: str) -> float:
        value = self.figure(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{self.code}'s {name} is not a number")
        return float(value)

    def text(self, name: str) -> str:
        value = self.figure(name)
        if not isinstance(value, str):
            raise TypeError(f"{self.code}'s {name} is not a name")
        return value

    def flag(self, name: str) -> bool:
        value = self.figure(name)
        if not isinstance(value, bool):
            raise TypeError(f"{self.code}'s {name} is not a yes or no")
        return value

    def counts(self, name: str) -> tuple[int, ...]:
        value = self.figure(name)
        if not isinstance(value, tuple):
            raise TypeError(f"{self.code}'s {name} is not a list of numbers")
        return value


@dataclass(frozen=True)
class Segment:
    label: str
    kind: SegmentKind
    n_bytes: int


@dataclass(frozen=True)
class PoolUsage:
    name: str
    capacity_bytes: int
    segments: tuple[Segment, ...]

    @property
    def used_bytes(self) -> int:
        return sum(s.n_bytes for s in self.segments)
