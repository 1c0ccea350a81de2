"""The hybrid families held against llama.cpp's own dry run (xllamacpp's CPU build), each at
a short context with four sequences (recurrent state x 4, small KV) and a long one with one:
model and context (KV + recurrent state) to the MiB llama.cpp prints, compute within 10 %."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.oracle.hybrid_models import HYBRID_MODELS
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
    assert not ref.error, f"llama.cpp did not load {name}: {ref.error}\n{ref.log_tail}"
    j = estimate_memory(spec, settings, backend="cpu").to_json()
    assert math.floor(j["weights_bytes"] / MIB) == ref.model_mib
    context = j["kv_bytes"] + j["recurrent_state_bytes"]
    assert math.floor(context / MIB) == ref.context_mib, ref.kv_lines
    compute = j["compute_host_bytes"] / MIB
    assert abs(compute - ref.compute_buffer_mib) <= 0.10 * ref.compute_buffer_mib, (
        compute,
        ref.compute_buffer_mib,
    )
