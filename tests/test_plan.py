"""The plan: BIOS carve-out, context and the command lines, and `vramtui plan`."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.gguf_files import write_tiny_model
from tests.test_detect import hp_zbook_tree, make_tree
from vramtui.cli.main import main
from vramtui.core.advice.plan import build_plan, run_commands
from vramtui.core.advice.recommend import CTX_STEP
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import evaluate_fit
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.model.source import open_model
from vramtui.core.sizes import GiB, MiB
from vramtui.present.plan_words import plan_sentence


def _state(machine_id: str, carve: int = 0, os_name: str | None = None) -> MachineState:
    m = get_machine(machine_id)
    return MachineState.default_for(m, carve_out_bytes=carve, os=os_name or m.default_os)


def test_zbook_laptop_at_512_mb_needs_32_gb_and_a_reboot() -> None:
    spec = open_model("glm-4.7-flash:Q4_K_M")
    state = _state("hp-zbook-ultra-g1a-64gb", 512 * MiB, "windows")
    plan = build_plan(spec, RuntimeSettings(ctx_size=16384), state, ctx_given=True)
    rec = plan.recommendation
    assert rec.recommended_index is not None
    assert plan.carve_out_bytes == rec.rows[rec.recommended_index].carve_out_bytes == 32 * GiB
    assert plan.reboot_needed and plan.current_carve_out_bytes == 512 * MiB
    bios = "Set the BIOS carve-out to 32 GiB (now 512 MiB: reboot needed)."
    assert plan_sentence(plan).startswith(bios)
    assert "at 16K context" in plan_sentence(plan) and "left for Windows" in plan_sentence(plan)
    assert plan.fit is not None and plan.fit.verdict == "fits"
    c = plan.commands
    assert c is not None
    argv = shlex.split(c.llama_server.replace("<", "'<").replace(".gguf>", ".gguf>'"))
    assert argv[0] == "llama-server" and argv[argv.index("-c") + 1] == "16384"
    assert argv[argv.index("-ngl") + 1] == "all"  # llama.cpp's own spelling of every layer
    assert argv[argv.index("-fa") + 1] == "off"  # MLA heads: no flash attention on Vulkan
    assert argv[argv.index("-np") + 1] == "1"
    assert not c.model_path_known and "glm-4.7-flash-Q4_K_M.gguf" in c.llama_server
    assert c.lmstudio["Context Length"] == 16384 and c.lmstudio["Flash Attention"] is False
    assert c.lmstudio["Keep Model in Memory"] is False  # GPU memory is system RAM here
    assert c.lms_load == "lms load glm-4.7-flash --gpu max --context-length 16384"
    assert c.ollama_options == {"num_ctx": 16384, "num_gpu": 999}
    assert c.ollama_env == {"OLLAMA_FLASH_ATTENTION": "0"}


def test_no_reboot_when_the_current_carve_out_already_runs_it() -> None:
    spec = open_model("glm-4.7-flash:Q4_K_M")
    state = _state("hp-zbook-ultra-g1a-64gb", 32 * GiB, "windows")
    plan = build_plan(spec, RuntimeSettings(ctx_size=16384), state, ctx_given=True)
    assert not plan.reboot_needed and plan.carve_out_bytes == 32 * GiB
    assert plan_sentence(plan).startswith(
        "Keep the BIOS carve-out at 32 GiB (now 32 GiB: no reboot"
    )


def test_a_clean_current_carve_out_is_kept_though_a_smaller_one_would_do() -> None:
    # recommend() prefers the step leaving the OS the most RAM; a plan does not send the user
    # through a reboot for that when the model already runs cleanly.
    spec = open_model("llama-3.1-8b:Q4_K_M")
    state = _state("framework-desktop-128gb", 64 * GiB, "linux")
    plan = build_plan(spec, RuntimeSettings(), state)
    rec = plan.recommendation
    assert rec.recommended_index is not None
    assert rec.rows[rec.recommended_index].carve_out_bytes < 64 * GiB
    assert plan.carve_out_bytes == 64 * GiB and not plan.reboot_needed


def test_context_is_the_largest_that_runs_cleanly() -> None:
    spec = open_model("qwen3-vl-32b:Q4_K_M")
    state = _state("hp-zbook-ultra-g1a-64gb", 32 * GiB, "windows")
    plan = build_plan(spec, RuntimeSettings(), state)
    assert plan.ctx_size == plan.max_clean_context > 4096
    at = replace(state, carve_out_bytes=plan.carve_out_bytes or 0)
    fits = evaluate_fit(spec, RuntimeSettings(ctx_size=plan.ctx_size), at)
    beyond = evaluate_fit(spec, RuntimeSettings(ctx_size=plan.ctx_size + CTX_STEP), at)
    assert fits.verdict == "fits" and beyond.verdict != "fits"
    assert f"-c {plan.ctx_size} " in (plan.commands.llama_server if plan.commands else "")
    assert "at up to " in plan_sentence(plan)


def test_linux_offers_the_gtt_route_with_kernel_parameters() -> None:
    spec = open_model("llama-3.3-70b:Q8_0")
    plan = build_plan(
        spec, RuntimeSettings(), _state("framework-desktop-128gb", 512 * MiB, "linux")
    )
    gtt = plan.gtt_route
    assert gtt is not None and gtt.carve_out_bytes == 512 * MiB
    assert f"ttm.pages_limit={gtt.gtt_bytes // 4096}" in gtt.kernel_params
    assert plan.reboot_needed  # the default GTT (half the RAM) is too small for 75 GB
    assert gtt.verdict == "fits" and gtt.kernel_params in plan_sentence(plan)
    assert plan.to_json()["linux_gtt_route"]["kernel_params"] == gtt.kernel_params


def test_discrete_gpu_partial_offload_names_the_layers() -> None:
    spec = open_model("llama-3.3-70b:Q4_K_M")
    plan = build_plan(spec, RuntimeSettings(), _state("desktop-rtx-3090"))
    assert plan.fit is not None and not plan.has_carve_out and not plan.reboot_needed
    n, total = plan.fit.n_gpu_layers, plan.fit.breakdown.n_layers + 1
    assert 0 < n < total
    assert f"with {n} of {total} layers on the GPU" in plan_sentence(plan)
    assert "BIOS" not in plan_sentence(plan)
    c = plan.commands
    assert c is not None and f"-ngl {n} " in c.llama_server
    assert f"--gpu {n / total:.2f} " in c.lms_load and c.ollama_options["num_gpu"] == n


def test_nothing_runs_is_said_and_has_no_commands() -> None:
    spec = open_model("glm-4.7-flash:Q4_K_M")
    plan = build_plan(spec, RuntimeSettings(), _state("apple-m4-16gb"))
    assert plan.verdict == "will_not_fit" and plan.commands is None
    assert plan.carve_out_bytes is None and "does not run" in plan_sentence(plan)
    assert plan.to_json()["commands"] is None


def test_model_references_and_cache_types_in_the_commands(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "my model.gguf")
    spec = open_model(str(path))
    state = _state("framework-desktop-128gb", 64 * GiB, "linux")
    settings = RuntimeSettings(cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on")
    fit = evaluate_fit(spec, settings, state)
    c = run_commands(spec, fit, state)
    assert c.model_path_known and shlex.split(c.llama_server)[1:3] == ["-m", str(path)]
    assert "-ctk q8_0 -ctv q8_0" in c.llama_server and "-fa on" in c.llama_server
    assert c.ollama_env["OLLAMA_KV_CACHE_TYPE"] == "q8_0"
    assert c.lmstudio["K Cache Quantization Type"] == "q8_0"
    for source, expect in (
        (
            "hf:org/repo/sub/file-Q4_K_M.gguf@main",
            ["-hfr", "org/repo", "-hff", "sub/file-Q4_K_M.gguf"],
        ),
        ("hf:org/repo:Q4_K_M", ["-hf", "org/repo:Q4_K_M"]),
        ("https://example.test/m.gguf", ["-mu", "https://example.test/m.gguf"]),
    ):
        line = run_commands(replace(spec, source=source), fit, state).llama_server
        assert shlex.split(line)[1 : 1 + len(expect)] == expect


def test_cli_plan_json_with_a_machine(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "plan",
            "glm-4.7-flash:Q4_K_M",
            "--machine",
            "hp-zbook-ultra-g1a-64gb",
            "--carve-out",
            "512M",
            "--os",
            "windows",
            "-c",
            "16384",
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["verdict"] == "fits"
    assert data["reboot_needed"] is True and data["carve_out_bytes"] == 32 * GiB
    assert data["current_carve_out_bytes"] == 512 * MiB
    assert data["current_carve_out_source"] == "given"
    assert data["ctx_size"] == 16384 and data["commands"]["ollama_options"]["num_ctx"] == 16384
    code = main(["plan", "glm-4.7-flash:Q4_K_M", "--machine", "hp-zbook-ultra-g1a-64gb"])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "if still at the machine's default" in out
    for part in ("llama.cpp:", "llama-server ", "LM Studio:", "lms load ", "Ollama:", "num_ctx"):
        assert part in out


def test_cli_plan_without_machine_uses_the_detected_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(hp_zbook_tree(tmp_path)))
    code = main(["plan", "glm-4.7-flash:Q4_K_M", "-c", "16384", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    assert data["machine"] == "hp-zbook-ultra-g1a-64gb" and data["os"] == "linux"
    assert data["current_carve_out_bytes"] == 512 * MiB
    assert data["current_carve_out_source"] == "detected"
    assert data["reboot_needed"] == (data["carve_out_bytes"] != 512 * MiB)


def test_cli_plan_on_a_machine_without_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(make_tree(tmp_path, installed=32 * GiB)))
    assert main(["plan", "llama-3.1-8b:Q4_K_M"]) == 0
    out = capsys.readouterr().out
    assert "on the CPU" in out and " -ngl 0 " in out and "BIOS" not in out


def test_cli_plan_exit_3_when_nothing_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "glm-4.7-flash:Q4_K_M", "--machine", "apple-m4-16gb"]) == 3
    assert "does not run" in capsys.readouterr().out
