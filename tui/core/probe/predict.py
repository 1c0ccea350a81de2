"""The prediction a probe is compared with: vramtui's fit for the same model, machine and
settings, with the calibration factor kept apart so the history stores raw predictions.

Synchronous: it reads a model header and evaluates the pure fit model, no server involved.
"""

from __future__ import annotations

from typing import Any

from tui.core.estimate.settings import RuntimeSettings
from tui.core.machine.fit import FitResult, MachineState, evaluate_fit
from tui.core.machine.presets import get_machine
from tui.core.model.source import open_model
from tui.core.probe.calibration import load_calibration
from tui.core.probe.results import Prediction
from tui.core.sizes import format_bytes


def prediction_from_fit(
    fit_result: FitResult,
    label: str = "",
    *,
    calibration: float | None = None,
) -> Prediction:
    """The numbers the probe compares, from the fit model's result (what the app shows).

    When the speed estimate was calibrated from the probe history, the factor (`calibration`,
    the one the fit was given) is divided out into `raw_decode_tps`:
    the history must keep raw predictions, or each run would calibrate against the last
    calibration."""
    speed = fit_result.speed
    decode = speed.decode_tokens_per_second
    raw = decode / calibration if speed.calibrated and calibration else decode
    return Prediction(
        decode_tps=decode,
        ttft_s=speed.time_to_first_token_s,
        device_bytes=fit_result.breakdown.device_bytes,
        label=label,
        raw_decode_tps=raw,
        calibration=calibration if speed.calibrated else None,
        backend=fit_result.backend,
    )


def predict(
    model_ref: str,
    machine_id: str,
    settings: RuntimeSettings,
    *,
    carve_out_bytes: int | None = None,
    os_name: str | None = None,
    backend: str | None = None,
    prompt_tokens: int | None = None,
) -> Prediction:
    """vramtui's prediction for `model_ref` on a machine preset (machine.fit.evaluate_fit), for
    the prompt length the probe really sent. Raises a VramtuiError subclass when the model,
    machine or settings do not resolve."""
    spec = open_model(model_ref)
    machine = get_machine(machine_id)
    changes: dict[str, Any] = {}
    if carve_out_bytes is not None:
        changes["carve_out_bytes"] = carve_out_bytes
    if os_name is not None:
        changes["os"] = os_name
    if backend is not None:
        changes["backend"] = backend
    state = MachineState.default_for(machine, **changes)
    calibration = load_calibration(machine.id, state.resolved_backend)
    result = evaluate_fit(
        spec, settings, state, prompt_tokens=prompt_tokens or None, calibration=calibration
    )
    name = spec.name or model_ref
    carve = f" @ {format_bytes(state.carve_out_bytes, 0)}" if state.carve_out_bytes else ""
    label = f"{name} on {machine.id}{carve}, {state.os}, {result.backend}"
    return prediction_from_fit(result, label=label, calibration=calibration)
