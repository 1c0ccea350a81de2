"""The hybrid families held against llama.cpp's own dry run (xllamacpp's CPU build), each at
a short context with four sequences (recurrent state x 4, small KV) and a long one with one:
model and context (KV + recurrent state) to the MiB llama.cpp prints, compute within 10 %."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle.hybrid_models import HYBRID_MODELS, MAMBA2_SHAPES
from tests.support.oracle_check import assert_matches_dry_run
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.estimate.llama_dry_run import run_dry_run
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.oracle

MIB = 2**20
SETTINGS = (RuntimeSettings(ctx_size=4096, parallel=4), RuntimeSettings(ctx_size=32768))
CASES = [(name, s) for name in HYBRID_MODELS for s in SETTINGS]


@pytest.fixture(scope="module")
def hybrid_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ModelSpec, Path]]:
    root = tmp_path_factory.mktemp("hybrid")
    out = {}
    for name, (md, quant) in HYBRID_MODELS.items():
        spec = synthesize_spec(md, quant, name=name, source="oracle")
        out[name] = (spec, write_sparse_gguf(root / f"{name}.gguf", spec))
    return out


@pytest.mark.parametrize("case", CASES, ids=[f"{n}-c{s.ctx_size}-np{s.parallel}" for n, s in CASES])
def test_hybrid_matches_llama_cpp(
    case: tuple[str, RuntimeSettings], hybrid_files: dict[str, tuple[ModelSpec, Path]]
) -> None:
    name, settings = case
    spec, path = hybrid_files[name]
    ref = run_dry_run(path, settings)
    assert_matches_dry_run(spec, settings, ref, name=name, compute_tolerance=0.10)


# Mamba-2 layers at their peak: one to eight sequences, ubatch 256 and 512, compute within 5 %.
MAMBA2_SETTINGS = {
    "np1": RuntimeSettings(ctx_size=4096),
    "np4-ub256": RuntimeSettings(ctx_size=4096, parallel=4, ubatch_size=256),
    "np8": RuntimeSettings(ctx_size=4096, parallel=8),
}


@pytest.mark.parametrize("setting", sorted(MAMBA2_SETTINGS))
@pytest.mark.parametrize("name", sorted(MAMBA2_SHAPES))
def test_mamba2_layers_match_llama_cpp(name: str, setting: str, tmp_path: Path) -> None:
    md, quant = MAMBA2_SHAPES[name]
    spec = synthesize_spec(md, quant, name=name, source="oracle")
    path = write_sparse_gguf(tmp_path / f"{name}.gguf", spec)
    s = MAMBA2_SETTINGS[setting]
    ref = run_dry_run(path, s)
    assert not ref.error, f"llama.cpp did not load {name}: {ref.error}\n{ref.log_tail}"
    compute = estimate_memory(spec, s, backend="cpu").to_json()["compute_host_bytes"] / MIB
    assert abs(compute - ref.compute_buffer_mib) <= 0.05 * ref.compute_buffer_mib, (
        compute,
        ref.compute_buffer_mib,
    )
