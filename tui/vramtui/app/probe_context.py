"""What the probe screen gets from the main screen: the prediction it measures against, and the
scenario each run is recorded with in the probe history."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from vramtui.app.state import Choice
from vramtui.app.widgets.controls import carve_label
from vramtui.core.fit.fit import FitResult
from vramtui.core.probe.calibration import model_identity
from vramtui.core.probe.predict import prediction_from_fit
from vramtui.core.probe.results import Prediction


def probe_context(
    choice: Choice | None, fit: FitResult | None
) -> tuple[Prediction | None, dict[str, Any]]:
    """(prediction, history context) for the question on screen."""
    if choice is None:
        return None, {}
    state = choice.machine
    name = choice.spec.name if choice.spec else choice.model_ref
    label = f"{name} on {state.machine.id} @ {carve_label(state.carve_out_bytes)}"
    prediction = None
    if fit is not None:
        # The history keeps raw (uncalibrated) predictions, or each probe would calibrate
        # against the last calibration: prediction_from_fit divides the factor out.
        prediction = prediction_from_fit(fit, label, calibration=choice.calibration)
        # What the probe screen checks the served model against before it measures.
        names = (choice.model_ref, *((choice.spec.name,) if choice.spec else ()))
        prediction = replace(prediction, model_names=names)
    history = {
        "machine": state.machine.id,
        "carve_out_bytes": state.carve_out_bytes,
        "os_name": state.os,
        "backend": fit.backend if fit is not None else state.backend,
        "settings": choice.settings.to_dict(),
        "model_ref": choice.model_ref,
        "runtime": state.runtime,
        "model_key": model_identity(choice.spec) if choice.spec else None,
    }
    return prediction, history
