"""A machine without a GPU gets its RAM bandwidth from its CPU's rating, or from a measurement
kept by `vramtui detect --measure`, never one fixed figure for every CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.sysroot import make_tree
from vramtui.cli.main import main
from vramtui.core.detect import cpu_memory
from vramtui.core.detect.cpu_memory import (
    READ_SHARE_OF_PEAK,
    measure_read_bandwidth,
    rated_bandwidth,
    save_measurement,
)
from vramtui.core.detect.match import CPU_BANDWIDTH_GBPS, detected_machine_state
from vramtui.core.detect.this_machine import detect_machine
from vramtui.core.sizes import GiB
from vramtui.core.vocab import BandwidthBasis

RYZEN_7950X = "AMD Ryzen 9 7950X 16-Core Processor"


@pytest.mark.parametrize(
    ("cpu", "gbps"),
    [
        (RYZEN_7950X, 83.2),
        ("AMD Ryzen 7 9800X3D 8-Core Processor", 89.6),
        ("AMD EPYC 9654 96-Core Processor", 460.8),
        ("13th Gen Intel(R) Core(TM) i9-13900K", 89.6),
        ("12th Gen Intel(R) Core(TM) i7-12700K", 76.8),
        ("AMD Ryzen 7 7840HS w/ Radeon 780M Graphics", None),  # mobile: has an iGPU
        ("AMD EPYC", None),  # a virtual machine's bare brand
        (None, None),
    ],
)
def test_rated_bandwidth_by_cpu_model(cpu: str | None, gbps: float | None) -> None:
    rated = rated_bandwidth(cpu)
    assert (rated.gbps if rated else None) == (pytest.approx(gbps) if gbps else None)


def _cpu_only(root: Path, cpu: str, load: str = "0.10 0.10 0.10 1/100 42") -> Path:
    make_tree(root, installed=64 * GiB, cpu=cpu)
    (root / "proc/loadavg").write_text(load + "\n", encoding="ascii")
    return root


def test_a_cpu_only_machine_gets_its_cpus_rating(tmp_path: Path) -> None:
    state = detected_machine_state(detect_machine(sysroot=_cpu_only(tmp_path, RYZEN_7950X)))
    assert state.machine.bandwidth_gbps == pytest.approx(83.2)
    assert state.machine.cpu_bandwidth_gbps == pytest.approx(83.2)
    assert any("Ryzen 7000" in s for s in state.machine.sources)
    unknown = detect_machine(sysroot=_cpu_only(tmp_path / "other", "Some CPU"))
    assert detected_machine_state(unknown).machine.bandwidth_gbps == CPU_BANDWIDTH_GBPS


def test_a_kept_measurement_wins_over_the_rating(tmp_path: Path) -> None:
    save_measurement(RYZEN_7950X, 60.0)
    state = detected_machine_state(detect_machine(sysroot=_cpu_only(tmp_path, RYZEN_7950X)))
    assert state.machine.bandwidth_gbps == pytest.approx(60.0 / READ_SHARE_OF_PEAK)
    assert state.machine.measured_bandwidth_gbps == pytest.approx(60.0)


def test_the_measurement_reads_memory() -> None:
    assert measure_read_bandwidth(8 << 20, passes=1, threads=2) > 0


def test_detect_measure_keeps_the_figure_on_an_idle_machine(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cpu_memory, "MEASURE_BYTES", 8 << 20)
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(_cpu_only(tmp_path, RYZEN_7950X)))
    assert main(["detect", "--measure", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["measurement"]["refusal"] is None and data["measurement"]["kept_in"]
    assert data["measurement"]["read_gbps"] > 0
    assert data["cpu_bandwidth"]["basis"] == BandwidthBasis.MEASURED
    assert main(["detect"]) == 0
    assert "RAM read bandwidth" not in capsys.readouterr().out  # measured only when asked


def test_detect_measure_on_a_busy_machine_keeps_nothing_and_says_why(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cpu_memory, "MEASURE_BYTES", 8 << 20)
    root = _cpu_only(tmp_path, RYZEN_7950X, load="7.00 6.00 5.00 9/400 42")
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(root))
    assert main(["detect", "--measure"]) == 0
    out = capsys.readouterr().out
    assert "not kept: the machine was busy (load 7.0 on 2 CPUs" in out
    assert main(["detect", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cpu_bandwidth"]["basis"] == BandwidthBasis.RATED
