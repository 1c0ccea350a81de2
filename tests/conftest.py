"""Shared test setup: every test gets its own config, cache and data folders, and no network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point config/cache/data at a fresh folder so tests never read or write the user's."""
    root = tmp_path_factory.mktemp("user")
    for name in ("CONFIG", "CACHE", "DATA"):
        folder = root / name.lower()
        folder.mkdir()
        monkeypatch.setenv(f"VRAMTUI_{name}_DIR", str(folder))
    # Discovery must not wander into the real home of whoever runs the tests.
    home = root / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("HF_HOME", "HF_HUB_CACHE", "LLAMA_CACHE", "OLLAMA_MODELS", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    yield root
