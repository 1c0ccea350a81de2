"""Recent model choices, newest first, in data_dir()/recent.json (written atomically)."""

from __future__ import annotations

import contextlib
import json

from vramtui.core.atomic import read_capped, write_atomic
from vramtui.core.paths import data_dir

RECENT_NAME = "recent.json"
MAX_RECENT = 12


def load_recent() -> list[str]:
    """Model references chosen before; [] when the file is missing or damaged."""
    try:
        data = json.loads(read_capped(data_dir() / RECENT_NAME, 1 << 20))
    except (OSError, ValueError, RecursionError):
        return []
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        return []
    return [ref for ref in data["models"] if isinstance(ref, str) and ref][:MAX_RECENT]


def remember(ref: str) -> list[str]:
    """Put `ref` first in the recent list (deduplicated, capped) and save it."""
    refs = [ref, *(r for r in load_recent() if r != ref)][:MAX_RECENT]
    # A read-only data dir must not break picking a model.
    with contextlib.suppress(OSError):
        write_atomic(data_dir() / RECENT_NAME, json.dumps({"models": refs}, indent=1))
    return refs
