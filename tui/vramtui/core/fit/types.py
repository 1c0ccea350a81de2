"""The pieces of a fit answer the placement, the RAM rules and the verdict share: a reason
and the segments of each pool (what the pool bars draw)."""

from __future__ import annotations

from dataclasses import dataclass

from vramtui.core.vocab import ReasonCode, SegmentKind, Severity


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    message: str

    @property
    def severity(self) -> Severity:
        return self.code.severity


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
