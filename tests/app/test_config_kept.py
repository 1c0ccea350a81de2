"""A config.toml the app cannot read back whole is never overwritten: saving the theme says so
(a notification) and leaves the file; a symlinked config is written through to its target."""

from __future__ import annotations

import pytest

from tests.app.conftest import make_app, settle
from tests.support.waiting import notifications
from vramtui.app.config import save_probe_url, save_theme, saved_theme
from vramtui.core.atomic import WriteError
from vramtui.core.paths import config_dir

KEPT = 'model_dirs = ["/models"]\n\n[app.keymap]\npick-model = "o"\n'
UNREADABLE = {
    "typo": KEPT + "theme = \n",
    "duplicate key": KEPT + 'pick-model = "p"\n',
    "over 1 MiB": KEPT + "# " + "x" * (1 << 20) + "\n",
    "not utf-8": KEPT + "# \xff\n",
}


def _config(text: str) -> bytes:
    path = config_dir() / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = text.encode("latin-1") if "\xff" in text else text.encode()
    path.write_bytes(raw)
    return raw


@pytest.mark.parametrize("text", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable_config_is_never_overwritten(text: str) -> None:
    raw = _config(text)
    with pytest.raises(WriteError, match="left as it is"):
        save_theme("gruvbox")
    with pytest.raises(WriteError, match="left as it is"):
        save_probe_url("http://127.0.0.1:8080")
    assert (config_dir() / "config.toml").read_bytes() == raw


def test_symlinked_config_is_written_through() -> None:
    config_dir().mkdir(parents=True, exist_ok=True)
    target = config_dir() / "dotfiles-config.toml"
    target.write_text(KEPT)
    link = config_dir() / "config.toml"
    link.symlink_to(target.name)
    save_theme("gruvbox")
    assert link.is_symlink() and saved_theme() == "gruvbox"
    assert "/models" in target.read_text() and "gruvbox" in target.read_text()


async def test_app_says_it_kept_a_config_it_cannot_parse() -> None:
    raw = _config(UNREADABLE["typo"])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.theme = "gruvbox" if app.theme != "gruvbox" else "nord"
        await pilot.pause()
        said = [n.message for n in notifications(app)]
    assert any("cannot be parsed" in m and "left as it is" in m for m in said), said
    assert (config_dir() / "config.toml").read_bytes() == raw
