"""A CPU-only machine whose RAM bandwidth is assumed (no rating for its CPU, no measurement)
gets a speed range as wide as that assumption and a sentence that says so; a rated or measured
CPU does not. The basis travels with a saved machine file, and a bad one is one line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.sysroot import make_tree
from vramtui.cli.main import main
from vramtui.core.detect.cpu_memory import save_measurement
from vramtui.core.detect.match import detected_machine_state
from vramtui.core.detect.this_machine import detect_machine
from vramtui.core.hardware.presets import load_machines
from vramtui.core.paths import user_machines_dir
from vramtui.core.sizes import GiB
from vramtui.core.vocab import BandwidthBasis

MODEL = ["glm-4.7-flash:Q4_K_M", "-c", "4096"]
UNKNOWN = "AMD EPYC"  # a virtual machine's bare brand: in no table
RATED = "AMD Ryzen 9 7950X 16-Core Processor"
MEASURED = "Some Desktop CPU"
MEASURE_HINT = "`vramtui detect --measure` measures it"


def _box(root: Path, cpu: str) -> Path:
    make_tree(root, installed=64 * GiB, cpu=cpu)
    (root / "proc/loadavg").write_text("0.10 0.10 0.10 1/100 42\n", encoding="ascii")
    return root


def _check(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[dict[str, Any], str]:
    main(["check", *MODEL, *extra, "--json"])
    data = json.loads(capsys.readouterr().out)
    main(["check", *MODEL, *extra])
    return data, capsys.readouterr().out


def _on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cpu: str
) -> tuple[dict[str, Any], str]:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(_box(tmp_path / cpu.replace(" ", "-"), cpu)))
    return _check(capsys)


def _width(data: dict[str, Any], key: str) -> float:
    low, high = data[key]
    return float(high) / float(low)


def test_an_unknown_cpu_gets_a_wider_range_that_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assumed, text = _on(tmp_path, monkeypatch, capsys, UNKNOWN)
    rated, rated_text = _on(tmp_path, monkeypatch, capsys, RATED)
    assert assumed["machine"] == rated["machine"] == "this-machine"
    assert assumed["backend"] == rated["backend"] == "cpu"
    for key in ("decode_tokens_per_second_range", "time_to_first_token_s_range"):
        assert _width(assumed, key) > _width(rated, key), key
    assert _width(assumed, "prefill_tokens_per_second_range") == pytest.approx(
        _width(rated, "prefill_tokens_per_second_range")
    )  # CPU prefill computes: the RAM's bandwidth does not move it
    basis = assumed["speed"]["range_basis"]
    ram = basis["decode"]["assumed_ram"]
    assert ram["gbps"] == pytest.approx(60.0)
    low, high = ram["span_gbps"]
    assert low < ram["gbps"] < high
    assert basis["ttft"]["assumed_ram"] == ram and basis["prefill"]["assumed_ram"] is None
    assert "RAM bandwidth is assumed (60 GB/s)" in text and MEASURE_HINT in text
    assert MEASURE_HINT not in rated_text
    assert rated["speed"]["range_basis"]["decode"]["assumed_ram"] is None


def test_a_measured_cpu_is_not_widened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    save_measurement(MEASURED, 45.0)
    data, text = _on(tmp_path, monkeypatch, capsys, MEASURED)
    assert data["machine"] == "this-machine"
    assert all(b["assumed_ram"] is None for b in data["speed"]["range_basis"].values())
    assert MEASURE_HINT not in text


@pytest.mark.parametrize(
    ("cpu", "basis"),
    [(UNKNOWN, BandwidthBasis.ASSUMED), (RATED, BandwidthBasis.RATED)],
)
def test_a_saved_machine_keeps_its_basis_and_its_range(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cpu: str,
    basis: BandwidthBasis,
) -> None:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(_box(tmp_path, cpu)))
    assert detected_machine_state(detect_machine()).machine.cpu_bandwidth_basis == basis
    detected, _ = _check(capsys)
    assert main(["detect", "--save", "box"]) == 0
    capsys.readouterr()
    saved = load_machines().get("box")
    assert saved is not None and saved.cpu_bandwidth_basis == basis
    given, _ = _check(capsys, "--machine", "box")
    assert given["decode_tokens_per_second_range"] == detected["decode_tokens_per_second_range"]


def test_the_bundled_presets_name_no_basis() -> None:
    assert all(m.cpu_bandwidth_basis is None for m in load_machines().machines)


def test_a_bad_basis_in_a_machine_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(_box(tmp_path, UNKNOWN)))
    assert main(["detect", "--save", "box"]) == 0
    capsys.readouterr()
    path = user_machines_dir() / "box.toml"
    text, n = re.subn(
        r"^cpu_bandwidth_basis = .*$",
        'cpu_bandwidth_basis = "guessed"',
        path.read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    assert n == 1
    path.write_text(text, encoding="utf-8")
    (problem,) = load_machines().problems
    assert "\n" not in problem
    assert "box.toml: cpu_bandwidth_basis: 'guessed' is not one of" in problem
    assert main(["check", *MODEL, "--machine", "box"]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert len(lines) == 1 and "cpu_bandwidth_basis" in lines[0]
