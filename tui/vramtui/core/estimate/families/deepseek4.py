"""DeepSeek-V4 (`deepseek4`): a sliding-window K cache beside compressed attention caches.

llama.cpp src/llama-kv-cache-dsv4.cpp (llama_kv_cache_dsv4), built by create_memory for the
main context, keeps per layer (K only, in the K cache type, one stream per sequence even with
--kv-unified):
- the raw cache: every block's K (head width, one KV head) in a sliding-window cache
  (llama_kv_cache_iswa; load_arch_hparams marks every block SWA with the file's window), of
  PAD(n_swa + n_ubatch, 256) cells per sequence (all n_ctx_seq with --swa-full);
- blocks with compression ratio 4 (CSA): a compressed K cache of PAD(ceil(n_ctx_seq / 4), 256)
  cells, and the lightning indexer's key cache (indexer head width) of as many cells;
- blocks with ratio 128 (HCA): a compressed K cache of PAD(ceil(n_ctx_seq / 128), 256) cells;
- compressor states (llama_dsv4_comp_state, F32, kv and score tensors per sequence): CSA
  2 x head by 8 rows, HCA head by 128 rows, the indexer's 2 x indexer head by 8 rows.
llama.cpp counts the states in the context buffer; here they are the recurrent-state share.
"""

from __future__ import annotations

from vramtui.core.gguf.ggml_types import GGMLType
from vramtui.core.gguf.spec import MetaValue
from vramtui.core.sizes import round_up

DEEPSEEK4 = "deepseek4"
CSA_RATIO = 4  # llama-kv-cache-dsv4.cpp DSV4_CSA_RATIO
HCA_RATIO = 128  # DSV4_HCA_RATIO
KV_PAD = 256  # GGML_PAD(dsv4_comp_size(kv_size, ratio), 256u)
F32 = 4


def read_ratios(value: MetaValue | None, n_layer: int) -> tuple[int, ...]:
    """`attention.compress_ratios` per block; 0 (window only) where the array is short."""
    vals = (
        [int(x) for x in value if isinstance(x, (int, float))] if isinstance(value, tuple) else []
    )
    return tuple((vals + [0] * n_layer)[:n_layer])


def _compressed_cells(n_ctx_seq: int, ratio: int) -> int:
    return round_up(max(1, -(-n_ctx_seq // ratio)), KV_PAD)


def layer_cache_bytes(
    ratio: int,
    head: int,
    indexer_head: int,
    *,
    tk: GGMLType,
    n_ctx_seq: int,
    raw_cells: int,
    n_seq: int,
) -> tuple[int, int]:
    """(K cache bytes, compressor state bytes) one block keeps (module doc)."""
    kv = tk.row_bytes(head) * raw_cells * n_seq
    state = 0
    if ratio == CSA_RATIO:
        cells = _compressed_cells(n_ctx_seq, ratio) * n_seq
        kv += (tk.row_bytes(head) + tk.row_bytes(indexer_head)) * cells
        state = F32 * n_seq * 2 * (2 * head + 2 * indexer_head) * 2 * CSA_RATIO
    elif ratio == HCA_RATIO:
        kv += tk.row_bytes(head) * _compressed_cells(n_ctx_seq, ratio) * n_seq
        state = F32 * n_seq * 2 * head * HCA_RATIO
    return kv, state


def raw_cells(n_ctx_seq: int, n_swa: int, n_ubatch: int, swa_full: bool) -> int:
    """Cells per sequence of the raw sliding-window cache (always one stream per sequence)."""
    if swa_full:
        return n_ctx_seq
    return min(n_ctx_seq, round_up(n_swa + n_ubatch, KV_PAD))


# Compute buffer (src/models/deepseek4.cpp graph, FA on), fitted on llama.cpp's own dry run of
# DeepSeek-V4-Flash-shaped models (tests/oracle/test_mla_oracle.py; 4096 wide, 64 heads of 512,
# output LoRA 1024 x 8 groups, 6 and 12 blocks, ubatch 256 and 512, 8,192 to 65,536 cells):
# floats per token of the ubatch: 2 x n_head x head (q and its roped copy), 7 x n_embd (the four
# hyper-connection streams and their mix), 4 x output LoRA x groups (the grouped low-rank output);
# bytes per token: 7.3 per compressed (CSA) cell (its F16 mask, the indexer's, scores), 2 per
# raw-window and HCA cell (F16 masks), 4 per top-k index. Without flash attention each head's KQ
# scores over the raw, CSA and HCA cells (F32) come on top. Within 2 % at 8,192 cells, 10 % at
# 65,536 (where per-layer terms llama.cpp keeps grow).
Q_COPIES = 2
EMBD_STREAMS = 7
OUT_LORA_COPIES = 4
CSA_CELL_BYTES = 7.3
MASK_CELL_BYTES = 2
TOP_K_BYTES = 4


def compute_bytes(
    n_head: int,
    head: int,
    n_embd: int,
    *,
    out_lora: int,
    top_k: int,
    cells: tuple[int, int, int],
    n_ubatch: int,
    flash_attn: bool,
) -> int:
    """The graph's peak for one ubatch; `cells` = (raw window, CSA, HCA) per sequence."""
    raw, csa, hca = cells
    floats = Q_COPIES * n_head * head + EMBD_STREAMS * n_embd + OUT_LORA_COPIES * out_lora
    per_token = 4 * floats + CSA_CELL_BYTES * csa + MASK_CELL_BYTES * (raw + hca)
    per_token += TOP_K_BYTES * min(top_k, csa)
    if not flash_attn:
        per_token += 4 * n_head * (raw + csa + hca)
    return int(n_ubatch * per_token)


def cells_of(n_ctx_seq: int, n_swa: int, n_ubatch: int) -> tuple[int, int, int]:
    """(raw window, CSA, HCA) cells per sequence the graph attends over."""
    return (
        raw_cells(n_ctx_seq, n_swa, n_ubatch, False),
        _compressed_cells(n_ctx_seq, CSA_RATIO),
        _compressed_cells(n_ctx_seq, HCA_RATIO),
    )


# The GPU backend's host compute buffer (the graph inputs the scheduler stages on the CPU,
# ggml-backend.cpp ggml_backend_sched_split_graph): deepseek4 takes no mixed batch
# (llama-arch.cpp llm_arch_supports_mixed_batch), so llama-graph.cpp build_inp_embd builds two
# F32 [n_embd, n_ubatch] inputs, not three; its masks are the raw window's, the CSA and HCA
# caches' (F16 with flash attention, F32 without) and the lightning indexer's over the CSA cells
# (F16, the fused indexer). llama.cpp's RPC breakdown (tests/rpc; 1,024 and 4,096 wide, 4K and
# 16K, ubatch 512 and 1,024, flash attention on and off): within 1 MiB.
HOST_EMBD_INPUTS = 2


def host_input_bytes(
    n_embd: int, cells: tuple[int, int, int], n_ubatch: int, flash_attn: bool
) -> int:
    """The host compute buffer's inputs and masks for one ubatch (the RPC oracle's figure)."""
    raw, csa, hca = cells
    ub = round_up(n_ubatch, 64)
    mask = 2 if flash_attn else 4
    return 4 * n_ubatch * HOST_EMBD_INPUTS * n_embd + ub * (mask * (raw + csa + hca) + 2 * csa)
