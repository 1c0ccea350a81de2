"""Verdicts a person can trust: the desktop's share, GPU memory as Task Manager
shows it, impossible setups refused, answers that never contradict themselves, one unit
convention and a CLI that behaves as an API."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from vramtui.app.factory import create_app
from vramtui.cli.main import main
from vramtui.core.advice.actions import advise
from vramtui.core.advice.recommend import recommend
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import evaluate_fit
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB, MiB, format_bytes, format_gib, parse_size
from vramtui.present.fit_words import (
    measured_evidence,
    no_advice_sentence,
    recommendation_sentence,
)
from vramtui.present.reasons import reason_text

LAPTOP = ["--machine", "hp-zbook-ultra-g1a-64gb"]


def _check(*argv: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["check", *argv, "--json"])
    return code, json.loads(out.getvalue()) if out.getvalue() else {}


def test_the_48_plus_16_desktop_warns_whatever_the_model() -> None:
    code, data = _check("llama-3.1-8b:Q4_K_M", *LAPTOP, "--carve-out", "48G")
    assert (code, data["verdict"]) == (1, "fits_with_warnings")
    assert "desktop_ram_low" in data["reasons"]
    _, data = _check("llama-3.1-8b:Q4_K_M", *LAPTOP, "--carve-out", "32G")
    assert "desktop_ram_low" not in data["reasons"]
    # The threshold is the user's to set.
    _, data = _check("llama-3.1-8b:Q4_K_M", *LAPTOP, "--carve-out", "48G", "--desktop-ram", "8G")
    assert "desktop_ram_low" not in data["reasons"]


@pytest.mark.parametrize(
    ("model", "carve", "ctx", "task_manager_gib"),
    [
        ("glm-4.7-flash:Q4_K_M", "512M", "16384", 20.8),
        ("glm-4.7-flash:Q4_K_M", "32G", "16384", 21.3),
        ("qwen3-vl-32b:Q4_K_M", "512M", "16384", 25.8),
        ("qwen3-vl-32b:Q4_K_M", "512M", "24576", 28.3),
    ],
)
def test_gpu_memory_used_explains_the_zbook_articles_task_manager_figures(
    model: str, carve: str, ctx: str, task_manager_gib: float
) -> None:
    """LM Studio defaults on Windows (Task Manager's "GB" are GiB), within 10 %."""
    _, data = _check(model, *LAPTOP, "--carve-out", carve, "-c", ctx, "--runtime", "lmstudio")
    used = data["gpu_memory_used_bytes"] / GiB
    assert abs(used / task_manager_gib - 1) <= 0.10, (used, task_manager_gib)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--backend", "cuda"], "cannot run on hp-zbook-ultra-g1a-64gb"),
        (["--backend", "metal"], "cannot run on hp-zbook-ultra-g1a-64gb"),
        (["--os", "macos"], "does not run macOS"),
        (["--carve-out", "512"], "512 what? say 512M or 512G"),
        (["--carve-out", "32B"], "less than 1 MiB"),
        (["--carve-out", "1e300T"], "not a size"),
        (["--carve-out", "9" * 400 + "G"], "not a size"),
    ],
)
def test_setups_that_cannot_exist_are_refused(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", "glm-4.7-flash:Q4_K_M", *LAPTOP, *flags]
    if "--carve-out" not in flags:
        argv += ["--carve-out", "32G"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_carve_out_on_a_machine_without_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "glm-4.7-flash:Q4_K_M", "--machine", "apple-m4-max-128gb", "--carve-out", "8G"]
    assert main(argv) == 2
    assert "has no carve-out setting" in capsys.readouterr().err


def test_a_carve_out_that_is_not_a_bios_step_is_flagged_with_the_nearest() -> None:
    code, data = _check("glm-4.7-flash:Q4_K_M", *LAPTOP, "--carve-out", "33G")
    assert "carve_out_not_a_step" in data["reasons"] and code >= 1
    message = next(m["message"] for m in data["messages"] if m["code"] == "carve_out_not_a_step")
    assert "nearest: 32 GiB or 48 GiB" in message


def test_will_not_fit_has_no_speed_and_no_ram_left() -> None:
    code, data = _check("qwen3-vl-32b:Q6_K", *LAPTOP, "--carve-out", "48G", "-c", "16384")
    assert (code, data["verdict"]) == (3, "will_not_fit")
    for key in (
        "decode_tokens_per_second",
        "prefill_tokens_per_second",
        "time_to_first_token_s",
        "speed",
        "system_ram_left_bytes",
        "gpu_left_bytes",
    ):
        assert data[key] is None, key
    assert "slow_decode" not in data["reasons"]


def test_no_negative_bytes_anywhere() -> None:
    _, data = _check("qwen3-235b-a22b:Q4_K_M", *LAPTOP, "--carve-out", "512M", "-c", "max")

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            assert value >= 0, path

    walk(data, "check")
    assert format_bytes(-5 * GiB) == "0 B" and format_gib(-1) == "0 GiB"


def _state(machine: str, **changes: Any) -> MachineState:
    return MachineState.default_for(get_machine(machine), **changes)


def test_advice_fits_the_case() -> None:
    ref = "qwen3-235b-a22b:Q4_K_M"
    spec = open_catalog_model(ref)
    assert spec is not None
    smallest = _state("hp-zbook-ultra-g1a-64gb", carve_out_bytes=512 * MiB)
    fit = evaluate_fit(spec, RuntimeSettings(), smallest)
    assert fit.verdict == "will_not_fit"
    items = advise(spec, RuntimeSettings(), smallest, fit, model_ref=ref)
    # Nothing that was tried runs a 235B model on 64 GB: no advice rather than a wrong one.
    assert all(item.fit.runs for item in items)
    assert no_advice_sentence(fit) is not None


def test_zbook_measurements_are_quoted_only_on_the_zbooks_class_of_machine() -> None:
    spec = open_catalog_model("glm-4.7-flash:Q4_K_M")
    assert spec is not None
    laptop = _state("hp-zbook-ultra-g1a-64gb", carve_out_bytes=512 * MiB)
    fit = evaluate_fit(spec, RuntimeSettings(), laptop)
    spill = next(r for r in fit.reasons if r.code == "spills_to_shared")
    assert "17.26" not in reason_text(spill)  # the reason speaks of this model only
    evidence = measured_evidence(spill, laptop)
    assert evidence is not None and "2026-02-02" in evidence
    linux = _state("hp-zbook-ultra-g1a-64gb", carve_out_bytes=512 * MiB, os="linux")
    assert measured_evidence(spill, linux) is None


def test_recommended_only_for_a_clean_step() -> None:
    spec = open_catalog_model("qwen3-vl-32b:Q6_K")
    assert spec is not None
    state = _state("hp-zbook-ultra-g1a-64gb", runtime="lmstudio")
    rec = recommend(spec, RuntimeSettings(ctx_size=16384, mmap=False), state)
    assert rec.recommended_index is not None
    sentence = recommendation_sentence(rec)
    if rec.rows[rec.recommended_index].fit.verdict == "fits":
        assert sentence.startswith("★ recommended")
    else:
        assert sentence.startswith("★ best available") and "with warnings" in sentence


def test_units_are_binary_and_say_so() -> None:
    assert format_bytes(512 * MiB) == "512 MiB"
    assert format_bytes(int(18.3 * GiB)) == "18.3 GiB"
    assert parse_size("32G") == 32 * GiB == parse_size("32GiB")


def test_one_default_context_for_cli_and_app() -> None:
    app = create_app(machine="hp-zbook-ultra-g1a-64gb", discover=False)
    assert app._choice.settings.ctx_size == RuntimeSettings().ctx_size == 16384
    _, data = _check("glm-4.7-flash:Q4_K_M", *LAPTOP, "--carve-out", "32G")
    assert data["estimate"]["n_ctx"] == 16384


@pytest.mark.parametrize(("text", "ctx"), [("16K", 16384), ("16k", 16384), ("max", 202752)])
def test_context_as_the_app_accepts_it(text: str, ctx: int) -> None:
    _, data = _check("glm-4.7-flash:Q4_K_M", *LAPTOP, "--carve-out", "32G", "-c", text)
    assert data["estimate"]["n_ctx"] == ctx


def _run(command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


VRAMTUI = f"{sys.executable} -m vramtui"


def test_exit_code_survives_a_closed_stdout() -> None:
    done = _run(f"{VRAMTUI} check qwen3-vl-32b:Q6_K {' '.join(LAPTOP)} --carve-out 48G | head -1")
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_piped_output_is_not_wrapped_mid_phrase() -> None:
    done = _run(f"{VRAMTUI} check llama-3.1-8b:Q4_K_M {' '.join(LAPTOP)} --carve-out 48G | cat")
    line = next(x for x in done.stdout.splitlines() if "desktop_ram_low" in x)
    assert line.rstrip().endswith("so expect stutter")


def test_machines_never_truncates_ids() -> None:
    done = _run(f"COLUMNS=60 {VRAMTUI} machines")
    assert "hp-zbook-ultra-g1a-64gb" in done.stdout and "framework-desktop-128gb" in done.stdout


def test_image_size_sets_the_image_tokens_of_a_vision_prompt() -> None:
    args = ("qwen3-vl-32b:Q4_K_M", *LAPTOP, "--carve-out", "512M", "--runtime", "lmstudio")
    _, small = _check(*args, "--image-size", "1280x720")
    _, large = _check(*args, "--image-size", "2560x1440")
    assert small["speed"]["image_tokens"] < large["speed"]["image_tokens"]
    assert (
        small["speed"]["time_to_first_token_image_s"]
        < large["speed"]["time_to_first_token_image_s"]
    )
    with pytest.raises(SystemExit) as refused:
        main(["check", *args, "--image-size", "huge"])
    assert refused.value.code == 2
