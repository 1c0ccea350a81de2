"""Sparse GGUF files of real architectures, written once per session for the oracle tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle.longtail_models import LONGTAIL_MODELS
from tests.support.oracle_models import MODELS
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf


@pytest.fixture(scope="session")
def sparse_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ModelSpec, Path]]:
    """name -> (spec, path); each file is written on first use."""
    return _Lazy(tmp_path_factory.mktemp("sparse"))  # type: ignore[return-value]


class _Lazy(dict[str, tuple[ModelSpec, Path]]):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, name: str) -> tuple[ModelSpec, Path]:
        md, quant = {**MODELS, **LONGTAIL_MODELS}[name]
        spec = synthesize_spec(md, quant, name=name, source="oracle")
        path = write_sparse_gguf(self.root / f"{name}.gguf", spec)
        self[name] = (spec, path)
        return spec, path
