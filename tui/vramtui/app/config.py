"""The app's own user settings (the theme), kept in config_dir()/config.toml under `[app]`.

Other parts of vramtui may keep their own tables in the same file, so writes keep every other
key as it was and replace the file atomically.
"""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w

from vramtui.core.atomic import read_text_capped, write_atomic
from vramtui.core.paths import config_dir

CONFIG_NAME = "config.toml"


def _config_path() -> Any:
    return config_dir() / CONFIG_NAME


def read_config() -> dict[str, Any]:
    """The whole config file as a dict; {} when it is missing or unreadable (never fatal)."""
    path = _config_path()
    try:  # capped, and never a FIFO or a device (they would hang the start)
        return tomllib.loads(read_text_capped(path, 1 << 20))
    except (OSError, ValueError, RecursionError):  # TOMLDecodeError, UnicodeDecodeError too
        return {}


def saved_theme() -> str | None:
    """The theme the user picked last time, if any."""
    app = read_config().get("app")
    if isinstance(app, dict):
        theme = app.get("theme")
        if isinstance(theme, str) and theme:
            return theme
    return None


def save_theme(theme: str) -> None:
    """Remember `theme` in `[app] theme`, keeping the rest of the file."""
    data = read_config()
    app = data.get("app")
    if not isinstance(app, dict):
        app = {}
    app["theme"] = theme
    data["app"] = app
    write_atomic(_config_path(), tomli_w.dumps(data))


def saved_keymap() -> dict[str, str]:
    """User key overrides by binding id, from `[app.keymap]` (e.g. `pick-model = "o"`)."""
    app = read_config().get("app")
    keymap = app.get("keymap") if isinstance(app, dict) else None
    if not isinstance(keymap, dict):
        return {}
    return {str(k): v for k, v in keymap.items() if isinstance(v, str) and v}


def _app_setting(key: str) -> str | None:
    app = read_config().get("app")
    value = app.get(key) if isinstance(app, dict) else None
    return value if isinstance(value, str) and value else None


def _save_app_setting(key: str, value: str) -> None:
    """Set `[app] key`, keeping the rest of the file."""
    data = read_config()
    app = data.get("app")
    if not isinstance(app, dict):
        app = {}
    app[key] = value
    data["app"] = app
    write_atomic(_config_path(), tomli_w.dumps(data))


def saved_probe_url() -> str | None:
    """The server address typed on the probe screen last time (`[app] probe_url`)."""
    return _app_setting("probe_url")


def save_probe_url(url: str) -> None:
    _save_app_setting("probe_url", url)
