"""Probe history: JSONL round trip, corrupt lines skipped and reported, calibration factor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from vramtui.cli.main import main
from vramtui.core.probe.calibration import CalibrationKey, calibration_for, served_model_matches
from vramtui.core.probe.history import (
    append_history,
    history_path,
    load_history,
    make_record,
)
from vramtui.core.probe.results import MemoryEvidence, Prediction, ProbeResult


def _result(tps: float, model: str = "qwen3-8b") -> ProbeResult:
    return ProbeResult(
        kind="llamacpp",
        url="http://127.0.0.1:8080",
        model=model,
        ttft_client_s=0.2,
        ttft_server_s=0.15,
        decode_tokens_per_second=tps,
        prompt_tokens_per_second=900.0,
        tokens_generated=64,
        prompt_tokens=30,
        server_timings={"timings": {"predicted_n": 64}},
        memory=MemoryEvidence(n_ctx=4096),
        decode_source="server",
    )


def test_round_trip_keeps_calibration_keys_flat() -> None:
    when = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    record = make_record(
        _result(40.0),
        Prediction(50.0, 0.3, 6 << 30),
        machine="strix-halo-128",
        carve_out_bytes=96 << 30,
        os_name="linux",
        backend="vulkan",
        settings={"ctx_size": 4096},
        model_ref="catalog:qwen3-8b",
        now=when,
    )
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


KEY = CalibrationKey("m1", "vulkan", "llamacpp", "GLM-4.7-Flash|15|18000000000")


def _probe(measured: float, predicted: float = 50.0, **changes: object) -> None:
    fields: dict[str, Any] = {
        "machine": "m1",
        "backend": "vulkan",
        "runtime": "llamacpp",
        "model_key": KEY.model,
        "model_match": True,
    }
    fields.update(changes)
    append_history(make_record(_result(measured), Prediction(predicted, None, None), **fields))


def test_calibration_only_from_probes_of_the_same_model() -> None:
    _probe(90.0, model_key="tiny-test|1|1000")  # a 2-layer test model
    _probe(95.0, model_key="tiny-test|1|1000")
    _probe(40.0, backend="rocm")
    _probe(40.0, runtime="lmstudio")
    _probe(10.0, model_match=False)  # the server ran something else
    assert calibration_for(load_history(), KEY) is None


def test_one_or_two_probes_move_a_prediction_at_most_25_percent() -> None:
    _probe(100.0)  # measured twice the prediction
    cal = calibration_for(load_history(), KEY)
    assert cal is not None and (cal.factor, cal.probes, cal.bounded) == (1.25, 1, True)
    assert cal.describe() == "calibrated x1.25 from 1 probe, held to its bounds"


def test_agreeing_probes_calibrate_fully_and_outliers_are_dropped() -> None:
    for measured in (100.0, 102.0, 98.0, 400.0):  # three agree on 2x; one broken run
        _probe(measured)
    cal = calibration_for(load_history(), KEY)
    assert cal is not None and cal.factor == pytest.approx(2.0) and cal.probes == 3
    assert not cal.bounded and cal.describe() == "calibrated x2.00 from 3 probes"


def test_served_model_matching() -> None:
    assert served_model_matches("/models/GLM-4.7-Flash-Q4_K_M.gguf", "glm-4.7-flash:Q4_K_M")
    assert served_model_matches("glm-4.7-flash:q4_k_m", "GLM-4.7-Flash-Q4_K_M.gguf")
    assert not served_model_matches("models/tiny-llama.gguf", "glm-4.7-flash:Q4_K_M")
    assert not served_model_matches("", "x")


def test_cli_history_reports_corrupt_lines(capsys: pytest.CaptureFixture[str]) -> None:
    append_history(make_record(_result(33.0), machine="m1"))
    with history_path().open("a") as f:
        f.write("garbage\n")
    assert main(["probe", "--history", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert [r["measured_decode_tps"] for r in data] == [33.0]
    assert "corrupt record" in captured.err
