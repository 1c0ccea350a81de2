"""`vramtui preset ...` and `--preset` on model commands: exit codes, one-line errors, no loss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vramtui.cli.common import (
    ArgumentParser,
    add_model_args,
    add_runtime_args,
    resolve_model_and_settings,
)
from vramtui.cli.main import main
from vramtui.core.paths import scenario_presets_dir
from vramtui.core.scenario.files import load_scenario

GiB = 1024**3
MACHINE = "hp-zbook-ultra-g1a-64gb"
FRIEND = """\
format = 1
name = "glm-flash-zbook-32g"
model = "glm-4.7-flash:Q4_K_M"
[machine]
id = "hp-zbook-ultra-g1a-64gb"
carve_out = "32G"
os = "windows"
[settings]
ctx_size = 16384
flash_attn = "on"
"""


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_save_show_list_export_import_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "preset",
            "save",
            "glm32",
            "glm-4.7-flash:Q4_K_M",
            "--machine",
            MACHINE,
            "--carve-out",
            "32G",
            "--os",
            "linux",
            "--gtt",
            "48G",
            "-c",
            "16384",
            "-ctk",
            "Q8_0",
            "-fa",
            "on",
            "--description",
            "my setup",
        ]
    )
    assert code == 0
    s = load_scenario("glm32")
    assert (s.model_ref, s.machine_id, s.carve_out_bytes, s.os, s.gtt_bytes) == (
        "glm-4.7-flash:Q4_K_M",
        MACHINE,
        32 * GiB,
        "linux",
        48 * GiB,
    )
    assert (s.settings.ctx_size, s.settings.cache_type_k, s.settings.flash_attn) == (
        16384,
        "q8_0",
        "on",
    )
    assert s.description == "my setup"
    capsys.readouterr()

    assert main(["preset", "show", "glm32"]) == 0
    out = capsys.readouterr().out
    assert 'carve_out = "32G"' in out and "ctx_size = 16384" in out

    assert main(["preset", "show", "glm32", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["machine"]["carve_out_bytes"] == 32 * GiB
    assert data["settings"]["ctx_size"] == 16384

    assert main(["preset", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["name"] == "glm32" and row["ok"] and row["error"] is None

    dest = tmp_path / "share.toml"
    assert main(["preset", "export", "glm32", str(dest)]) == 0
    assert main(["preset", "import", str(dest), "--name", "copy"]) == 0
    assert load_scenario("copy").settings == s.settings
    assert main(["preset", "delete", "glm32"]) == 0
    assert main(["preset", "delete", "copy"]) == 0
    assert sorted(os.listdir(scenario_presets_dir())) == []


def test_save_from_a_file_with_overrides(tmp_path: Path) -> None:
    friend = tmp_path / "friend.toml"
    friend.write_text(FRIEND, encoding="utf-8")
    assert (
        main(["preset", "save", "mine", "--from", str(friend), "--carve-out", "48G", "-c", "8192"])
        == 0
    )
    s = load_scenario("mine")
    assert (s.name, s.carve_out_bytes, s.os) == ("mine", 48 * GiB, "windows")
    assert (s.settings.ctx_size, s.settings.flash_attn) == (8192, "on")


def test_save_without_model_or_machine_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preset", "save", "x", "some-model"]) == 2
    assert "--machine" in _one_error_line(capsys.readouterr().err)
    assert main(["preset", "save", "Bad Name", "m", "--machine", MACHINE]) == 2
    assert "name" in _one_error_line(capsys.readouterr().err)
    assert main(["preset", "save", "x", "m", "--machine", MACHINE, "--carve-out", "lots"]) == 2
    assert "--carve-out" in _one_error_line(capsys.readouterr().err)
    assert not scenario_presets_dir().exists() or os.listdir(scenario_presets_dir()) == []


def test_unknown_machine_is_saved_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preset", "save", "x", "m", "--machine", "friends-own-box"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "friends-own-box" in err
    assert load_scenario("x").machine_id == "friends-own-box"


def test_import_refuses_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    friend = tmp_path / "friend.toml"
    friend.write_text(FRIEND, encoding="utf-8")
    assert main(["preset", "save", "glm-flash-zbook-32g", "other-model", "--machine", MACHINE]) == 0
    saved = scenario_presets_dir() / "glm-flash-zbook-32g.toml"
    before = saved.read_bytes()
    capsys.readouterr()
    assert main(["preset", "import", str(friend)]) == 2
    assert "--force" in _one_error_line(capsys.readouterr().err)
    assert saved.read_bytes() == before
    assert main(["preset", "import", str(friend), "--force"]) == 0
    assert load_scenario("glm-flash-zbook-32g").model_ref == "glm-4.7-flash:Q4_K_M"
    assert sorted(os.listdir(saved.parent)) == ["glm-flash-zbook-32g.toml"]  # no temp files


def test_export_refuses_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preset", "save", "p", "m", "--machine", MACHINE]) == 0
    dest = tmp_path / "out.toml"
    dest.write_text("precious", encoding="utf-8")
    assert main(["preset", "export", "p", str(dest)]) == 2
    _one_error_line(capsys.readouterr().err)
    assert dest.read_text(encoding="utf-8") == "precious"
    assert main(["preset", "export", "p", str(dest), "--force"]) == 0
    assert load_scenario(str(dest)).name == "p"


def test_friends_typo_is_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    friend = tmp_path / "friend.toml"
    friend.write_text(FRIEND.replace("ctx_size", "ctx_sise"), encoding="utf-8")
    assert main(["preset", "import", str(friend)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "settings.ctx_sise" in line and "ctx_size" in line
    assert not scenario_presets_dir().exists() or os.listdir(scenario_presets_dir()) == []


def test_friends_typo_via_the_real_command(tmp_path: Path) -> None:
    friend = tmp_path / "friend.toml"
    friend.write_text(FRIEND.replace('os = "windows"', 'os = "windos"'), encoding="utf-8")
    env = dict(os.environ)
    env.pop("VRAMTUI_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "vramtui", "preset", "import", str(friend)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert "machine.os" in line and "did you mean windows?" in line
    assert proc.stdout == ""


def test_list_shows_broken_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preset", "save", "good", "m", "--machine", MACHINE]) == 0
    (scenario_presets_dir() / "bad.toml").write_text('model = "m"\nfoo bar\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["preset", "list"]) == 0
    out = capsys.readouterr().out
    assert "bad\tBROKEN:" in out and "line 2" in out
    assert out.splitlines()[1].startswith("good\tm\t")


def test_show_and_delete_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preset", "show", "nothing"]) == 2
    assert "none saved yet" in _one_error_line(capsys.readouterr().err)
    assert main(["preset", "delete", "nothing"]) == 2
    _one_error_line(capsys.readouterr().err)
    assert main(["preset"]) == 2
    _one_error_line(capsys.readouterr().err)


def _model_parser() -> ArgumentParser:
    p = ArgumentParser(prog="t")
    add_model_args(p)
    add_runtime_args(p)
    return p


def test_preset_flag_lays_command_line_flags_over_the_scenario(tmp_path: Path) -> None:
    friend = tmp_path / "friend.toml"
    friend.write_text(FRIEND, encoding="utf-8")
    args = _model_parser().parse_args(["--preset", str(friend), "-c", "4096"])
    model, _mmproj, settings = resolve_model_and_settings(args)
    assert model == "glm-4.7-flash:Q4_K_M"
    assert (settings.ctx_size, settings.flash_attn) == (4096, "on")
    args = _model_parser().parse_args(["other.gguf", "--preset", str(friend)])
    model, _mmproj, settings = resolve_model_and_settings(args)
    assert (model, settings.ctx_size) == ("other.gguf", 16384)


def test_model_still_required_without_preset(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _model_parser().parse_args(["-c", "10"])
    assert info.value.code == 2
    assert "--preset" in _one_error_line(capsys.readouterr().err)


def test_estimate_takes_model_and_settings_from_preset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    friend = tmp_path / "friend.toml"
    friend.write_text(FRIEND, encoding="utf-8")
    assert main(["estimate", "--preset", str(friend), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["settings"]["ctx_size"] == 16384
    assert data["settings"]["flash_attn"] == "on"
    assert main(["estimate", "--preset", str(friend), "-c", "2048", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["settings"]["ctx_size"], data["settings"]["flash_attn"]) == (2048, "on")


def test_estimate_with_a_broken_preset_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    friend = tmp_path / "friend.toml"
    friend.write_text(FRIEND.replace("ctx_size", "ctx_sise"), encoding="utf-8")
    assert main(["estimate", "--preset", str(friend)]) == 2
    assert "settings.ctx_sise" in _one_error_line(capsys.readouterr().err)
    assert main(["estimate", "--preset", "no-such-preset"]) == 2
    assert "no saved preset" in _one_error_line(capsys.readouterr().err)
