"""Speed model properties and the probe-history calibration hook."""

from __future__ import annotations

import json

from tui.core.estimate.settings import RuntimeSettings
from tui.core.machine.fit import MachineState, evaluate_fit
from tui.core.machine.presets import get_machine
from tui.core.model.catalog import open_catalog_model
from tui.core.paths import data_dir
from tui.core.probe.calibration import load_calibration


def _fit(**kw: object) -> float:
    spec = open_catalog_model("qwen3-32b:Q4_K_M")
    assert spec is not None
    state = MachineState.default_for(get_machine("framework-desktop-128gb"), **kw)
    fit = evaluate_fit(spec, RuntimeSettings(ctx_size=16384), state)
    return fit.speed.decode_tokens_per_second


def test_more_bandwidth_is_faster() -> None:
    spec = open_catalog_model("qwen3-32b:Q4_K_M")
    assert spec is not None
    slow = evaluate_fit(
        spec, RuntimeSettings(), MachineState.default_for(get_machine("apple-m4-pro-48gb"))
    )
    fast = evaluate_fit(
        spec, RuntimeSettings(), MachineState.default_for(get_machine("apple-m4-max-128gb"))
    )
    assert fast.speed.decode_tokens_per_second > 1.5 * slow.speed.decode_tokens_per_second
    assert fast.speed.time_to_first_token_s > 0 and fast.speed.prefill_tokens_per_second > 0


def _record(pred: float, meas: float, machine: str = "framework-desktop-128gb") -> str:
    return json.dumps(
        {
            "timestamp": "2026-11-24T00:00:00Z",
            "url": "http://127.0.0.1:1",
            "kind": "llama-server",
            "model": "m",
            "machine": machine,
            "backend": "vulkan",
            "predicted_decode_tps": pred,
            "measured_decode_tps": meas,
        }
    )


def test_calibration_from_probe_history() -> None:
    base = _fit()
    assert load_calibration("framework-desktop-128gb", "vulkan") is None
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    lines = [_record(10, 5), _record(10, 5), _record(10, 50, "other"), "not json", ""]
    (folder / "probe-history.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert load_calibration("framework-desktop-128gb", "vulkan") == 0.5
    spec = open_catalog_model("qwen3-32b:Q4_K_M")
    assert spec is not None
    state = MachineState.default_for(get_machine("framework-desktop-128gb"))
    factor = load_calibration("framework-desktop-128gb", "vulkan")
    fit = evaluate_fit(spec, RuntimeSettings(ctx_size=16384), state, calibration=factor)
    assert fit.speed.calibrated
    assert abs(fit.speed.decode_tokens_per_second - base * 0.5) < 1e-6
    # The fit is pure: with the history on disk but no factor passed, nothing is calibrated.
    raw = evaluate_fit(spec, RuntimeSettings(ctx_size=16384), state)
    assert not raw.speed.calibrated
    assert abs(raw.speed.decode_tokens_per_second - base) < 1e-6
