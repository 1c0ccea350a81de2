"""The phi3 tensor table (src/models/phi3.cpp `load_arch_tensors`; the converter,
conversion Phi3MiniModel, keeps the checkpoint's fused projections): one `attn_qkv` of
n_embd + 2 x n_embd_gqa outputs, and one `ffn_up` holding gate and up (2 x n_ff) for the
SwiGLU. A checkpoint without tied embeddings has its own `output`."""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.gguf.spec import MetaValue

Row = tuple[str, tuple[int, ...], bool]  # (name, shape in GGUF order, kept F32)

ARCHITECTURES = frozenset({"phi3"})


def _num(md: Mapping[str, MetaValue], key: str, default: int = 0) -> int:
    v = md.get(f"phi3.{key}")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return default
    return int(v)


def phi3_tensors(md: Mapping[str, MetaValue], n_vocab: int) -> list[Row]:
    """Rows (name, GGUF shape, kept F32) of a phi3 file, in the loader's order."""
    n_layer, n_embd = _num(md, "block_count"), _num(md, "embedding_length")
    n_head = max(_num(md, "attention.head_count", 1), 1)
    n_embd_gqa = n_embd // n_head * _num(md, "attention.head_count_kv", n_head)
    n_ff = _num(md, "feed_forward_length")
    rows: list[Row] = [
        ("token_embd.weight", (n_embd, n_vocab), False),
        ("output_norm.weight", (n_embd,), True),
    ]
    if md.get("vramtui.tied_embeddings") is not True:
        rows.append(("output.weight", (n_embd, n_vocab), False))
    for il in range(n_layer):
        p = f"blk.{il}."
        rows += [
            (p + "attn_norm.weight", (n_embd,), True),
            (p + "attn_qkv.weight", (n_embd, n_embd + 2 * n_embd_gqa), False),
            (p + "attn_output.weight", (n_embd, n_embd), False),
            (p + "ffn_norm.weight", (n_embd,), True),
            (p + "ffn_down.weight", (n_ff, n_embd), False),
            (p + "ffn_up.weight", (n_embd, 2 * n_ff), False),
        ]
    return rows
