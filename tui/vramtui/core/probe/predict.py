"""The prediction a probe is compared with: vramtui's fit for the same model, machine and
settings, with the calibration factor kept apart so the history stores raw predictions.

Synchronous: it reads a model header and evaluates the pure fit model, no server involved.
"""

from __future__ import annotations

from dataclasses import replace

from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.hardware.pools import MachineState
from vramtui.core.model.source import open_model
from vramtui.core.probe.calibration import factor_of, model_identity, scenario_calibration
from vramtui.core.probe.results import Prediction
from vramtui.core.sizes import format_bytes


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
    calibration. A model that will not fit has no predicted speed (None)."""
    speed = fit_result.speed
    if not fit_result.runs:
        return Prediction(
            decode_tps=None,
            ttft_s=None,
            device_bytes=fit_result.breakdown.device_bytes,
            label=f"{label} (predicted: will not fit)" if label else "predicted: will not fit",
            backend=fit_result.backend,
        )
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
    state: MachineState,
    settings: RuntimeSettings,
    *,
    prompt_tokens: int | None = None,
) -> Prediction:
    """vramtui's prediction for `model_ref` on this machine state (machine.fit.evaluate_fit),
    for the prompt length the probe really sent, calibrated only from earlier probes of the
    same model (vramtui.core.probe.calibration). Raises a VramtuiError subclass when the model
    or settings do not resolve."""
    spec = open_model(model_ref)
    calibration = scenario_calibration(spec, state)
    factor = factor_of(calibration)
    result = evaluate_fit(
        spec, settings, state, prompt_tokens=prompt_tokens or None, calibration=factor
    )
    name = spec.name or model_ref
    carve = f" @ {format_bytes(state.carve_out_bytes, 0)}" if state.carve_out_bytes else ""
    label = f"{name} on {state.machine.id}{carve}, {state.os}, {result.backend}"
    prediction = prediction_from_fit(result, label=label, calibration=factor)
    return replace(
        prediction,
        calibration_note=calibration.describe() if calibration is not None else "",
        machine=state.machine.id,
        carve_out_bytes=state.carve_out_bytes,
        os=state.os,
        runtime=state.runtime,
        model_key=model_identity(spec),
        model_names=(model_ref, spec.name),
    )
