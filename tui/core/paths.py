"""Where vramtui keeps the user's things. Tests point these elsewhere with environment variables.

VRAMTUI_CONFIG_DIR, VRAMTUI_CACHE_DIR and VRAMTUI_DATA_DIR override the platform folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

_APP = "vramtui"


def config_dir() -> Path:
    """User config: config.toml, machines/*.toml (own machine presets), presets/*.toml."""
    return Path(os.environ.get("VRAMTUI_CONFIG_DIR") or platformdirs.user_config_dir(_APP))


def cache_dir() -> Path:
    """Parsed-header cache (local by path+size+mtime, remote by URL+ETag)."""
    return Path(os.environ.get("VRAMTUI_CACHE_DIR") or platformdirs.user_cache_dir(_APP))


def data_dir() -> Path:
    """Probe history (probe-history.jsonl) and recent choices."""
    return Path(os.environ.get("VRAMTUI_DATA_DIR") or platformdirs.user_data_dir(_APP))


def scenario_presets_dir() -> Path:
    return config_dir() / "presets"


def user_machines_dir() -> Path:
    return config_dir() / "machines"


def bundled_presets_dir() -> Path:
    """Machine presets shipped with the app: inside the wheel, or `presets/` in a checkout."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_presets"
    if packaged.is_dir():
        return packaged
    return here.parent / "presets"
