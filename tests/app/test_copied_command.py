"""The `vramtui check` line the app copies answers exactly what the screen shows.

Random scenarios (seeded) are set in the real app; each copied command is run through the real
CLI with --json and its verdict, reasons and every number are compared with the screen's fit.
"""

from __future__ import annotations

import io
import json
import random
import shlex
from contextlib import redirect_stdout
from dataclasses import replace
from typing import Any

from tests.app.conftest import main_screen, make_app, settle
from vramtui.app.presets import check_command
from vramtui.app.state import Choice
from vramtui.cli.main import main
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine, load_machines
from vramtui.core.sizes import GiB

MODELS = ("glm-4.7-flash:Q4_K_M", "qwen3-vl-32b:Q6_K", "qwen3-32b:Q4_K_M", "gpt-oss-20b:MXFP4")
OS_FOR = {"windows": ("windows", "linux"), "linux": ("linux", "windows"), "macos": ("macos",)}


def _random_choice(rng: random.Random, current: Choice) -> Choice:
    machine = rng.choice(load_machines().machines)
    changes: dict[str, Any] = {
        "os": rng.choice(OS_FOR[machine.default_os]),
        "runtime": rng.choice(("llamacpp", "lmstudio", "ollama")),
        "backend": rng.choice((machine.default_backend, "cpu")),
    }
    if machine.carve_out_steps and not machine.discrete:
        changes["carve_out_bytes"] = rng.choice(machine.carve_out_steps)
    if changes["os"] == "linux" and rng.random() < 0.5:
        changes["gtt_bytes"] = rng.choice((8, 24, 60, 100)) * GiB
    if rng.random() < 0.3:
        changes["os_baseline_bytes"] = rng.choice((2, 6, 8)) * GiB
    fa = rng.choice(("auto", "on", "off"))
    settings = RuntimeSettings(
        ctx_size=rng.choice((4096, 16384, 32768, 131072)),
        parallel=rng.choice((1, 1, 4)),
        cache_type_k=rng.choice(("f16", "q8_0")),
        cache_type_v=rng.choice(("f16", "q8_0")) if fa == "on" else "f16",
        flash_attn=fa,
        mmap=rng.random() < 0.7,
        keep_in_memory=rng.random() < 0.3,
        kv_unified=rng.random() < 0.2,
        n_gpu_layers=rng.choice((None, None, 20)),
    )
    model = rng.choice(MODELS)
    return replace(
        current,
        model_ref=model,
        spec=open_catalog_model(model),
        settings=settings,
        machine=MachineState.default_for(get_machine(machine.id), **changes),
        projector=rng.random() < 0.7,
    )


def _run_check(command: str) -> tuple[int, dict[str, Any] | None]:
    argv = shlex.split(command)
    assert argv[:2] == ["vramtui", "check"], command
    out = io.StringIO()
    with redirect_stdout(out):
        code = main([*argv[1:], "--json"])
    return code, json.loads(out.getvalue()) if out.getvalue() else None


def _same(fit: FitResult, data: dict[str, Any], command: str) -> None:
    shown = fit.to_json()
    for key in (
        "verdict",
        "reasons",
        "dedicated_used_bytes",
        "shared_used_bytes",
        "system_ram_left_bytes",
        "load_peak_bytes",
        "gpu_left_bytes",
        "n_gpu_layers",
        "backend",
        "decode_tokens_per_second",
        "prefill_tokens_per_second",
        "time_to_first_token_s",
        "pools",
        "pool_usage",
        "estimate",
    ):
        assert data[key] == json.loads(json.dumps(shown[key])), f"{key} differs for {command}"


async def test_copied_command_reproduces_the_screen_for_random_scenarios() -> None:
    rng = random.Random(20261130)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        answered = 0
        for _ in range(16):
            assert screen.choice is not None
            screen.update_choice(_random_choice(rng, screen.choice))
            await pilot.pause()
            evaluation = screen.evaluation
            assert evaluation is not None
            command = check_command(evaluation.choice)
            code, data = _run_check(command)
            if evaluation.fit is None:  # a setting llama.cpp refuses: the CLI refuses it too
                assert (code, data) == (2, None), command
                continue
            assert data is not None, command
            _same(evaluation.fit, data, command)
            assert code == evaluation.fit.verdict.exit_code
            answered += 1
        assert answered >= 10


async def test_lm_studio_warning_survives_the_copied_command() -> None:
    """Qwen3-VL-32B Q6_K at 32 GB under LM Studio: the screen says "fits with warnings"; the
    copied command once dropped the runtime and said "fits", exit 0."""
    app = make_app(model="qwen3-vl-32b:Q6_K", carve_out="32G")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.choice is not None
        lms = screen.choice.with_machine(runtime="lmstudio")
        screen.update_choice(replace(lms, settings=lms.settings.with_changes(mmap=False)))
        await pilot.pause()
        evaluation = screen.evaluation
        assert evaluation is not None and evaluation.fit is not None
        assert evaluation.fit.verdict == "fits_with_warnings"
        command = check_command(evaluation.choice)
        assert "--runtime lmstudio" in command and "--no-mmap" in command
        code, data = _run_check(command)
        assert data is not None and (code, data["verdict"]) == (1, "fits_with_warnings")
