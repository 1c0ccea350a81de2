"""What the app shows is words, never a Python repr: every screen, for four kinds of machine."""

from __future__ import annotations

import html
import re

import pytest

from tests.app.conftest import make_app, settle
from vramtui.app.app import VramtuiApp

# A dataclass or enum repr: `Name(field=` or `<Enum.MEMBER: 'value'>`.
REPR = re.compile(r"\b[A-Z][A-Za-z]+\([a-z_]+=|<[A-Z][A-Za-z]+\.[A-Z_]+: ")

SETUPS = {
    "windows-carve-out": {"machine": "hp-zbook-ultra-g1a-64gb", "carve_out": "512M"},
    "linux-gtt": {"machine": "framework-desktop-128gb", "os_name": "linux", "carve_out": "512M"},
    "mac": {"machine": "apple-m4-max-128gb"},
    "discrete": {"machine": "desktop-rtx-4090"},
}


def _screen_text(app: VramtuiApp) -> str:
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def test_repr_pattern_catches_what_it_must() -> None:
    assert REPR.search("Linux alternative: GttAlternative(carve_out_bytes=536870912, fit=")
    assert REPR.search("verdict <Verdict.FITS: 'fits'>")
    assert not REPR.search("Linux alternative: carve-out 512.0 MB + GTT 120.0 GB -> fits")


@pytest.mark.parametrize("setup", sorted(SETUPS))
async def test_no_repr_on_any_screen(setup: str) -> None:
    app = make_app(model="qwen3-32b:Q4_K_M", **SETUPS[setup])
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(pilot)
        seen = {"main": _screen_text(app)}
        for key, name in (("question_mark", "help"), ("m", "picker"), ("p", "probe")):
            await pilot.press(key)
            await settle(pilot)
            seen[name] = _screen_text(app)
            await pilot.press("escape")
            await settle(pilot)
        for name, text in seen.items():
            match = REPR.search(text)
            assert match is None, f"{setup}/{name} shows a repr: {text[match.start() - 40 :][:160]}"
        if setup == "linux-gtt":
            assert "Linux alternative: carve-out" in seen["main"]
