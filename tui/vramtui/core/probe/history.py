"""Probe history: one JSON line per run in data_dir()/probe-history.jsonl.

Calibration (vramtui.core.probe.calibration) reads this file: for one machine, backend, runtime and
model (`model_key`), and only for runs where the server served that model (`model_match`), the
measured / predicted decode tokens/s ratio corrects the raw prediction. The keys `machine`,
`backend`, `runtime`, `model_key`, `model_match`, `predicted_decode_tps` and
`measured_decode_tps` sit at the top level of every record for that reason; keep their names.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from vramtui.core.atomic import append_line, open_regular
from vramtui.core.paths import data_dir
from vramtui.core.probe.http import parse_json
from vramtui.core.probe.results import Prediction, ProbeResult
from vramtui.core.vocab import OsName

HISTORY_FILE = "probe-history.jsonl"
HISTORY_VERSION = 1
MAX_HISTORY_LINE = 64 << 10  # a record is ~1-2 KiB; longer lines are not ours
MAX_HISTORY_BYTES = 64 << 20


def history_path() -> Path:
    return data_dir() / HISTORY_FILE


def current_os() -> OsName:
    if sys.platform.startswith("win"):
        return OsName.WINDOWS
    if sys.platform == "darwin":
        return OsName.MACOS
    return OsName.LINUX


@dataclass(frozen=True)
class HistoryRecord:
    timestamp: str
    url: str
    kind: str
    model: str
    machine: str | None = None
    carve_out_bytes: int | None = None
    os: str | None = None
    backend: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    predicted: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)
    model_ref: str | None = None  # what the prediction was computed from (path, hf:, catalog id)
    runtime: str | None = None
    model_key: str | None = None  # calibration.model_identity of the predicted model
    model_match: bool = False  # the server served the predicted model

    @property
    def predicted_decode_tps(self) -> float | None:
        return _num(self.predicted.get("decode_tps"))

    @property
    def measured_decode_tps(self) -> float | None:
        return _num(self.measured.get("decode_tps"))

    @property
    def decode_ratio(self) -> float | None:
        p, m = self.predicted_decode_tps, self.measured_decode_tps
        return m / p if p and m else None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": HISTORY_VERSION,
            "timestamp": self.timestamp,
            "url": self.url,
            "kind": self.kind,
            "model": self.model,
            "model_ref": self.model_ref,
            "machine": self.machine,
            "carve_out_bytes": self.carve_out_bytes,
            "os": self.os,
            "backend": self.backend,
            "runtime": self.runtime,
            "model_key": self.model_key,
            "model_match": self.model_match,
            "settings": self.settings,
            "predicted": self.predicted,
            "measured": self.measured,
            # Flat copies for the speed model's calibration (see the module docstring).
            "predicted_decode_tps": self.predicted_decode_tps,
            "measured_decode_tps": self.measured_decode_tps,
        }

    @classmethod
    def from_json(cls, data: Any) -> HistoryRecord:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        for key in ("timestamp", "url", "kind", "model"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"missing or bad {key!r}")

        def obj(name: str) -> dict[str, Any]:
            value = data.get(name)
            if value is None:
                return {}
            if not isinstance(value, dict):
                raise ValueError(f"{name!r} is not an object")
            return value

        def opt_str(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) else None

        carve = data.get("carve_out_bytes")
        predicted = obj("predicted")
        measured = obj("measured")
        # A record written by another tool may only carry the flat keys.
        predicted.setdefault("decode_tps", _num(data.get("predicted_decode_tps")))
        measured.setdefault("decode_tps", _num(data.get("measured_decode_tps")))
        return cls(
            timestamp=data["timestamp"],
            url=data["url"],
            kind=data["kind"],
            model=data["model"],
            machine=opt_str("machine"),
            carve_out_bytes=carve
            if isinstance(carve, int) and not isinstance(carve, bool)
            else None,
            os=opt_str("os"),
            backend=opt_str("backend"),
            settings=obj("settings"),
            predicted=predicted,
            measured=measured,
            model_ref=opt_str("model_ref"),
            runtime=opt_str("runtime"),
            model_key=opt_str("model_key"),
            model_match=data.get("model_match") is True,
        )


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def measured_summary(result: ProbeResult) -> dict[str, Any]:
    """The measured numbers kept in the history (raw server timings included)."""
    return {
        "decode_tps": result.decode_tokens_per_second,
        "decode_source": result.decode_source,
        "ttft_s": result.ttft_server_s
        if result.ttft_server_s is not None
        else result.ttft_client_s,
        "ttft_client_s": result.ttft_client_s,
        "ttft_server_s": result.ttft_server_s,
        "prompt_tps": result.prompt_tokens_per_second,
        "tokens_generated": result.tokens_generated,
        "prompt_tokens": result.prompt_tokens,
        "device_bytes": result.memory.device_bytes(),
        "n_ctx": result.memory.n_ctx,
        "ollama_size_bytes": result.memory.ollama_size_bytes,
        "ollama_vram_bytes": result.memory.ollama_vram_bytes,
        "amdgpu_delta_bytes": result.memory.amdgpu_delta_bytes(),
        "server_timings": result.server_timings,
    }


def make_record(
    result: ProbeResult,
    prediction: Prediction | None = None,
    *,
    machine: str | None = None,
    carve_out_bytes: int | None = None,
    os_name: str | None = None,
    backend: str | None = None,
    settings: dict[str, Any] | None = None,
    model_ref: str | None = None,
    runtime: str | None = None,
    model_key: str | None = None,
    model_match: bool = False,
    now: datetime | None = None,
) -> HistoryRecord:
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return HistoryRecord(
        timestamp=stamp,
        url=result.url,
        kind=result.kind,
        model=result.model,
        machine=machine,
        carve_out_bytes=carve_out_bytes,
        os=os_name or current_os(),
        backend=backend,
        settings=dict(settings or {}),
        predicted=prediction.to_json() if prediction else {},
        measured=measured_summary(result),
        model_ref=model_ref,
        runtime=runtime,
        model_key=model_key,
        model_match=model_match,
    )


def append_history(record: HistoryRecord, path: Path | None = None) -> Path:
    """Append one record as one line (a single O_APPEND write: no torn lines between runs)."""
    target = path or history_path()
    append_line(target, json.dumps(record.to_json(), separators=(",", ":"), default=str))
    return target


def load_history(
    path: Path | None = None, problems: list[str] | None = None
) -> list[HistoryRecord]:
    """All readable records, oldest first. Corrupt lines are skipped; each one is described
    (file:line: why) in `problems` when a list is given."""
    source = path or history_path()
    records: list[HistoryRecord] = []
    try:
        handle = os.fdopen(open_regular(source), "rb")  # a FIFO or a device: refused, not read
    except FileNotFoundError:
        return records
    except OSError as err:
        if problems is not None:
            problems.append(f"{source}: cannot read: {err.strerror or err}")
        return records
    read = 0
    with handle:
        # readline(limit): a huge line without a newline is read in pieces, never whole.
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_HISTORY_LINE + 1), b""), 1):
            read += len(raw)
            if read > MAX_HISTORY_BYTES:
                if problems is not None:
                    problems.append(
                        f"{source}: larger than {MAX_HISTORY_BYTES >> 20} MiB; rest skipped"
                    )
                break
            if not raw.strip():
                continue
            if len(raw) > MAX_HISTORY_LINE:
                if problems is not None:
                    problems.append(f"{source}:{number}: line too long; skipped")
                read += _skip_rest_of_line(handle, raw, MAX_HISTORY_BYTES - read)
                continue
            try:
                records.append(HistoryRecord.from_json(parse_json(raw)))
            except ValueError as err:  # json.JSONDecodeError and UnicodeDecodeError included
                if problems is not None:
                    problems.append(f"{source}:{number}: corrupt record ({err}); skipped")
    return records


def _skip_rest_of_line(handle: BinaryIO, raw: bytes, budget: int) -> int:
    """Read past the rest of an over-long line, piece by piece, at most `budget` bytes more;
    returns the bytes read (over the budget: the caller stops reading the file)."""
    skipped = 0
    while not raw.endswith(b"\n") and skipped <= budget:
        raw = handle.readline(MAX_HISTORY_LINE + 1)
        if not raw:
            break
        skipped += len(raw)
    return skipped
