"""`recommend` and `plan` propose --n-cpu-moe for MoE models that do not fit the GPU: the
smallest value that fits, beside the spill option, the faster one marked."""

from __future__ import annotations

import json

import pytest

from vramtui.cli.main import main
from vramtui.core.advice.moe_offload import N_CPU_MOE, expert_offload, is_moe
from vramtui.core.advice.plan import build_plan
from vramtui.core.advice.recommend import recommend
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.present.advice_words import expert_offload_sentence
from vramtui.present.plan_words import plan_sentence

S16 = RuntimeSettings(ctx_size=16384)


def _spec(ref: str) -> ModelSpec:
    spec = open_catalog_model(ref)
    assert spec is not None
    return spec


def _all_on_gpu(spec: ModelSpec, n: int, state: MachineState) -> bool:
    fit = evaluate_fit(spec, S16.with_changes(n_cpu_moe=n), state)
    return fit.n_gpu_layers == fit.breakdown.n_layers + 1


def test_gpt_oss_120b_on_a_24_gb_card_gets_the_smallest_value_that_fits() -> None:
    spec = _spec("gpt-oss-120b")
    rtx = MachineState.default_for(get_machine("desktop-rtx-4090"))
    rec = recommend(spec, S16, rtx)
    moe = rec.expert_offload
    assert moe is not None
    n = moe.n_cpu_moe
    assert 0 < n < 36
    assert _all_on_gpu(spec, n, rtx) and not _all_on_gpu(spec, n - 1, rtx)
    # Beside the spill option (fewer GPU layers), and faster than it on this card.
    assert moe.spill.n_gpu_layers < moe.spill.breakdown.n_layers + 1
    assert moe.faster == N_CPU_MOE
    assert moe.decode_tps > (moe.spill_decode_tps or 0)
    data = rec.to_json()["expert_offload"]
    assert data["n_cpu_moe"] == n and data["faster"] == "n_cpu_moe"
    assert f"--n-cpu-moe {n}" in expert_offload_sentence(moe)


def test_plan_runs_it_with_the_flag_in_the_llama_server_line() -> None:
    spec = _spec("gpt-oss-120b")
    rtx = MachineState.default_for(get_machine("desktop-rtx-4090"))
    plan = build_plan(spec, S16, rtx, ctx_given=True)
    moe = plan.recommendation.expert_offload
    assert moe is not None and plan.commands is not None and plan.fit is not None
    assert f"--n-cpu-moe {moe.n_cpu_moe}" in plan.commands.llama_server
    assert "-ngl all" in plan.commands.llama_server
    assert plan.fit.settings.n_cpu_moe == moe.n_cpu_moe
    assert f"--n-cpu-moe {moe.n_cpu_moe}" in plan_sentence(plan)
    ratio = plan.commands.lmstudio["numCpuExpertLayersRatio"]
    assert ratio == round(moe.n_cpu_moe / 36, 3)


def test_recommend_cli_prints_and_emits_it(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["recommend", "gpt-oss-120b", "--machine", "desktop-rtx-4090", "-c", "16K"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    n = data["expert_offload"]["n_cpu_moe"]
    assert f"--n-cpu-moe {n}" in data["expert_offload"]["sentence"]
    main(argv)
    assert f"--n-cpu-moe {n}" in capsys.readouterr().out
    assert main(
        ["plan", "gpt-oss-120b", "--machine", "desktop-rtx-4090", "-c", "16K", "--json"]
    ) in (0, 1)
    plan = json.loads(capsys.readouterr().out)
    assert f"--n-cpu-moe {n}" in plan["commands"]["llama_server"]


def test_a_small_carve_out_gets_it_instead_of_spilling() -> None:
    """GLM-4.7-Flash Q4_K_M does not fit a 16 GB carve-out; the experts of some layers in
    system RAM keep everything else in dedicated memory, faster than spilling on Windows."""
    spec = _spec("glm-4.7-flash:Q4_K_M")
    hp = MachineState.default_for(get_machine("hp-zbook-ultra-g1a-64gb"), carve_out_bytes=16 << 30)
    moe = expert_offload(spec, S16, hp)
    assert moe is not None
    assert moe.spill.shared_used_bytes > 0 and moe.fit.shared_used_bytes == 0
    assert moe.faster == N_CPU_MOE


@pytest.mark.parametrize(
    ("ref", "machine", "why"),
    [
        ("qwen3-32b:Q4_K_M", "desktop-rtx-4090", "dense model"),
        ("gpt-oss-20b", "desktop-rtx-4090", "fits the card already"),
        ("gpt-oss-120b", "apple-m4-max-128gb", "unified memory: nothing to gain"),
    ],
)
def test_nothing_is_proposed_where_it_cannot_help(ref: str, machine: str, why: str) -> None:
    spec = _spec(ref)
    state = MachineState.default_for(get_machine(machine))
    assert expert_offload(spec, S16, state) is None, why
    assert is_moe(spec) == (why != "dense model")


def test_settings_that_already_place_experts_are_left_alone() -> None:
    spec = _spec("gpt-oss-120b")
    rtx = MachineState.default_for(get_machine("desktop-rtx-4090"))
    assert expert_offload(spec, S16.with_changes(n_cpu_moe=2), rtx) is None
