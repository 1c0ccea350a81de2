"""The estimate held against llama.cpp's own dry run (xllamacpp's CPU build).

Model and context (KV + recurrent state) must equal llama.cpp's figures to the MiB it prints
(its table floors to whole MiB); the compute buffer must be within 10 %. `CASES` are the
architectures the estimate was built on, `LONGTAIL_CASES` the ones added after llama.cpp
disagreed: llama4 (chunked attention), gemma3n (KV shared across layers, per-layer
embeddings), DeepSeek-V2 files from before the MLA change, qwen2moe and MLA at 32K.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from vramtui.core.estimate.llama_dry_run import run_dry_run as llama_dry_run
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.oracle

MIB = 2**20
S = RuntimeSettings

# (model, settings): each architecture at a few settings; SWA models on both sides of the window.
CASES: list[tuple[str, RuntimeSettings]] = [
    ("Qwen3-32B", S(ctx_size=16384)),
    ("Qwen3-32B", S(ctx_size=4096, flash_attn="off")),
    (
        "Qwen3-32B",
        S(ctx_size=20000, parallel=4, cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on"),
    ),
    ("Llama-3.1-8B", S(ctx_size=8192)),
    ("Llama-3.1-8B", S(ctx_size=5000, parallel=3, ubatch_size=256, flash_attn="off")),
    ("Qwen3-30B-A3B", S(ctx_size=8192, parallel=4)),
    ("Qwen3-30B-A3B", S(ctx_size=4096, flash_attn="off", cache_type_k="q8_0")),
    ("Gemma-3-27B", S(ctx_size=768)),  # below the 1024-token window
    ("Gemma-3-27B", S(ctx_size=8192, cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on")),
    ("Gemma-3-27B", S(ctx_size=8192, parallel=4, kv_unified=True)),
    ("Gemma-3-27B", S(ctx_size=8192, swa_full=True, flash_attn="off")),
    ("Gemma-2-9B", S(ctx_size=2048)),  # below the 4096-token window
    ("Gemma-2-9B", S(ctx_size=16384, parallel=4, flash_attn="off")),
    ("gpt-oss-20b", S(ctx_size=8192)),
    ("gpt-oss-20b", S(ctx_size=256, flash_attn="off")),  # window 128 + ubatch > ctx
    (
        "gpt-oss-20b",
        S(ctx_size=32768, parallel=4, cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on"),
    ),
    ("GLM-4.7-Flash", S(ctx_size=16384)),
    ("GLM-4.7-Flash", S(ctx_size=8192, parallel=4, flash_attn="off")),
    ("GLM-4.7-Flash", S(ctx_size=8192, cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on")),
    ("Qwen3-Next-80B-A3B", S(ctx_size=16384, parallel=4)),
    ("Qwen3-Next-80B-A3B", S(ctx_size=4096, flash_attn="off")),
    ("GLM-4.5-Air", S(ctx_size=8192)),
    ("GLM-4.5-Air", S(ctx_size=4096, parallel=4, flash_attn="off")),
    (
        "Mistral-Small-24B",
        S(ctx_size=8192, cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on"),
    ),
    ("LFM2-1.2B", S(ctx_size=8192, parallel=4)),
    ("LFM2-1.2B", S(ctx_size=4096, flash_attn="off")),
    ("Qwen3-VL-32B", S(ctx_size=16384)),
    ("Qwen2.5-7B", S(ctx_size=8192)),
    ("Qwen2.5-7B", S(ctx_size=4096, parallel=2, flash_attn="off", cache_type_k="q4_0")),
    ("Command-R7B", S(ctx_size=2048)),  # below the 4096-token window
    (
        "Command-R7B",
        S(ctx_size=16384, parallel=4, cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on"),
    ),
    ("Granite-4.0-H-Micro", S(ctx_size=8192, parallel=4)),
    ("Granite-4.0-H-Micro", S(ctx_size=4096, flash_attn="off")),
    ("Mamba-130M", S(ctx_size=4096, parallel=4)),
]


# fit rows of the gemma3n compute constants (tui/vramtui/core/estimate/compute.py): E4B and E2B at
# ctx 4096, ubatch 512, flash attention on; every gemma3n case below is a check row.
LONGTAIL_CASES: list[tuple[str, RuntimeSettings]] = [
    ("Llama-4-Scout", S(ctx_size=32768)),  # the 8192-token chunk window in force
    ("Llama-4-Scout", S(ctx_size=8192, parallel=4, ubatch_size=256)),
    ("Llama-4-Scout", S(ctx_size=4096, flash_attn="off")),
    ("Llama-4-Scout", S(ctx_size=32768, parallel=2, kv_unified=True)),
    ("Llama-4-Scout", S(ctx_size=32768, swa_full=True)),
    ("Gemma-3n-E4B", S(ctx_size=8192)),
    ("Gemma-3n-E4B", S(ctx_size=32768, flash_attn="off")),
    ("Gemma-3n-E4B", S(ctx_size=8192, parallel=4, ubatch_size=256)),
    ("Gemma-3n-E2B", S(ctx_size=16384, cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on")),
    ("DeepSeek-V2-Lite", S(ctx_size=8192)),
    ("DeepSeek-V2-Lite", S(ctx_size=8192, cache_type_k="q8_0")),  # llama.cpp accepts it
    ("DeepSeek-V2-Lite", S(ctx_size=4096, flash_attn="off")),
    ("DeepSeek-V2-Lite-MLA", S(ctx_size=32768)),
    ("DeepSeek-V3", S(ctx_size=32768)),
    ("DeepSeek-V3", S(ctx_size=4096, flash_attn="off")),
    ("Qwen1.5-MoE-A2.7B", S(ctx_size=8192)),
    ("Qwen1.5-MoE-A2.7B", S(ctx_size=4096, parallel=2, flash_attn="off")),
]


def _id(case: tuple[str, RuntimeSettings]) -> str:
    name, s = case
    parts = [name, f"c{s.ctx_size}", f"np{s.parallel}", f"fa-{s.flash_attn}", s.cache_type_k]
    if s.kv_unified:
        parts.append("kvu")
    if s.swa_full:
        parts.append("swafull")
    return "-".join(parts)


@pytest.mark.parametrize(
    "case", CASES + LONGTAIL_CASES, ids=[_id(c) for c in CASES + LONGTAIL_CASES]
)
def test_matches_llama_cpp(
    case: tuple[str, RuntimeSettings], sparse_models: dict[str, tuple[ModelSpec, Path]]
) -> None:
    name, settings = case
    spec, path = sparse_models[name]
    ref = llama_dry_run(path, settings)
    assert not ref.error, f"llama.cpp did not produce a breakdown: {ref.error}\n{ref.log_tail}"
    ours = estimate_memory(spec, settings, backend="cpu")
    j = ours.to_json()
    model = j["weights_bytes"]
    context = j["kv_bytes"] + j["recurrent_state_bytes"]
    assert math.floor(model / MIB) == ref.model_mib
    assert math.floor(context / MIB) == ref.context_mib, ref.kv_lines
    assert j["compute_device_bytes"] == 0
    compute = j["compute_host_bytes"] / MIB
    assert abs(compute - ref.compute_buffer_mib) <= 0.10 * ref.compute_buffer_mib, (
        compute,
        ref.compute_buffer_mib,
    )
    # the logits buffer: n_vocab x n_seq floats on the host
    assert abs(j["output_bytes"] / MIB - ref.output_buffer_mib) < 0.01


def test_settings_llama_cpp_refuses_are_refused(
    sparse_models: dict[str, tuple[ModelSpec, Path]],
) -> None:
    from vramtui.core.errors import SettingsError  # noqa: PLC0415 - lazy: keeps startup fast

    for name, settings, match in [
        ("Llama-3.1-8B", S(ctx_size=4096, cache_type_v="q8_0", flash_attn="off"), "flash-attn"),
        ("GLM-4.7-Flash", S(ctx_size=4096, cache_type_k="q8_0", flash_attn="on"), "must match"),
    ]:
        spec, path = sparse_models[name]
        ref = llama_dry_run(path, settings)
        assert ref.error and ref.context_mib < 0
        with pytest.raises(SettingsError, match=match):
            estimate_memory(spec, settings, backend="cpu")
