"""DeepSeek sparse attention (DSA): DeepSeek-V3.2 (`deepseek32`) and GLM-5 (`glm-dsa`).

Both are MLA models (deepseek2's K-only latent cache) with a "lightning indexer" that scores
every cached token and lets each query attend to the `indexer.top_k` best only. llama.cpp:
- KV: src/llama-model.cpp create_memory builds a llama_kv_cache_dsa
  (src/llama-kv-cache-dsa.cpp): the MLA cache for the trunk layers, and beside it an indexer
  key cache of one head of `attention.indexer.key_length` per cell, in the K cache type, for
  every trunk layer (deepseek32) or only the layers whose indexer is "full" (glm-dsa,
  `hparams.is_indexer_full`). Both caches have n_ctx_seq cells per stream. The NextN/MTP
  blocks get no cache in the main context (their own cache lives in the MTP draft context).
- which glm-dsa layers index (src/models/glm-dsa.cpp load_arch_hparams): all of them in files
  with a training context below 1,048,576 (GLM-5, 5.1), else GLM-5.2's table (full on layers
  0, 1 and every fourth from 2), and `attention.indexer.types` overrides either.
- compute (src/models/deepseek32.cpp graph, llama-graph.cpp build_attn with top_k): the
  indexer's KQ mask ([n_kv, n_ubatch], F16 with the fused indexer op CPU and GPU backends
  report), the filled copy of the attention mask and its top-k-masked sum (F16 with flash
  attention, F32 without) live with the attention; the top-k indices and their scatter
  source add a few floats per selected token, and every layer's top-k indices stay alive.
  Fitted on llama.cpp's own dry run (tests/oracle/test_mla_oracle.py): 6 bytes per KV cell x
  token with flash attention, 10 without, plus 4 bytes per selected cell x token x layer.
"""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.gguf.spec import MetaValue
from vramtui.core.sizes import round_up

DSA_ARCHITECTURES = frozenset({"deepseek32", "glm-dsa"})

# src/models/glm-dsa.cpp: files trained on less context than this predate GLM-5.2's table.
GLM_PRE_5_2_CTX = 1_048_576
GLM_5_2_LAYERS = 78  # the length of that table

# Compute terms fitted on llama.cpp's dry run (module doc): bytes per cell x token.
MASK_BYTES_FA = 6  # indexer mask F16 + filled mask F16 + masked sum F16
MASK_BYTES_NO_FA = 10  # indexer mask F16 + filled mask F32 + masked sum F32
# Each attention layer's top-k indices (I32 [top_k, n_ubatch]) stay alive to the end of the
# graph: 4 bytes per selected cell x token x layer (DeepSeek-V3.2 shapes at 5 and 62 layers:
# 442 and 670 MiB, 4.0 MiB per layer at top-k 2,048, ubatch 512). glm-dsa layers without an
# indexer reuse the previous layer's indices (src/models/glm-dsa.cpp prev_top_k) and count alike.
TOP_K_BYTES_PER_LAYER = 4


def _glm_5_2_default(il: int) -> bool:
    """GLM-5.2's indexer types (llama.cpp GLM_5_2_DEFAULT_INDEXER_TYPES): 1, 1, then 1, 0, 0, 0
    repeated."""
    return il < 2 or (il < GLM_5_2_LAYERS and (il - 2) % 4 == 0)


def indexer_layers(
    arch: str, md: Mapping[str, MetaValue], n_layer: int, n_trunk: int, n_ctx_train: int
) -> tuple[bool, ...]:
    """Which layers keep an indexer key cache (module doc); all False for other architectures."""
    if arch not in DSA_ARCHITECTURES:
        return (False,) * n_layer
    if arch == "deepseek32":
        return tuple(il < n_trunk for il in range(n_layer))
    flags = [n_ctx_train < GLM_PRE_5_2_CTX or _glm_5_2_default(il) for il in range(n_layer)]
    types = md.get(f"{arch}.attention.indexer.types")
    if isinstance(types, tuple):
        for il, v in enumerate(types[:n_layer]):
            flags[il] = bool(v)
    return tuple(f and il < n_trunk for il, f in enumerate(flags))


def attention_extra_bytes(
    n_kv: int, n_ubatch: int, flash_attn: bool, top_k: int, indexer: tuple[bool, ...]
) -> int:
    """Bytes the sparse attention keeps alive beside the MLA attention phase (module doc).
    `indexer` holds, per layer with a KV cache, whether it has its own indexer."""
    if not any(indexer):
        return 0
    per_cell = MASK_BYTES_FA if flash_attn else MASK_BYTES_NO_FA
    per_top = TOP_K_BYTES_PER_LAYER * len(indexer)
    return n_ubatch * (per_cell * n_kv + per_top * min(top_k, n_kv))


def indexer_mask_bytes(n_kv: int, n_ubatch: int, indexer: tuple[bool, ...]) -> int:
    """The indexer's KQ mask, a graph input a GPU backend stages in its host compute buffer
    (llama-graph.cpp build_attn_inp_k_dsa_impl: F16 [n_kv, n_ubatch padded to 64] where the
    backend has the fused lightning indexer, flash attention or not). llama.cpp's RPC breakdown
    (tests/rpc): DeepSeek-V3.2 and GLM-5.2 at 8K, ubatch 512, 8 MiB above the inputs and the
    attention mask; 16 MiB at ubatch 1024."""
    return 2 * n_kv * round_up(n_ubatch, 64) if any(indexer) else 0
