"""Without --machine, the commands answer for the machine they run on: a fake
HP ZBook Ultra G1a tree under VRAMTUI_SYSROOT, and this real box."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from tests.support.sysroot import hp_zbook_tree
from vramtui.cli.main import main
from vramtui.core.sizes import GiB, MiB


def _json(argv: list[str]) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main([*argv, "--json"])
    return code, json.loads(out.getvalue())


def test_check_without_machine_answers_for_the_detected_laptop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(hp_zbook_tree(tmp_path)))
    code, data = _json(["check", "glm-4.7-flash:Q4_K_M", "-c", "16384"])
    assert data["machine"] == "hp-zbook-ultra-g1a-64gb"
    assert data["machine_source"] == "detected"
    assert data["carve_out_bytes"] == 512 * MiB
    assert data["os"] == "linux"  # the tree is a Linux system
    assert data["reboot_needed"] is False
    assert code == {"fits": 0, "fits_with_warnings": 1, "will_not_fit": 3}[data["verdict"]]


def test_check_with_another_carve_out_says_a_reboot_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(hp_zbook_tree(tmp_path)))
    _, data = _json(["check", "glm-4.7-flash:Q4_K_M", "-c", "16K", "--carve-out", "32G"])
    assert (data["carve_out_bytes"], data["reboot_needed"]) == (32 * GiB, True)


def test_given_machine_has_no_reboot_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    _, data = _json(
        [
            "check",
            "glm-4.7-flash:Q4_K_M",
            "--machine",
            "hp-zbook-ultra-g1a-64gb",
            "--carve-out",
            "32G",
        ]
    )
    assert (data["machine_source"], data["reboot_needed"]) == ("given", None)


def test_this_box_without_a_gpu_gets_a_cpu_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine with no GPU (CI, this sandbox) the answer is a CPU answer, not an error."""
    monkeypatch.delenv("VRAMTUI_SYSROOT", raising=False)
    code, data = _json(["check", "qwen3-32b:Q4_K_M", "-c", "4K"])
    assert code in (0, 1, 3)
    assert data["machine_source"] == "detected"
    if data["machine"] == "this-machine":
        assert data["backend"] == "cpu"
