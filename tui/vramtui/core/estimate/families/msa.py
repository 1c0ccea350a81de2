"""MiniMax Sparse Attention (MSA): MiniMax-M3 (`minimax-m3`).

- KV (src/llama-model.cpp create_memory, src/llama-kv-cache-msa.cpp): a llama_kv_cache_msa,
  the main GQA cache on every layer and beside it an indexer cache on the layers after the
  leading dense ones. The indexer cache is a whole llama_kv_cache over the model's hparams with
  one KV head of `attention.indexer.key_length`: its K rows are that wide in the K type, and
  it allocates V rows too, one head of the model's value width in the V type. Both caches
  have n_ctx_seq cells per stream.
- compute (src/models/minimax-m3.cpp graph, batch path): with flash attention on (and per
  sequence streams) every sparse layer expands its block selection to cell granularity, per
  indexer head (one per KV head): the gathered block mask F32 [n_tokens x heads, n_kv] and its
  transposed copy F32 [n_kv, n_tokens, heads] live together (the F16 mask cast from the copy
  comes after the first is freed), beside the graph-wide F32 copy of the KQ mask (msa_mf) and
  the F16 KQ mask itself: 8 x heads + 6 bytes per KV cell x token. Beside them a part per
  token that grows with the width, fitted: `MSA_EMBD` x n_embd floats. Without flash
  attention the graph runs dense attention.
  llama.cpp's RPC breakdown (llama-fit-params --rpc, tests/oracle/k3m3_models.py's
  tiny-minimax-m3, 4 indexer heads, n_embd 1,024): one sequence at ctx 4,096-16,384 x ubatch
  256-1,024 within 2 % of this; four sequences at ctx 16,384 within 4 %. Four sequences at ctx
  4,096 (1,024 cells a stream) read 29 % low (35 MiB measured, 25 here): another part of the
  graph sets the peak there, not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.gguf.spec import MetaValue

ARCH = "minimax-m3"
MSA_MASK_BYTES_PER_HEAD = 8  # the gathered block mask and its transposed copy, F32 each
MSA_MASK_BYTES = 6  # msa_mf, the F32 copy of the KQ mask, and the F16 KQ mask
MSA_EMBD = 8  # floats per token x n_embd beside the masks, fitted (module doc)


def _int(v: MetaValue | None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return 0
    return int(v)


def indexer_layers(arch: str, md: Mapping[str, MetaValue], n_layer: int) -> tuple[bool, ...]:
    """Layers with an MSA indexer cache: every one after the leading dense layers
    (create_memory's filter_idx: il >= n_layer_dense_lead); all False for other architectures."""
    if arch != ARCH:
        return (False,) * n_layer
    n_dense = _int(md.get(f"{arch}.leading_dense_block_count"))
    return tuple(il >= n_dense for il in range(n_layer))


def indexer_v_width(arch: str, head_v: int) -> int:
    """Width of the V rows the indexer cache allocates per cell (0: none, as in DSA)."""
    return head_v if arch == ARCH else 0


def compute_bytes(
    n_kv: int, n_ubatch: int, n_embd: int, n_indexer_head: int, n_streams: int = 1
) -> int:
    """The sparse layers' peak with flash attention on, KQ mask included (module doc). With
    several sequences the worst-case ubatch holds one stream each and the graph builds the
    block masks per stream, n_ubatch / n_streams tokens at a time."""
    per_stream = n_ubatch // max(n_streams, 1)
    heads = MSA_MASK_BYTES_PER_HEAD * max(n_indexer_head, 1)
    masks = n_kv * (per_stream * heads + n_ubatch * MSA_MASK_BYTES)
    return masks + 4 * n_ubatch * MSA_EMBD * n_embd
