"""Shared test setup: every test gets its own config, cache and data folders, and no network; the
tests that need llama.cpp's RPC oracle are marked, and skipped where it is not built."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rpc.oracle import BUILD_HINT, oracle_available

# The fixtures that start ggml-rpc-server processes: a test using one needs the oracle build.
RPC_ORACLE_FIXTURES = frozenset({"rpc_endpoints", "rpc_endpoint"})


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if RPC_ORACLE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.rpc_oracle)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skipped here, in one place, rather than in the fixtures: a skip raised in a fixture is
    reported at each test's own line, where this one is one summary line for them all."""
    if item.get_closest_marker("rpc_oracle") is None or oracle_available():
        return
    if os.environ.get("VRAMTUI_REQUIRE_RPC_ORACLE"):
        pytest.fail(BUILD_HINT)
    pytest.skip(BUILD_HINT)


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
