"""The 2026 MLA and sparse-attention families held against llama.cpp's own dry run (xllamacpp's
CPU build): deepseek32 and glm-dsa (the DSA indexer key cache, GLM-5.2's shared indexers),
deepseek4 (window + compressed caches, compressor states), mistral4, minimax-m2, and deepseek2
with a declared MTP block.

Model and context must equal llama.cpp's figures to the MiB it prints; the compute buffer must
be within 5 %.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle.mla_models import MLA_MODELS
from tests.support.oracle_check import assert_matches_dry_run
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.errors import SettingsError
from vramtui.core.estimate.llama_dry_run import run_dry_run as llama_dry_run
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.oracle

MIB = 2**20
S = RuntimeSettings
COMPUTE_TOLERANCE = 0.05

# each model at two settings: the -c 32768 -np 4 question of the catalog check, and one with
# flash attention off (F32 masks) or a quantized cache
CASES: list[tuple[str, RuntimeSettings]] = [
    ("tiny-deepseek32", S(ctx_size=32768, parallel=4)),
    ("tiny-deepseek32", S(ctx_size=16384, flash_attn="off")),
    ("tiny-glm-dsa", S(ctx_size=32768, parallel=4)),
    ("tiny-glm-dsa", S(ctx_size=16384, cache_type_k="q8_0", cache_type_v="q8_0")),
    ("tiny-glm-dsa-5.2", S(ctx_size=32768, parallel=4)),
    ("tiny-glm-dsa-5.2", S(ctx_size=32768, flash_attn="off")),
    ("tiny-glm-dsa-types", S(ctx_size=16384)),
    ("tiny-glm-dsa-types", S(ctx_size=32768, parallel=2, kv_unified=True)),
    ("tiny-mistral4", S(ctx_size=32768, parallel=4)),
    ("tiny-mistral4", S(ctx_size=8192, flash_attn="off")),
    ("tiny-deepseek2-mtp", S(ctx_size=32768, parallel=4)),
    ("tiny-deepseek2-mtp", S(ctx_size=8192, cache_type_k="q8_0", cache_type_v="q8_0")),
    ("tiny-deepseek4", S(ctx_size=16384)),
    ("tiny-deepseek4", S(ctx_size=16384, flash_attn="off")),
    ("deepseek4-flash-6", S(ctx_size=32768, parallel=4)),
    (
        "deepseek4-flash-6",
        S(ctx_size=8192, ubatch_size=256, cache_type_k="q8_0", cache_type_v="q8_0"),
    ),
    ("tiny-minimax-m2", S(ctx_size=32768, parallel=4)),
    ("tiny-minimax-m2", S(ctx_size=8192, flash_attn="off", cache_type_k="q8_0")),
]


@pytest.fixture(scope="module")
def mla_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ModelSpec, Path]]:
    root = tmp_path_factory.mktemp("mla")
    out: dict[str, tuple[ModelSpec, Path]] = {}
    for name, (md, quant) in MLA_MODELS.items():
        spec = synthesize_spec(md, quant, name=name, source="oracle")
        out[name] = (spec, write_sparse_gguf(root / f"{name}.gguf", spec))
    return out


def _id(case: tuple[str, RuntimeSettings]) -> str:
    name, s = case
    parts = [name, f"c{s.ctx_size}", f"np{s.parallel}", f"fa-{s.flash_attn}", s.cache_type_k]
    return "-".join(parts + (["kvu"] if s.kv_unified else []))


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_matches_llama_cpp(
    case: tuple[str, RuntimeSettings], mla_models: dict[str, tuple[ModelSpec, Path]]
) -> None:
    name, settings = case
    spec, path = mla_models[name]
    ref = llama_dry_run(path, settings)
    j = assert_matches_dry_run(spec, settings, ref, name=name, compute_tolerance=COMPUTE_TOLERANCE)
    assert "estimated with generic rules" not in " ".join(j["notes"])


def test_deepseek4_k_and_v_cache_types_must_match(
    mla_models: dict[str, tuple[ModelSpec, Path]],
) -> None:
    """DeepSeek-V4's caches hold K only: llama.cpp refuses different K and V types, and so does
    the estimate."""
    spec, path = mla_models["tiny-deepseek4"]
    settings = S(ctx_size=8192, cache_type_k="q8_0")
    assert llama_dry_run(path, settings).error
    with pytest.raises(SettingsError, match="must match"):
        estimate_memory(spec, settings, backend="cpu")
