"""Draft models for speculative decoding (--model-draft): their weights, KV cache and compute
buffers are added where they go, in the estimate, the fit, the CLI and the resolver."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from vramtui.cli.main import main
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.errors import SettingsError
from vramtui.core.estimate.draft import draft_bytes, draft_settings
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.model.draft import with_draft
from vramtui.core.scenario.resolve import ScenarioOverrides, resolve_scenario, scenario_args
from vramtui.core.vocab import BufferKind, Place

MAIN, DRAFT = "llama-3.3-70b:Q4_K_M", "llama-3.1-8b:Q4_K_M"  # one tokenizer, 128256 tokens


def _spec(ref: str) -> ModelSpec:
    spec = open_catalog_model(ref)
    assert spec is not None
    return spec


def test_draft_buffers_are_its_own_estimate_at_its_own_settings() -> None:
    main_spec = with_draft(_spec(MAIN), DRAFT)
    assert main_spec.draft is not None
    s = RuntimeSettings(
        ctx_size=8192,
        parallel=2,
        cache_type_k="q8_0",
        cache_type_v="q8_0",
        flash_attn="on",
        n_gpu_layers=40,
    )
    both = estimate_memory(main_spec, s)
    alone = estimate_memory(_spec(MAIN), s)
    draft = estimate_memory(_spec(DRAFT), draft_settings(s))
    # The draft keeps f16 KV (-ctkd default), all its layers on the GPU (-ngld default), the
    # main context's size and slots (common_base_params_to_speculative).
    assert draft.settings.cache_type_k == "f16" and draft.settings.n_gpu_layers is None
    assert draft.n_ctx == alone.n_ctx and draft.n_gpu_layers == draft.n_layers + 1
    for place in Place:
        for kind in BufferKind:
            assert both.total(place, kind) == alone.total(place, kind) + draft.total(place, kind)
    assert draft_bytes(both) == draft.device_bytes + draft.host_bytes > 4 << 30
    assert all(b.label.startswith("draft ") for b in both.buffers[len(alone.buffers) :])
    # On the CPU backend the draft lives on the host.
    cpu = estimate_memory(main_spec, s, backend="cpu")
    assert cpu.device_bytes == 0 and draft_bytes(cpu) > 4 << 30


def test_fit_places_the_draft_on_the_gpu() -> None:
    rtx = MachineState.default_for(get_machine("desktop-rtx-5090"))
    s = RuntimeSettings(ctx_size=8192)
    small = _spec("llama-3.1-8b:Q4_K_M")
    tiny_draft = with_draft(small, DRAFT)
    a = evaluate_fit(small, s, rtx)
    b = evaluate_fit(tiny_draft, s, rtx)
    extra = draft_bytes(b.breakdown)
    assert b.gpu_memory_used_bytes - a.gpu_memory_used_bytes == extra - (
        b.breakdown.host_bytes - a.breakdown.host_bytes
    )


def test_a_draft_of_another_vocabulary_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"vocabulary has 151936 tokens.*128256"):
        with_draft(_spec(MAIN), "qwen3-32b:Q4_K_M")


def test_cli_estimate_check_and_copied_command(capsys: pytest.CaptureFixture[str]) -> None:
    unified = ["--machine", "framework-desktop-128gb"]  # a GPU that holds all layers of both
    assert main(["estimate", MAIN, *unified, "-c", "8K", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["estimate", MAIN, *unified, "-c", "8K", "--model-draft", DRAFT, "--json"]) == 0
    drafted = json.loads(capsys.readouterr().out)
    draft = estimate_memory(_spec(DRAFT), draft_settings(RuntimeSettings(ctx_size=8192)))
    total = drafted["total_device_bytes"] + drafted["total_host_bytes"]
    assert total == plain["total_device_bytes"] + plain["total_host_bytes"] + (
        draft.device_bytes + draft.host_bytes
    )
    machine = ["--machine", "desktop-rtx-5090"]
    main(["check", MAIN, *machine, "-c", "8K", "-md", DRAFT, "--json"])
    check = json.loads(capsys.readouterr().out)
    resolved = resolve_scenario(
        None,
        ScenarioOverrides(
            model_ref=MAIN,
            machine_id="desktop-rtx-5090",
            settings={"ctx_size": 8192, "model_draft": DRAFT},
        ),
    )
    args = scenario_args(resolved)
    assert args[args.index("-md") + 1] == DRAFT  # the one spelling every command line writes
    main(["check", *args, "--json"])
    assert json.loads(capsys.readouterr().out)["estimate"] == check["estimate"]


def test_local_draft_file_and_plan_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(DRAFT)  # written with its own tokenizer type; the vocabulary by its size
    spec = replace(spec, metadata={**spec.metadata, "llama.vocab_size": 128256})
    path = write_sparse_gguf(tmp_path / "draft-Q4_K_M.gguf", spec, tokenizer=False)
    code = main(
        ["plan", MAIN, "--machine", "desktop-rtx-5090", "-c", "8K", "-md", str(path), "--json"]
    )
    data = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    assert f"-md {path}" in data["commands"]["llama_server"]
    assert data["commands"]["lmstudio"]["Draft Model"] == "draft-Q4_K_M"
    with pytest.raises(SystemExit):
        main(["estimate", MAIN, "--model-draft"])
    capsys.readouterr()
    assert main(["estimate", MAIN, "--model-draft", str(tmp_path / "missing.gguf")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.gguf" in err
