"""kimi-k3 held against llama.cpp's own dry run (xllamacpp's CPU build; its build has no
minimax-m3, which tests/rpc/test_arch2026_gpu.py holds to the pinned RPC build instead): at a
short context with four sequences (KDA state x 4) and a long one with one, model and context
(MLA latent cache + KDA state) to the MiB llama.cpp prints, compute within 10 %."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle.k3m3_models import K3M3_MODELS
from tests.support.oracle_check import assert_matches_dry_run
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.estimate.llama_dry_run import run_dry_run
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.writer import write_sparse_gguf

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.oracle

MIB = 2**20
SETTINGS = (RuntimeSettings(ctx_size=4096, parallel=4), RuntimeSettings(ctx_size=32768))
NAMES = [n for n, (md, _q) in K3M3_MODELS.items() if md["general.architecture"] == "kimi-k3"]
CASES = [(name, s) for name in NAMES for s in SETTINGS]


@pytest.mark.parametrize("case", CASES, ids=[f"{n}-c{s.ctx_size}-np{s.parallel}" for n, s in CASES])
def test_kimi_k3_matches_llama_cpp_dry_run(
    case: tuple[str, RuntimeSettings], tmp_path: Path
) -> None:
    name, settings = case
    md, quant = K3M3_MODELS[name]
    spec = synthesize_spec(md, quant, name=name, source="oracle")
    ref = run_dry_run(write_sparse_gguf(tmp_path / f"{name}.gguf", spec), settings)
    assert_matches_dry_run(spec, settings, ref, name=name, compute_tolerance=0.10)
