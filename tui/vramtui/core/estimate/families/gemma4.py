"""gemma4: the memory rules of src/models/gemma4.cpp that differ from the generic reading.

- KV: layers from `n_layer - attention.shared_kv_layers` on own no cache; they read the last
  earlier layer of the same kind (load_arch_hparams: n_layer_kv_from_start; llama-model.cpp
  create_memory: the gemma3n/gemma4 `reuse` callback). Sliding layers use the `_swa` head
  size, full layers `key_length`, each with its own KV head count (an array in the file).
- Weights: the tied output (a TENSOR_DUPLICATED token_embd) is created before token_embd
  (load_arch_tensors), so the CPU buffer holds both copies, as for gemma3n.
- Compute: the per-layer inputs (families/gemma4_compute.py).
- gemma4-assistant (the drafter): its blocks are loaded and own no KV cache (`ASSISTANT`).
"""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.gguf.spec import MetaValue

ARCH = "gemma4"
# The separate drafter (src/models/gemma4-assistant.cpp): its blocks are counted in
# nextn_predict_layers (conversion/gemma.py Gemma4AssistantModel) yet are its whole model, and
# every layer reads the target's KV cache (llama-model.cpp create_memory: the `share` callback
# maps each layer to the target's last layer of its kind), so it allocates no cache of its own.
ASSISTANT = "gemma4-assistant"


def kv_layers_from_start(md: Mapping[str, MetaValue], n_layer: int) -> int:
    """Layers that own a KV cache (load_arch_hparams: n_layer - shared_kv_layers)."""
    v = md.get(f"{ARCH}.attention.shared_kv_layers", 0)
    shared = int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0
    return max(n_layer - max(shared, 0), 0)


def owns_kv_cache(arch: str) -> bool:
    """False for the assistant, whose attention reads the target's cache."""
    return arch != ASSISTANT
