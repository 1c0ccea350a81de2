"""Several models loaded at once (`--also`): the set is judged as one load in the same pools,
each model's share is listed, bad input is one line and exit code 2, and the set survives a
preset file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vramtui.cli.main import main
from vramtui.core.errors import PresetError
from vramtui.core.fit.set import MAX_SET_MODELS
from vramtui.core.scenario.also import AlsoModel, parse_also
from vramtui.core.scenario.files import Scenario, scenario_from_toml, scenario_to_toml

GLM = [
    "check",
    "glm-4.7-flash:Q4_K_M",
    *("--machine", "hp-zbook-ultra-g1a-64gb", "--carve-out", "32G", "--os", "windows"),
    *("--runtime", "llamacpp", "-c", "16K"),
]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, err = _run(capsys, *argv, "--json")
    assert code != 2, err
    return code, json.loads(out)


def test_a_70b_beside_glm_will_not_fit(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = _json(capsys, *GLM, "--also", "llama-3.3-70b:Q4_K_M -c 8K")
    assert code == 3 and data["verdict"] == "will_not_fit"
    assert data["system_ram_left_bytes"] is None
    refs = [m["model_ref"] for m in data["models"]]
    assert refs == ["glm-4.7-flash:Q4_K_M", "llama-3.3-70b:Q4_K_M"]
    assert all(m["decode_tokens_per_second"] is None for m in data["models"])


def test_an_8b_beside_glm_fits_and_takes_its_weights(capsys: pytest.CaptureFixture[str]) -> None:
    _, alone = _json(capsys, *GLM)
    code, data = _json(capsys, *GLM, "--also", "llama-3.1-8b:Q4_K_M -c 4K")
    assert code in (0, 1) and data["verdict"] != "will_not_fit"
    glm, small = data["models"]
    assert (glm["model_ref"], small["model_ref"]) == ("glm-4.7-flash:Q4_K_M", "llama-3.1-8b:Q4_K_M")
    assert small["ctx_size"] == 4096
    grown = data["gpu_memory_used_bytes"] - alone["gpu_memory_used_bytes"]
    assert grown >= small["estimate"]["weights_device_bytes"] > 0
    # Each share is that model's own buffers; together they are the set's GPU memory.
    assert glm["device_bytes"] + small["device_bytes"] == (
        data["dedicated_used_bytes"] + data["shared_used_bytes"]
    )
    assert data["system_ram_left_bytes"] < alone["system_ram_left_bytes"]
    for m in data["models"]:
        low, high = m["decode_tokens_per_second_busy_range"]
        assert 0 < low <= high <= m["decode_tokens_per_second"]
    # The first model alone in the set is as fast as alone on the machine (nothing spills).
    assert glm["decode_tokens_per_second"] == alone["decode_tokens_per_second"]


def test_text_lists_the_set_with_the_json_figures(capsys: pytest.CaptureFixture[str]) -> None:
    _, data = _json(capsys, *GLM, "--also", "llama-3.1-8b:Q4_K_M -c 4K")
    code, out, _ = _run(capsys, *GLM, "--also", "llama-3.1-8b:Q4_K_M -c 4K")
    assert code == (0 if data["verdict"] == "fits" else 1)
    assert "2 models loaded at the same time" in out
    for m in data["models"]:
        line = next(x for x in out.splitlines() if f"({m['model_ref']})" in x)
        assert f"ctx {m['ctx_size']}" in line
        low, high = m["decode_tokens_per_second_range"]
        assert low <= m["decode_tokens_per_second"] <= high
        assert f"{_tps(low)}\u2013{_tps(high)} tok/s alone" in line


def _tps(value: float) -> str:
    """A rate as the words print it: whole numbers from 10 up, one decimal below."""
    return f"{value:.0f}" if round(value, 1) >= 10 else f"{value:.1f}"


def test_the_same_model_twice_takes_twice_its_share(capsys: pytest.CaptureFixture[str]) -> None:
    one = ["--also", "llama-3.1-8b:Q4_K_M -c 4K"]
    _, a = _json(capsys, *GLM, *one)
    _, b = _json(capsys, *GLM, *one, *one)
    extra = b["gpu_memory_used_bytes"] - a["gpu_memory_used_bytes"]
    assert extra == a["models"][1]["device_bytes"]


@pytest.mark.parametrize(
    ("also", "said"),
    [
        ("nosuch-model:Q4_K_M", "nosuch-model:Q4_K_M"),
        ("llama-3.1-8b:Q4_K_M --bogus 3", "--bogus"),
        ("llama-3.1-8b:Q4_K_M -c", "-c needs a value"),
        ("llama-3.1-8b:Q4_K_M -np 0", "parallel"),
        ("llama-3.1-8b:Q4_K_M -ctk q9_9", "cache-type-k"),
        ("llama-3.1-8b:Q4_K_M 'unclosed", "--also"),
    ],
)
def test_bad_also_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], also: str, said: str
) -> None:
    code, out, err = _run(capsys, *GLM, "--also", also)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and said in err and "--also" in err


def test_a_model_repeated_100_times_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [w for _ in range(100) for w in ("--also", "llama-3.1-8b:Q4_K_M")]
    code, _, err = _run(capsys, *GLM, *argv)
    assert code == 2 and err.count("\n") == 1
    assert f"at most {MAX_SET_MODELS} models" in err


def test_the_cap_itself_is_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [w for _ in range(MAX_SET_MODELS - 1) for w in ("--also", "llama-3.1-8b:Q4_K_M -c 1K")]
    code, data = _json(capsys, *GLM, *argv)
    assert len(data["models"]) == MAX_SET_MODELS and code in (0, 1, 3)


def test_also_reads_flags_by_the_one_settings_table() -> None:
    a = parse_also("llama-3.1-8b:Q4_K_M -c 8K -np 2 -ctk q8_0 --no-mmap")
    assert (a.settings.ctx_size, a.settings.parallel, a.settings.cache_type_k) == (8192, 2, "q8_0")
    assert a.settings.mmap is False and a.ctx_said
    assert parse_also(a.text) == a  # written back by the same table
    assert not parse_also("llama-3.1-8b:Q4_K_M").ctx_said


def test_a_set_survives_a_preset_file() -> None:
    s = Scenario(
        name="chat-and-helper",
        model_ref="glm-4.7-flash:Q4_K_M",
        machine_id="hp-zbook-ultra-g1a-64gb",
        also=(
            parse_also("llama-3.1-8b:Q4_K_M -c 4K -np 2"),
            AlsoModel("qwen3-0.6b:Q8_0", mmproj="none", ctx_said=False),
        ),
    )
    text = scenario_to_toml(s)
    assert "[[also]]" in text
    assert scenario_from_toml(text, "x.toml") == s


def test_bad_also_in_a_preset_names_the_field() -> None:
    text = 'model = "m"\n[machine]\nid = "x"\n[[also]]\nmodel = "y"\n'
    text += "[also.settings]\nparallel = 0\n"
    with pytest.raises(PresetError, match=r"also\[0\]\.settings\.parallel"):
        scenario_from_toml(text, "x.toml")


def test_preset_with_also_answers_as_the_flags(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    flags = [*GLM, "--also", "llama-3.1-8b:Q4_K_M -c 4K"]
    path = tmp_path / "set.toml"
    s = Scenario(
        name="set",
        model_ref="glm-4.7-flash:Q4_K_M",
        machine_id="hp-zbook-ultra-g1a-64gb",
        also=(parse_also("llama-3.1-8b:Q4_K_M -c 4K"),),
    )
    path.write_text(scenario_to_toml(s))
    _, by_flags = _json(capsys, *flags)
    _, by_file = _json(capsys, *GLM, "--preset", str(path))
    assert by_file["models"] == by_flags["models"]
    assert by_file["gpu_memory_used_bytes"] == by_flags["gpu_memory_used_bytes"]


def test_plan_for_a_set_is_checked_by_the_set_fit(capsys: pytest.CaptureFixture[str]) -> None:
    plan = ["plan", *GLM[1:]]
    plan[plan.index("--carve-out") + 1] = "512M"
    also = ["--also", "llama-3.1-8b:Q4_K_M -c 4K"]
    code, data = _json(capsys, *plan, *also)
    assert code == 0 and data["verdict"] == "fits" and data["reboot_needed"]
    carve = data["carve_out_bytes"]
    # The step it names runs the set in `check` with the same answer.
    step = f"{carve >> 30}G"
    check = [*GLM, *also]
    check[check.index("--carve-out") + 1] = step
    _, checked = _json(capsys, *check)
    assert checked["verdict"] == "fits"
    assert checked["system_ram_left_bytes"] == data["system_ram_left_bytes"]
    lines = data["commands"]["llama_server"]
    assert len(lines) == 2 and len({line.split("--port ")[1] for line in lines}) == 2
    assert "-c 4096" in lines[1] and "-c 16384" in lines[0]
    assert "m1 & m2" in data["commands"]["llama_swap"]
    code, out, _ = _run(capsys, *plan, *also)
    assert code == 0 and "Run these 2 models together: fits" in out and lines[1] in out
    # The BIOS line, the path hint and the platform's steps are the one-model plan's own.
    _, single, _ = _run(capsys, *plan)
    bios = single.split(". Run ")[0] + "."
    assert out.splitlines()[0] == bios
    for block in ("(replace each <path to ...> with the file on your disk)", "Platform:"):
        assert (block in out) == (block in single)
    assert data["platform_steps"] and data["current_carve_out_source"]


def test_plan_steps_a_quant_down_when_nothing_else_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["plan", "glm-4.7-flash:Q4_K_M", "--machine", "framework-desktop-128gb"]
    also = ["--also", "llama-3.3-70b:Q8_0 -c 4K", "--also", "qwen3-32b:Q8_0"]
    code, data = _json(capsys, *base, *also)
    assert code in (0, 1) and data["verdict"] != "will_not_fit"
    asked = [m["asked"] for m in data["models"]]
    refs = [m["model_ref"] for m in data["models"]]
    assert asked == ["glm-4.7-flash:Q4_K_M", "llama-3.3-70b:Q8_0", "qwen3-32b:Q8_0"]
    assert refs != asked  # a smaller quant was needed, and the plan says which
    # As asked, no step runs the set; as planned, check agrees with the plan.
    carve = f"{data['carve_out_bytes'] >> 30}G"
    check = ["check", "glm-4.7-flash:Q4_K_M", "--machine", "framework-desktop-128gb"]
    check += ["--carve-out", carve]
    code, asked_set = _json(capsys, *check, *also)
    assert asked_set["verdict"] == "will_not_fit"
    planned = [
        w
        for r, m in zip(refs[1:], data["models"][1:], strict=True)
        for w in ("--also", f"{r} -c {m['ctx_size']}")
    ]
    _, checked = _json(capsys, *check, *planned)
    assert checked["verdict"] == data["verdict"]
    assert checked["system_ram_left_bytes"] == data["system_ram_left_bytes"]


def test_preset_save_keeps_the_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VRAMTUI_CONFIG_DIR", str(tmp_path))
    also = ["--also", "llama-3.1-8b:Q4_K_M -c 4K -np 2"]
    code, _, err = _run(capsys, "preset", "save", "myset", *GLM[1:], *also)
    assert code == 0, err
    _, by_flags = _json(capsys, *GLM, *also)
    _, by_name = _json(capsys, "check", "--preset", "myset")
    assert by_name["models"] == by_flags["models"]
    assert by_name["verdict"] == by_flags["verdict"]
