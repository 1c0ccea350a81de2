"""The oracle tests' one comparison: the instant estimate against llama.cpp's CPU dry run."""

from __future__ import annotations

import math
from typing import Any

from vramtui.core.estimate.llama_dry_run import MIB, DryRun
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec


def assert_matches_dry_run(
    spec: ModelSpec,
    settings: RuntimeSettings,
    ref: DryRun,
    *,
    name: str,
    compute_tolerance: float = 0.10,
) -> dict[str, Any]:
    """Weights and context (KV cache + recurrent state) to the MiB llama.cpp prints, the CPU
    compute buffer within `compute_tolerance` of it; returns the estimate's JSON."""
    assert not ref.error, f"llama.cpp did not load {name}: {ref.error}\n{ref.log_tail}"
    j = estimate_memory(spec, settings, backend="cpu").to_json()
    assert math.floor(j["weights_bytes"] / MIB) == ref.model_mib
    context = j["kv_bytes"] + j["recurrent_state_bytes"]
    assert math.floor(context / MIB) == ref.context_mib, ref.kv_lines
    compute = j["compute_host_bytes"] / MIB
    assert abs(compute - ref.compute_buffer_mib) <= compute_tolerance * ref.compute_buffer_mib, (
        compute,
        ref.compute_buffer_mib,
    )
    return j
