"""The 2026 architectures held against llama.cpp's own dry run (xllamacpp's CPU build):
gemma4, mistral3, phi3, llama4, gemma3n and gpt-oss, each at two settings (four sequences at
32K with flash attention, and one sequence at 8K without it).

Model and context must equal llama.cpp's figures to the MiB it prints; the compute buffer must
be within 5 %."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle.arch2026_models import ARCH2026_MODELS
from tests.oracle.longtail_models import LONGTAIL_MODELS
from tests.support.oracle_check import assert_matches_dry_run
from tests.support.oracle_models import MODELS
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.estimate.llama_dry_run import run_dry_run
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.oracle

MIB = 2**20
SETTINGS = {
    "c32k-np4": RuntimeSettings(ctx_size=32768, parallel=4),
    "c8k-fa-off": RuntimeSettings(ctx_size=8192, flash_attn="off"),
}
# model -> compute tolerance (fraction of llama.cpp's figure)
CASES = {
    "Gemma-4-31B": 0.05,
    "Gemma-4-26B-A4B": 0.05,
    "Gemma-4-E2B-like": 0.05,
    "Gemma-4-E2B": 0.05,
    "Devstral-Small-2-24B": 0.05,
    "Phi-4": 0.05,
    "Llama-4-Scout": 0.05,
    "Gemma-3n-E4B": 0.05,
    "gpt-oss-20b": 0.05,
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ModelSpec, Path]]:
    root = tmp_path_factory.mktemp("arch2026")
    every = {**MODELS, **LONGTAIL_MODELS, **ARCH2026_MODELS}
    out: dict[str, tuple[ModelSpec, Path]] = {}
    for name in CASES:
        md, quant = every[name]
        spec = synthesize_spec(md, quant, name=name, source="oracle")
        out[name] = (spec, write_sparse_gguf(root / f"{name}.gguf", spec))
    return out


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_llama_cpp(
    name: str, setting: str, files: dict[str, tuple[ModelSpec, Path]]
) -> None:
    spec, path = files[name]
    s = SETTINGS[setting]
    ref = run_dry_run(path, s, timeout=120)
    assert_matches_dry_run(spec, s, ref, name=name, compute_tolerance=CASES[name])


# Per-layer-input shapes where the feed-forward does and does not land in the hole the
# per-layer projection leaves (estimate/families/gemma4_compute.py), with flash attention on (the
# default): compute within 5 %.
PLE_CASES = ("Gemma-4-E2B", "Gemma-4-E2B-like", "Gemma-4-PLE-wide")
PLE_SETTINGS = {
    "c4k": RuntimeSettings(ctx_size=4096),
    "c32k-np4-ub256": RuntimeSettings(ctx_size=32768, parallel=4, ubatch_size=256),
}


@pytest.mark.parametrize("setting", sorted(PLE_SETTINGS))
@pytest.mark.parametrize("name", PLE_CASES)
def test_per_layer_inputs_match_llama_cpp(name: str, setting: str, tmp_path: Path) -> None:
    md, quant = ARCH2026_MODELS[name]
    spec = synthesize_spec(md, quant, name=name, source="oracle")
    path = write_sparse_gguf(tmp_path / f"{name}.gguf", spec)
    s = PLE_SETTINGS[setting]
    ref = run_dry_run(path, s, timeout=120)
    assert not ref.error, f"llama.cpp did not produce a breakdown: {ref.error}\n{ref.log_tail}"
    compute = estimate_memory(spec, s, backend="cpu").to_json()["compute_host_bytes"] / MIB
    assert abs(compute - ref.compute_buffer_mib) <= 0.05 * ref.compute_buffer_mib, (
        compute,
        ref.compute_buffer_mib,
    )


def test_gemma4_assistant_header_loads(tmp_path: Path) -> None:
    """llama.cpp's loader takes every tensor and key of the synthesized drafter; what stops
    the dry run is only the missing target context the drafter attends through."""
    md, quant = ARCH2026_MODELS["Gemma-4-assistant-like"]
    spec = synthesize_spec(md, quant, name="assistant", source="oracle")
    path = write_sparse_gguf(tmp_path / "assistant.gguf", spec)
    ref = run_dry_run(path, RuntimeSettings(ctx_size=4096), timeout=120)
    assert "requires ctx_other" in ref.log_tail
    assert "not found" not in ref.log_tail and "wrong shape" not in ref.log_tail
