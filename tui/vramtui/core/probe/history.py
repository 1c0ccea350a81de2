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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vramtui.core.atomic import append_line, open_regular
from vramtui.core.paths import data_dir
from vramtui.core.probe.http import parse_json
from vramtui.core.probe.results import Prediction, ProbeResult
from vramtui.core.vocab import OsName

HISTORY_FILE = "probe-history.jsonl"
HISTORY_VERSION = 1
MAX_HISTORY_LINE = 64 << 10  # a record is ~1-2 KiB; longer lines are not ours
TAIL_BYTES = 4 << 20  # only the file's last 4 MiB are read (some 2,000 runs and more)
TAIL_LINES = 10_000  # and at most this many of its last lines looked at
MAX_RECORDS = 2_000  # the most records one read returns
MAX_PROBLEMS = 20  # bad lines described one by one; the rest are counted


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
        "conditions": result.conditions.to_json() if result.conditions else None,
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
    path: Path | None = None,
    problems: list[str] | None = None,
    *,
    keep: Callable[[HistoryRecord], bool] | None = None,
    limit: int = MAX_RECORDS,
) -> list[HistoryRecord]:
    """The latest readable records (those `keep` accepts, at most `limit`), oldest first.

    Read from the file's end and bounded: at most its last TAIL_BYTES and TAIL_LINES lines,
    so a huge or garbage-filled history costs the same as a full one. Corrupt lines are
    skipped; each one is described (file:line: why, or file@byte: why when only the tail was
    read) in `problems` when a list is given, the first MAX_PROBLEMS of them."""
    source = path or history_path()
    try:
        handle = os.fdopen(open_regular(source), "rb")  # a FIFO or a device: refused, not read
    except FileNotFoundError:
        return []
    except OSError as err:
        if problems is not None:
            problems.append(f"{source}: cannot read: {err.strerror or err}")
        return []
    with handle:
        start = max(0, os.fstat(handle.fileno()).st_size - TAIL_BYTES)
        handle.seek(start)
        data = handle.read(TAIL_BYTES)  # bounded even when the file grows meanwhile
    found: list[tuple[str, str]] = []
    records = _records_from_end(data, start, keep, limit, found)
    if problems is not None:
        if start:
            problems.append(
                f"{source}: larger than {TAIL_BYTES >> 20} MiB; only its latest runs were read"
            )
        named = [f"{source}{where}: {why}" for where, why in reversed(found)]
        problems.extend(named[:MAX_PROBLEMS])
        if len(named) > MAX_PROBLEMS:
            problems.append(f"{source}: {len(named) - MAX_PROBLEMS} more bad lines skipped")
    return records


def _records_from_end(
    data: bytes,
    start: int,
    keep: Callable[[HistoryRecord], bool] | None,
    limit: int,
    found: list[tuple[str, str]],
) -> list[HistoryRecord]:
    """The records in `data` (the file's bytes from offset `start`), newest first until `limit`
    are kept or TAIL_LINES lines were looked at, returned oldest first; bad lines go to
    `found` as (where, why), newest first."""
    records: list[HistoryRecord] = []
    end = len(data)
    number = data.count(b"\n") + (0 if data.endswith(b"\n") else 1) if not start else 0
    for _ in range(TAIL_LINES):
        if end <= 0 or len(records) >= limit:
            break
        begin = data.rfind(b"\n", 0, end - 1 if data[end - 1 : end] == b"\n" else end) + 1
        if begin == 0 and start:
            break  # the first piece of a tail read is the end of a line cut in two
        raw = data[begin:end]
        where = f":{number}" if not start else f"@{start + begin}"
        end, number = begin, number - 1
        if not raw.strip():
            continue
        if len(raw) > MAX_HISTORY_LINE:
            found.append((where, "line too long; skipped"))
            continue
        try:
            record = HistoryRecord.from_json(parse_json(raw))
        except ValueError as err:  # json.JSONDecodeError and UnicodeDecodeError included
            found.append((where, f"corrupt record ({err}); skipped"))
            continue
        if keep is None or keep(record):
            records.append(record)
    records.reverse()
    return records
