"""The app's own user settings (the theme), kept in config_dir()/config.toml under `[app]`.

Other parts of vramtui may keep their own tables in the same file, so writes keep every other
key as it was and replace the file atomically. A file that cannot be read back whole (a typo, a
duplicate key, over 1 MiB, not a regular file) is never overwritten: the save raises WriteError
saying so, and the file stays as the user left it. A symlinked config is written through to its
target, so the link stays a link.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from vramtui.core.atomic import WriteError, read_text_capped, write_atomic
from vramtui.core.paths import config_dir

CONFIG_NAME = "config.toml"
MAX_CONFIG_BYTES = 1 << 20


def _config_path() -> Any:
    return config_dir() / CONFIG_NAME


def read_config() -> dict[str, Any]:
    """The whole config file as a dict; {} when it is missing or unreadable (never fatal)."""
    path = _config_path()
    try:  # capped, and never a FIFO or a device (they would hang the start)
        return tomllib.loads(read_text_capped(path, MAX_CONFIG_BYTES))
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
    _save_app_setting("theme", theme)


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
    """Set `[app] key`, keeping the rest of the file (WriteError, the file untouched, when the
    file cannot be read back whole)."""
    path = _config_path()
    data = _config_for_update(path)
    app = data.get("app")
    if not isinstance(app, dict):
        app = {}
    app[key] = value
    data["app"] = app
    # Through a symlink to its target: replacing the link would turn it into a file.
    write_atomic(Path(os.path.realpath(path)), tomli_w.dumps(data))


def _config_for_update(path: Path) -> dict[str, Any]:
    """The config to update: {} when there is none; WriteError when it cannot be read whole,
    so a save never replaces what it could not read."""
    kept = "left as it is; fix it to save settings"
    try:
        text = read_text_capped(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise WriteError(path, f"cannot be read ({err.strerror or err}); {kept}") from None
    except ValueError:  # not UTF-8
        raise WriteError(path, f"is not UTF-8 text; {kept}") from None
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as err:
        why = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise WriteError(path, f"cannot be parsed ({why}); {kept}") from None


def saved_probe_url() -> str | None:
    """The server address typed on the probe screen last time (`[app] probe_url`)."""
    return _app_setting("probe_url")


def save_probe_url(url: str) -> None:
    _save_app_setting("probe_url", url)
