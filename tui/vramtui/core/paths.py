"""Where vramtui keeps the user's things. Tests point these elsewhere with environment variables.

VRAMTUI_CONFIG_DIR, VRAMTUI_CACHE_DIR and VRAMTUI_DATA_DIR override the platform folders.
"""

from __future__ import annotations

import os
import re
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
    package = Path(__file__).resolve().parent.parent
    packaged = package / "_presets"
    if packaged.is_dir():
        return packaged
    return package.parent.parent / "presets"  # a checkout: tui/vramtui/ sits beside presets/


# Names of saved files (machines, scenario presets): the same rule for every kind. Matched
# whole (`fullmatch`: `$` would let a name end in a newline), and never a name Windows keeps
# for a device, with or without an extension ("con", "nul.toml", "com1.x").
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
NAME_RULE = (
    "use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit, "
    "and not a Windows device name (con, nul, com1, ...)"
)
_DEVICE_NAMES = frozenset(
    ("con", "prn", "aux", "nul", *(f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)))
)


def valid_name(name: str) -> bool:
    """Whether `name` may name a saved file (NAME_RULE)."""
    return NAME_RE.fullmatch(name) is not None and not is_device_name(name)


def is_device_name(name: str) -> bool:
    """A name Windows reserves for a device, whatever follows its first dot."""
    return name.split(".", 1)[0].rstrip(" ").lower() in _DEVICE_NAMES
