"""The decode calibration factor from the probe history, looked up once per scenario by the
caller (the CLI command or the app) and passed into the pure fit and speed model."""

from __future__ import annotations

from pathlib import Path

from tui.core.probe.history import decode_efficiency, history_path, load_history

_CALIBRATION_CACHE: dict[tuple[str, str, float, int], float | None] = {}


def load_calibration(machine_id: str, backend: str, path: Path | None = None) -> float | None:
    """Median measured/predicted decode ratio from the probe history, or None."""
    source = path or history_path()
    try:
        st = source.stat()
    except OSError:
        return None
    key = (machine_id, backend, st.st_mtime, st.st_size)
    if key in _CALIBRATION_CACHE:
        return _CALIBRATION_CACHE[key]
    value = decode_efficiency(load_history(source), machine_id, backend)
    if value is not None and not 0.05 <= value <= 20.0:
        value = None  # a ratio this far off is a broken record, not a calibration
    if len(_CALIBRATION_CACHE) > 64:
        _CALIBRATION_CACHE.clear()
    _CALIBRATION_CACHE[key] = value
    return value
