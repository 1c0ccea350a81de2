"""The package as it installs: a wheel built from this checkout holds the `vramtui` package with
its machine presets, no top-level `tui` package, and no text that names this machine's paths,
calls the 2026-02-02 ZBook article "the seed" or cites an issue number in the form "issue N"
(other projects' trackers are cited as `owner/repo#N`)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "the word 'seed'": re.compile(r"\bseed\b", re.IGNORECASE),
    # The build machine's folders (written with a class so this file does not name them).
    "a machine path": re.compile(r"/[w]ork/|/[r]oot/"),
    "an issue number": re.compile(r"\bissue ?#?\d", re.IGNORECASE),
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (path,) = out.glob("vramtui-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_holds_vramtui_and_no_tui_package(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert "vramtui" in tops
    assert "tui" not in tops
    assert {t for t in tops if not t.endswith(".dist-info")} == {"vramtui"}
    for module in ("__init__.py", "cli/main.py", "core/catalog/catalog_data.json"):
        assert f"vramtui/{module}" in wheel.namelist(), module


def test_the_wheel_carries_the_machine_presets(wheel: zipfile.ZipFile) -> None:
    shipped = {n.removeprefix("vramtui/_presets/") for n in wheel.namelist()}
    presets = {p.name for p in (ROOT / "presets").glob("*.toml")}
    assert presets and presets <= shipped
    assert "hp-zbook-ultra-g1a-64gb.toml" in presets


def test_no_file_in_the_wheel_says_what_the_product_must_not(wheel: zipfile.ZipFile) -> None:
    found = []
    for name in wheel.namelist():
        text = wheel.read(name).decode("utf-8", errors="replace")
        for what, pattern in FORBIDDEN.items():
            for match in pattern.finditer(text):
                found.append(f"{name}: {what}: {text[max(0, match.start() - 40) : match.end()]!r}")
    assert not found, "\n".join(found)


def test_the_checks_catch_what_they_look_for() -> None:
    """The patterns find the phrasings they forbid and let the citations through."""
    assert FORBIDDEN["the word 'seed'"].search("as the Seed measured")
    assert not FORBIDDEN["the word 'seed'"].search("SEED01 seeded seeds")
    assert FORBIDDEN["an issue number"].search("see issue #34") is not None
    assert FORBIDDEN["an issue number"].search("Issue 12's goal") is not None
    assert FORBIDDEN["an issue number"].search("ggml-org/llama.cpp#34") is None
    assert FORBIDDEN["a machine path"].search("read /" + "work/shared/x.md") is not None
