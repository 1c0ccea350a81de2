"""check / recommend / machines / preset from the command line: exit codes are an API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vramtui.cli.main import main
from vramtui.core.hardware.presets import get_machine

HP = ["--machine", "hp-zbook-ultra-g1a-64gb"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "check", "glm-4.7-flash:Q4_K_M", *HP, "--carve-out", "32G", "--json"
    )
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "fits"
    assert {
        "reasons",
        "dedicated_used_bytes",
        "shared_used_bytes",
        "system_ram_left_bytes",
        "decode_tokens_per_second",
    } <= set(data)
    code, out, _ = _run(
        capsys, "check", "glm-4.7-flash:Q4_K_M", *HP, "--carve-out", "512M", "-c", "16384", "--json"
    )
    assert code == 1 and "spills_to_shared" in json.loads(out)["reasons"]
    code, out, _ = _run(
        capsys,
        "check",
        "qwen3-vl-32b:Q6_K",
        *HP,
        "--carve-out",
        "48G",
        "-c",
        "16384",
        "--runtime",
        "lmstudio",
        "--json",
    )
    assert code == 3 and "load_exceeds_system_ram" in json.loads(out)["reasons"]
    code, out, _ = _run(capsys, "check", "qwen3-vl-32b:Q6_K", *HP, "--carve-out", "48G")
    assert code == 3 and "will not fit" in out


def test_check_without_a_carve_out_answers_at_the_default_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Like plan, recommend and the app: the preset's default step, and the answer says so."""
    code, out, _ = _run(capsys, "check", "glm-4.7-flash:Q4_K_M", *HP, "--json")
    data = json.loads(out)
    default = get_machine("hp-zbook-ultra-g1a-64gb").default_carve_out_bytes
    assert data["carve_out_bytes"] == default and data["carve_out_source"] == "default"
    assert code == data_exit(data["verdict"])
    _, text, _ = _run(capsys, "check", "glm-4.7-flash:Q4_K_M", *HP)
    assert "the machine's default step" in text


def data_exit(verdict: str) -> int:
    return {"fits": 0, "fits_with_warnings": 1, "will_not_fit": 3}[verdict]


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "glm-4.7-flash:Q4_K_M", "--machine", "nope", "--carve-out", "32G"],
        ["check", "glm-4.7-flash:Q4_K_M", *HP, "--carve-out", "lots"],
        ["check", "glm-4.7-flash:Q4_K_M", *HP, "--carve-out", "64G"],
        ["check", "glm-4.7-flash:Q4_K_M", *HP, "--backend", "metal"],
        ["check", *HP, "--carve-out", "32G"],
        ["check", "glm-4.7-flash:Q4_K_M", *HP, "--carve-out", "32G", "--gtt", "pages=x"],
        ["check", "glm-4.7-flash:Q4_K_M", *HP, "--carve-out", "32G", "--preset", "missing"],
    ],
)
def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2 and err.startswith("vramtui: ") and "Traceback" not in err


def test_machines_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "machines", "--json")
    data = json.loads(out)
    assert code == 0 and isinstance(data, list) and len(data) >= 10
    assert all(m["sources"] for m in data)


def test_recommend_marks_the_row(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "recommend",
        "glm-4.7-flash:Q4_K_M",
        *HP,
        "--runtime",
        "lmstudio",
        "-c",
        "16384",
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and data["recommended_carve_out_bytes"] == 32 << 30
    code, out, _ = _run(
        capsys,
        "recommend",
        "qwen3-vl-32b:Q4_K_M",
        "--machine",
        "framework-desktop-128gb",
        "-c",
        "16384",
    )
    assert code == 0 and "ttm.pages_limit=" in out.replace("\n", "")


def test_preset_flow(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = _run(
        capsys,
        "preset",
        "save",
        "glm",
        "glm-4.7-flash:Q4_K_M",
        *HP,
        "--carve-out",
        "512M",
        "-c",
        "16384",
        "--runtime",
        "lmstudio",
    )
    assert code == 0
    code, out, _ = _run(capsys, "check", "--preset", "glm", "--json")
    assert code == 1 and json.loads(out)["carve_out_bytes"] == 512 << 20
    code, out, _ = _run(capsys, "check", "--preset", "glm", "--carve-out", "32G", "--json")
    assert code == 0  # the flag overrides the preset
    code, _, _ = _run(capsys, "preset", "export", "glm", str(tmp_path / "share.toml"))
    assert code == 0
    code, _, err = _run(capsys, "preset", "import", str(tmp_path / "share.toml"))
    assert code == 2 and "force" in err
    code, _, _ = _run(capsys, "preset", "import", str(tmp_path / "share.toml"), "--name", "glm2")
    assert code == 0
    code, out, _ = _run(capsys, "preset", "list")
    assert "glm2" in out and "glm" in out
    code, out, _ = _run(capsys, "preset", "show", "glm2")
    assert "512M" in out
    assert _run(capsys, "preset", "delete", "glm2")[0] == 0
