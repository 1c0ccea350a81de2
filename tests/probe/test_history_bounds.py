"""A hostile probe history: huge, full of garbage, torn or unwritable. Reads are bounded (the
file's end only, in bytes and lines), calibration stops at the runs it needs, and a write is a
whole line or nothing."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.probe_doubles import openai_double, serve
from vramtui.cli.main import main
from vramtui.core.atomic import WriteError
from vramtui.core.probe import calibration as calibration_module
from vramtui.core.probe.calibration import RECENT, CalibrationKey, load_calibration
from vramtui.core.probe.history import (
    MAX_PROBLEMS,
    TAIL_BYTES,
    TAIL_LINES,
    HistoryRecord,
    append_history,
    history_path,
    load_history,
    make_record,
)
from vramtui.core.probe.results import MemoryEvidence, Prediction, ProbeResult

KEY = CalibrationKey(machine="strix", backend="vulkan", runtime="llamacpp", model="m|15|1")


def _record_line(tps: float = 40.0, model_key: str = KEY.model) -> str:
    result = ProbeResult(
        kind="llamacpp",
        url="http://127.0.0.1:8080",
        model="m",
        ttft_client_s=0.2,
        ttft_server_s=None,
        decode_tokens_per_second=tps,
        prompt_tokens_per_second=None,
        tokens_generated=8,
        prompt_tokens=None,
        server_timings={},
        memory=MemoryEvidence(),
    )
    record = make_record(
        result,
        Prediction(50.0, None, None),
        machine=KEY.machine,
        backend=KEY.backend,
        runtime=KEY.runtime,
        model_key=model_key,
        model_match=True,
    )
    path = history_path().with_name("one.jsonl")
    append_history(record, path)
    line = path.read_text()
    path.unlink()
    return line


def _write(data: bytes) -> None:
    history_path().parent.mkdir(parents=True, exist_ok=True)
    history_path().write_bytes(data)


def test_garbage_before_the_tail_is_never_read() -> None:
    # Twice the tail of garbage lines, then one good record: only the tail is looked at, and
    # its bad lines are counted, not listed one by one.
    _write(b"{corrupt\n" * (2 * TAIL_BYTES // 9) + _record_line().encode())
    problems: list[str] = []
    (record,) = load_history(problems=problems)
    assert record.measured_decode_tps == 40.0
    assert len(problems) <= MAX_PROBLEMS + 2
    assert "only its latest runs were read" in problems[0]
    assert "more bad lines skipped" in problems[-1]


def test_lines_looked_at_are_bounded() -> None:
    good = _record_line().encode()
    _write(good + b"\n" * (TAIL_LINES + 5))  # the record sits past the line bound
    assert load_history() == []


def test_calibration_reads_only_the_latest_runs_of_its_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = _record_line(tps=10.0)  # x0.2, beyond what the latest runs say
    others = _record_line(tps=5.0, model_key="other|15|1")
    latest = _record_line(tps=45.0)  # x0.9
    _write((old * 5 + others * 50 + latest * RECENT).encode())
    seen: list[int] = []
    real = calibration_module.load_history

    def counting(*args: object, **kw: object) -> object:
        records = real(*args, **kw)  # type: ignore[arg-type]
        seen.append(len(records))
        return records

    monkeypatch.setattr(calibration_module, "load_history", counting)
    calibration = load_calibration(KEY)
    assert calibration is not None and calibration.factor == pytest.approx(0.9)
    assert seen == [RECENT]


def test_probe_history_of_garbage_answers_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    _write(b"\xff\xfe not json\n" * (TAIL_BYTES // 8))
    assert main(["probe", "--history"]) == 0
    err = capsys.readouterr().err
    assert len(err.splitlines()) <= MAX_PROBLEMS + 2


def test_torn_tail_is_closed_before_the_next_record() -> None:
    _write(_record_line().encode() + b'{"timestamp": "2026-')  # a write cut mid-way
    append_history(make_record_from(_record_line(tps=30.0)))
    problems: list[str] = []
    records = load_history(problems=problems)
    assert [r.measured_decode_tps for r in records] == [40.0, 30.0]
    assert len(problems) == 1 and ":2:" in problems[0]


def make_record_from(line: str) -> HistoryRecord:
    return HistoryRecord.from_json(json.loads(line))


def test_short_write_leaves_no_half_line() -> None:
    _write(_record_line().encode())
    before = history_path().read_bytes()
    record = make_record_from(_record_line(tps=30.0))
    real_write = os.write
    with pytest.MonkeyPatch.context() as patch:  # a full disk: half the line gets written
        patch.setattr(os, "write", lambda fd, data: real_write(fd, data[: len(data) // 2]))
        with pytest.raises(WriteError, match="short write"):
            append_history(record)
    assert history_path().read_bytes() == before
    assert len(load_history()) == 1


def test_cli_says_a_failed_write_and_keeps_its_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _write(_record_line().encode())
    before = history_path().read_bytes()
    real_write = os.write
    with serve(openai_double()) as d, pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "write", lambda fd, data: real_write(fd, data[:10]))  # a full disk
        code = main(["probe", "--url", d.url, "--timeout", "5", "--json"])
    err = capsys.readouterr().err
    assert code == 0 and err.count("\n") == 1 and "history was not written" in err
    assert "short write" in err and history_path().read_bytes() == before
