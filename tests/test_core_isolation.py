"""The core must never import textual: the CLI's headless commands and any embedding stay light."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import tui.core


def _core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(tui.core.__path__, prefix="tui.core."))


def test_core_has_modules() -> None:
    assert "tui.core.model.spec" in _core_modules()


def test_core_imports_no_textual() -> None:
    modules = _core_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"tui.core pulled in: {out.stdout.strip()}"
