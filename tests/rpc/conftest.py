"""Fixtures for tests/rpc: sparse GGUF files of real architectures and RPC servers on loopback.

The tests that use `rpc_endpoints` need the oracle build; tests/conftest.py marks them
`rpc_oracle` and skips them where it is absent (or fails them under VRAMTUI_REQUIRE_RPC_ORACLE=1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rpc.oracle import rpc_servers
from tests.support.oracle_models import MODELS
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf

N_SERVERS = 3


@pytest.fixture(scope="session")
def rpc_endpoints() -> Iterator[list[str]]:
    """Three ggml-rpc-server processes on loopback (killed at the end of the session)."""
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
