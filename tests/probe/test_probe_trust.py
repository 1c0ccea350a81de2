"""A probe never calibrates from a run it cannot trust: a busy machine (load, stolen CPU time, a
GPU kept busy by another process), an absurd ratio, another model. The faces say why."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.tiny_llama import LlamaServer
from vramtui.cli.main import main
from vramtui.core.detect.conditions import (
    RunConditions,
    _gpu_engine_ns,
    _shares,
    sample_conditions,
)
from vramtui.core.probe.calibration import CalibrationKey, calibration_for, refusal
from vramtui.core.probe.history import append_history, load_history, make_record
from vramtui.core.probe.results import MemoryEvidence, Prediction, ProbeResult
from vramtui.core.vocab import CalibrationRefusal
from vramtui.present.probe_words import calibration_line

KEY = CalibrationKey("m1", "vulkan", "llamacpp", "GLM-4.7-Flash|15|18000000000")
# The case that must never calibrate: a 2-core machine at load 7 measured 0.5 tok/s where
# 8.6 were predicted (0.06x).
BUSY_TWO_CORES = RunConditions(cpu_count=2, load_1m=7.0, cpu_busy_share=0.97)


def _result(tps: float, conditions: RunConditions | None = None) -> ProbeResult:
    return ProbeResult(
        kind="llamacpp",
        url="http://127.0.0.1:8080",
        model="glm",
        ttft_client_s=0.2,
        ttft_server_s=0.15,
        decode_tokens_per_second=tps,
        prompt_tokens_per_second=900.0,
        tokens_generated=64,
        prompt_tokens=30,
        server_timings={},
        memory=MemoryEvidence(),
        decode_source="server",
        conditions=conditions,
    )


def _record(measured: float, predicted: float, conditions: RunConditions | None, **kw: Any) -> Any:
    fields: dict[str, Any] = dict(
        machine="m1", backend="vulkan", runtime="llamacpp", model_key=KEY.model, model_match=True
    )
    fields.update(kw)
    return make_record(_result(measured, conditions), Prediction(predicted, None, None), **fields)


def test_the_busy_two_core_run_is_refused_and_says_why() -> None:
    record = _record(0.5, 8.6, BUSY_TWO_CORES)
    assert refusal(record) is CalibrationRefusal.BUSY_CPU
    line = calibration_line(refusal(record), BUSY_TWO_CORES, record.decode_ratio)
    assert line.startswith("kept in the history, not used to calibrate: the machine was busy")
    assert "load 7.0 on 2 CPUs" in line and "97% of CPU time already in use" in line
    append_history(record)
    assert calibration_for(load_history(), KEY) is None  # never applied to later checks


@pytest.mark.parametrize(
    ("measured", "conditions", "changes", "expected"),
    [
        (45.0, RunConditions(cpu_count=16, load_1m=2.0, cpu_busy_share=0.1), {}, None),
        (45.0, None, {}, None),  # another system: nothing readable, judged by the ratio alone
        (5.0, None, {}, CalibrationRefusal.ABSURD_RATIO),  # 0.1x
        (300.0, None, {}, CalibrationRefusal.ABSURD_RATIO),  # 6x
        (45.0, None, {"model_match": False}, CalibrationRefusal.OTHER_MODEL),
        (45.0, RunConditions(cpu_steal_share=0.3), {}, CalibrationRefusal.CPU_STEAL),
        (45.0, RunConditions(gpu_busy_share=0.9), {}, CalibrationRefusal.BUSY_GPU),
        (45.0, RunConditions(cpu_count=8, load_1m=13.0), {}, CalibrationRefusal.BUSY_CPU),
    ],
)
def test_each_untrusted_run_is_refused_for_its_own_reason(
    measured: float,
    conditions: RunConditions | None,
    changes: dict[str, Any],
    expected: CalibrationRefusal | None,
) -> None:
    record = _record(measured, 50.0, conditions, **changes)
    assert refusal(record) is expected
    append_history(record)
    calibrated = calibration_for(load_history(), KEY)
    assert (calibrated is not None) is (expected is None)
    words = calibration_line(refusal(record), conditions, record.decode_ratio)
    assert ("not used to calibrate" in words) is (expected is not None)


def test_conditions_survive_the_history_round_trip() -> None:
    append_history(_record(0.5, 8.6, BUSY_TWO_CORES))
    (loaded,) = load_history()
    assert RunConditions.from_json(loaded.measured["conditions"]) == BUSY_TWO_CORES
    assert refusal(loaded) is CalibrationRefusal.BUSY_CPU


def test_cpu_shares_from_two_stat_readings() -> None:
    # total, idle+iowait, steal jiffies: 1000 more, 250 of them idle, 100 stolen
    busy, steal = _shares((5000, 3000, 10), (6000, 3250, 110))
    assert busy == pytest.approx(0.75) and steal == pytest.approx(0.10)
    assert _shares(None, (1, 1, 1)) == (None, None)


def _fdinfo(proc: Path, pid: int, fd: int, text: str) -> None:
    folder = proc / str(pid) / "fdinfo"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(fd)).write_text(text, encoding="ascii")


def test_gpu_engine_time_counts_each_drm_client_once(tmp_path: Path) -> None:
    client = "drm-driver:\tamdgpu\ndrm-pdev:\t0000:c5:00.0\ndrm-client-id:\t{}\n"
    engines = "drm-engine-gfx:\t{} ns\ndrm-engine-compute:\t{} ns\n"
    _fdinfo(tmp_path, 100, 5, client.format(7) + engines.format(1000, 500))
    _fdinfo(tmp_path, 100, 6, client.format(7) + engines.format(1000, 500))  # same client
    _fdinfo(tmp_path, 200, 3, client.format(9) + engines.format(250, 0))
    _fdinfo(tmp_path, 300, 1, "pos:\t0\nflags:\t02\n")  # not a DRM file
    assert _gpu_engine_ns(tmp_path) == 1750


def test_this_machine_reads_as_a_machine(tmp_path: Path) -> None:
    conditions = asyncio.run(sample_conditions(window_s=0.05))
    if not Path("/proc/stat").exists():
        pytest.skip("no /proc here")
    assert conditions.cpu_count == os.cpu_count()
    assert conditions.load_1m is not None and conditions.load_1m >= 0
    busy = conditions.cpu_busy_share
    assert busy is None or 0 <= busy <= 1


def _busy_sysroot(root: Path) -> Path:
    (root / "proc").mkdir(parents=True)
    (root / "proc/loadavg").write_text("7.00 6.80 6.10 9/400 4242\n", encoding="ascii")
    cpus = "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n"
    (root / "proc/cpuinfo").write_text(cpus, encoding="ascii")
    return root


def test_the_cli_probe_of_a_busy_machine_does_not_calibrate(
    llama_server: LlamaServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(_busy_sysroot(tmp_path / "root")))
    args = ["probe", "--url", llama_server.url, "--max-tokens", "4", "--json"]
    args += ["--machine", "framework-desktop-128gb", "--os", "linux", "--backend", "vulkan"]
    args += ["--predict", str(llama_server.model_path)]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["result"]["conditions"]["load_1m"] == 7.0
    assert out["calibration"]["calibrates"] is False
    assert out["calibration"]["refusal"] == "busy_cpu"
    assert "load 7.0 on 2 CPUs" in out["calibration"]["why"]
    (record,) = load_history()
    assert refusal(record) is CalibrationRefusal.BUSY_CPU
    assert main(args) == 0  # the next prediction is not calibrated from it
    assert json.loads(capsys.readouterr().out)["prediction"]["calibration"] is None
    assert main([a for a in args if a != "--json"]) == 0
    assert "calibration: kept in the history, not used to calibrate: the machine was busy" in (
        capsys.readouterr().out
    )
