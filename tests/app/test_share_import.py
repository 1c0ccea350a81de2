"""The share text (`y` in the app) is exactly what `vramtui preset import` takes: saved as it
is, imported by the real command, it gives the same scenario back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from vramtui.app.presets import resolved_from_choice, scenario_from_choice, share_text
from vramtui.app.state import Choice, evaluate
from vramtui.cli.main import main
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.scenario.files import load_scenario
from vramtui.core.scenario.resolve import ScenarioOverrides, resolve_scenario
from vramtui.core.sizes import GiB


def _choice(name: str | None = None) -> Choice:
    spec = open_catalog_model("qwen3-vl-32b:Q6_K")
    assert spec is not None
    if name is not None:
        spec = replace(spec, name=name)
    state = MachineState.default_for(
        get_machine("hp-zbook-ultra-g1a-64gb"), carve_out_bytes=48 * GiB, runtime="lmstudio"
    )
    settings = RuntimeSettings(ctx_size=16384, flash_attn="on", cache_type_v="q8_0")
    return Choice("qwen3-vl-32b:Q6_K", spec, settings, state)


def _import(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "shared.toml"
    path.write_text(text, encoding="utf-8")
    code = main(["preset", "import", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("imported preset ")
    return out.split()[2]


@pytest.mark.parametrize(
    "name", [None, 'evil"\nmodel_ref = "x"\r\n[settings]\x1b[31m\u2028 # trailing']
)
def test_share_text_imports_as_the_same_scenario(
    name: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    choice = _choice(name)
    text = share_text(evaluate(choice))
    assert "will not fit" in text and "vramtui check" in text  # the answer is in the text
    assert "vramtui preset import" in text
    assert "tok/s" not in text and "RAM left" not in text  # no speed for a model that cannot load
    imported = _import(text, tmp_path, capsys)
    saved = load_scenario(imported)
    assert saved == scenario_from_choice(choice, imported)
    back = resolve_scenario(saved, ScenarioOverrides())
    want = resolved_from_choice(choice)
    assert (back.model_ref, back.mmproj, back.settings) == (
        want.model_ref,
        want.mmproj,
        want.settings,
    )
    assert back.state.carve_out_bytes == 48 * GiB and back.state.runtime == "lmstudio"
    assert back.state == replace(want.state, backend=back.state.backend)
    # The imported preset gives check the answer the shared text states.
    main(["check", "--preset", imported])
    assert "will not fit" in capsys.readouterr().out


def test_a_model_that_runs_shares_its_speed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    choice = _choice()
    choice = replace(choice, machine=replace(choice.machine, carve_out_bytes=32 * GiB))
    evaluation = evaluate(choice)
    assert evaluation.fit is not None and evaluation.fit.runs
    text = share_text(evaluation)
    assert "tok/s" in text and "RAM left for the OS" in text
    saved = load_scenario(_import(text, tmp_path, capsys))
    assert saved.carve_out_bytes == 32 * GiB


def test_share_text_states_gpu_memory_as_the_screen_does() -> None:
    """The desktop's share is in, as in the memory bars and `check`'s gpu_memory_used_bytes."""
    from vramtui.core.sizes import format_gib  # noqa: PLC0415

    choice = replace(_choice(), machine=replace(_choice().machine, carve_out_bytes=32 * GiB))
    evaluation = evaluate(choice)
    assert evaluation.fit is not None and evaluation.fit.runs
    text = share_text(evaluation)
    assert f"GPU memory in use {format_gib(evaluation.fit.gpu_memory_used_bytes)}" in text
    on_screen = sum(p.used_bytes for p in evaluation.fit.pool_usage if p.name != "system RAM")
    assert on_screen == evaluation.fit.gpu_memory_used_bytes
