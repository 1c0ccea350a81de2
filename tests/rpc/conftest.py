"""Fixtures for tests/rpc: sparse GGUF files of real architectures and RPC servers on loopback.

Without the oracle build the tests that need it are skipped with a reason saying how to build it
(`make rpc-oracle`); CI sets VRAMTUI_REQUIRE_RPC_ORACLE=1 so that a missing build fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rpc.oracle import BUILD_HINT, oracle_available, rpc_servers
from tests.support.oracle_models import MODELS
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf

N_SERVERS = 3


def _require_oracle() -> None:
    if oracle_available():
        return
    if os.environ.get("VRAMTUI_REQUIRE_RPC_ORACLE"):
        pytest.fail(BUILD_HINT)
    pytest.skip(BUILD_HINT)


@pytest.fixture(scope="session")
def rpc_endpoints() -> Iterator[list[str]]:
    """Three ggml-rpc-server processes on loopback (killed at the end of the session)."""
    _require_oracle()
    with rpc_servers(N_SERVERS) as endpoints:
        yield endpoints


class _SparseModels(dict[str, tuple[ModelSpec, Path]]):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, name: str) -> tuple[ModelSpec, Path]:
        md, quant = MODELS[name]
        spec = synthesize_spec(md, quant, name=name, source="rpc-oracle")
        path = write_sparse_gguf(self.root / f"{name}.gguf", spec)
        self[name] = (spec, path)
        return spec, path


@pytest.fixture(scope="session")
def sparse_model_files(tmp_path_factory: pytest.TempPathFactory) -> _SparseModels:
    """name -> (spec, sparse file), written on first use."""
    return _SparseModels(tmp_path_factory.mktemp("rpc-sparse"))
