"""Probe history: JSONL round trip, corrupt lines skipped and reported, calibration factor."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tui.cli.main import main
from tui.core.probe.history import (
    append_history,
    decode_efficiency,
    history_path,
    load_history,
    make_record,
)
from tui.core.probe.results import MemoryEvidence, Prediction, ProbeResult


def _result(tps: float, model: str = "qwen3-8b") -> ProbeResult:
    return ProbeResult(
        kind="llamacpp", url="http://127.0.0.1:8080", model=model, ttft_client_s=0.2,
        ttft_server_s=0.15, decode_tokens_per_second=tps, prompt_tokens_per_second=900.0,
        tokens_generated=64, prompt_tokens=30, server_timings={"timings": {"predicted_n": 64}},
        memory=MemoryEvidence(n_ctx=4096), decode_source="server",
    )  # fmt: skip


def test_round_trip_keeps_calibration_keys_flat() -> None:
    when = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    record = make_record(
        _result(40.0), Prediction(50.0, 0.3, 6 << 30), machine="strix-halo-128",
        carve_out_bytes=96 << 30, os_name="linux", backend="vulkan",
        settings={"ctx_size": 4096}, model_ref="catalog:qwen3-8b", now=when,
    )  # fmt: skip
    path = append_history(record)
    assert path == history_path()
    raw = json.loads(path.read_text())
    assert raw["machine"] == "strix-halo-128" and raw["backend"] == "vulkan"
    assert raw["predicted_decode_tps"] == 50.0 and raw["measured_decode_tps"] == 40.0
    assert raw["predicted"]["device_bytes"] == 6 << 30
    assert raw["measured"]["ttft_s"] == 0.15 and raw["measured"]["n_ctx"] == 4096
    assert raw["timestamp"] == "2026-11-24T16:00:00+00:00"
    (loaded,) = load_history()
    assert loaded == record
    assert loaded.decode_ratio == pytest.approx(0.8)


def test_corrupt_lines_are_skipped_and_reported() -> None:
    append_history(make_record(_result(10.0)))
    with history_path().open("a") as f:
        f.write("{not json\n")
        f.write('{"timestamp": "x"}\n')
        f.write("\n")
        f.write("[1, 2]\n")
    append_history(make_record(_result(20.0)))
    problems: list[str] = []
    records = load_history(problems=problems)
    assert [r.measured_decode_tps for r in records] == [10.0, 20.0]
    assert len(problems) == 3
    assert all(str(history_path()) in p for p in problems)
    assert ":2:" in problems[0] and ":3:" in problems[1] and ":5:" in problems[2]


def test_missing_history_is_empty() -> None:
    problems: list[str] = []
    assert load_history(problems=problems) == [] and problems == []


def test_decode_efficiency_per_machine_and_backend() -> None:
    pairs = [(50.0, 40.0), (50.0, 45.0), (50.0, 30.0)]
    for predicted, measured in pairs:
        append_history(make_record(_result(measured), Prediction(predicted, None, None),
                                   machine="m1", backend="vulkan"))  # fmt: skip
    append_history(make_record(_result(99.0), Prediction(50.0, None, None), machine="m1",
                               backend="rocm"))  # fmt: skip
    append_history(make_record(_result(25.0), None, machine="m1", backend="vulkan"))
    records = load_history()
    assert decode_efficiency(records, "m1", "vulkan") == pytest.approx(40.0 / 50.0)
    assert decode_efficiency(records, "m1", "rocm") == pytest.approx(99.0 / 50.0)
    assert decode_efficiency(records, "m2", "vulkan") is None


def test_cli_history_reports_corrupt_lines(capsys: pytest.CaptureFixture[str]) -> None:
    append_history(make_record(_result(33.0), machine="m1"))
    with history_path().open("a") as f:
        f.write("garbage\n")
    assert main(["probe", "--history", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert [r["measured_decode_tps"] for r in data] == [33.0]
    assert "corrupt record" in captured.err
