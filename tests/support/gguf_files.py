"""GGUF test models, written by the project's one writer (`vramtui.core.gguf.writer`).

Tensor tables are rows `(name, shape in GGUF order: ne0 first, ggml type id)`; the data section
is sparse, so a 20 GB model costs a few MB of disk. `qwen_vocab_gguf` is a session fixture: the
Qwen tokenizer (151,936 tokens and 151,387 merges) takes a few seconds to write, so it is
written once per test session (a test module imports it to use it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from gguf import GGUFReader, GGUFValueType

from vramtui.core.gguf import reader as gguf_reader
from vramtui.core.gguf.spec import SkippedArray, TensorInfo
from vramtui.core.gguf.writer import Typed, WriteValue, WrittenFile
from vramtui.core.gguf.writer import write_gguf as write_gguf_files

QWEN_N_VOCAB = 151_936
QWEN_N_MERGES = 151_387

TensorRow = tuple[str, Sequence[int], int]
V = GGUFValueType


def _infos(rows: Iterable[TensorRow]) -> list[TensorInfo]:
    return [TensorInfo(name, tuple(shape), ggml_type) for name, shape, ggml_type in rows]


def gguf_py_view(path: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]], int]:
    """A header as gguf-py's GGUFReader reads it, in the shape of `read_gguf_header`'s answer:
    metadata (arrays over `KEEP_ARRAY_MAX` as SkippedArray), tensor rows (name, shape, type,
    absolute data offset, element count) and the data offset."""
    reader = GGUFReader(path)
    meta: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        if field.types[0] == V.ARRAY:
            item_type, n = int(field.parts[3][0]), int(field.parts[4][0])
            if n > gguf_reader.KEEP_ARRAY_MAX:
                meta[key] = SkippedArray(item_type, n)
            else:
                meta[key] = tuple(field.contents())
        else:
            meta[key] = field.contents()
    tensors = [
        (t.name, tuple(int(d) for d in t.shape), int(t.tensor_type), t.data_offset, t.n_elements)
        for t in reader.tensors
    ]
    return meta, tensors, int(reader.data_offset)


def write_gguf(
    path: str | os.PathLike[str],
    arch: str = "llama",
    metadata: Mapping[str, WriteValue] | None = None,
    tensors: Iterable[TensorRow] = (),
    *,
    big_endian: bool = False,
    version: int | None = None,
    full_size: bool = True,
    alignment: int | None = None,
) -> Path:
    """A GGUF file with `metadata` and `tensors`, extended sparsely to its full size.

    `version` overwrites the version field after writing (v2 has v3's layout; 1 makes a file
    the reader must refuse). `full_size=False` leaves a header-only file.
    """
    written = write_gguf_files(
        path,
        arch,
        metadata or {},
        _infos(tensors),
        alignment=alignment,
        big_endian=big_endian,
        extend=full_size,
    )[0]
    if version is not None:
        with written.path.open("r+b") as fh:
            fh.seek(4)
            fh.write(version.to_bytes(4, "big" if big_endian else "little"))
    return written.path


def write_split_gguf(
    path: str | os.PathLike[str],
    arch: str = "llama",
    metadata: Mapping[str, WriteValue] | None = None,
    tensors: Iterable[TensorRow] = (),
    *,
    tensors_per_shard: int = 8,
) -> list[Path]:
    """A split model as llama.cpp's gguf-split names it (`STEM-00001-of-0000N.gguf`), each shard
    extended sparsely to its full size. `path` is the unsplit name (`STEM.gguf`)."""
    shards = write_gguf_files(
        path, arch, metadata or {}, _infos(tensors), tensors_per_shard=tensors_per_shard
    )
    return [s.path for s in shards]


def llama_tensors(  # noqa: PLR0917 - shape knobs, all defaulted
    n_layers: int = 2,
    n_embd: int = 64,
    n_ff: int = 128,
    n_vocab: int = 256,
    n_head_kv: int = 4,
    head_dim: int = 16,
    n_head: int = 4,
    weight_type: int = 0,
) -> list[TensorRow]:
    """A llama-shaped tensor table (GGUF order: [n_in, n_out])."""
    rows: list[TensorRow] = [("token_embd.weight", (n_embd, n_vocab), weight_type)]
    for i in range(n_layers):
        p = f"blk.{i}."
        rows += [
            (p + "attn_norm.weight", (n_embd,), 0),
            (p + "attn_q.weight", (n_embd, n_head * head_dim), weight_type),
            (p + "attn_k.weight", (n_embd, n_head_kv * head_dim), weight_type),
            (p + "attn_v.weight", (n_embd, n_head_kv * head_dim), weight_type),
            (p + "attn_output.weight", (n_head * head_dim, n_embd), weight_type),
            (p + "ffn_norm.weight", (n_embd,), 0),
            (p + "ffn_gate.weight", (n_embd, n_ff), weight_type),
            (p + "ffn_up.weight", (n_embd, n_ff), weight_type),
            (p + "ffn_down.weight", (n_ff, n_embd), weight_type),
        ]
    rows += [
        ("output_norm.weight", (n_embd,), 0),
        ("output.weight", (n_embd, n_vocab), weight_type),
    ]
    return rows


def llama_metadata(
    arch: str = "llama", n_layers: int = 2, name: str | None = "Tiny Test"
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        f"{arch}.block_count": n_layers,
        f"{arch}.context_length": 4096,
        f"{arch}.embedding_length": 64,
        f"{arch}.feed_forward_length": 128,
        f"{arch}.attention.head_count": 4,
        f"{arch}.attention.head_count_kv": 4,
        f"{arch}.rope.freq_base": 10000.0,
        f"{arch}.attention.layer_norm_rms_epsilon": 1e-5,
        "general.file_type": 1,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.tokens": [f"t{i}" for i in range(256)],
    }
    if name is not None:
        meta["general.name"] = name
    return meta


def write_tiny_model(
    path: str | os.PathLike[str], arch: str = "llama", name: str | None = "Tiny Test", **kw: Any
) -> Path:
    """A small complete llama-like model file (sparse data)."""
    return write_gguf(path, arch, llama_metadata(arch, name=name), llama_tensors(), **kw)


def write_projector(
    path: str | os.PathLike[str], name: str = "Tiny Projector", projection_dim: int | None = None
) -> Path:
    """A small mmproj file (architecture clip), as convert_hf_to_gguf.py writes them;
    `projection_dim` is the text model's width it projects to."""
    meta: dict[str, Any] = {
        "general.name": name,
        "general.type": "mmproj",
        "clip.has_vision_encoder": True,
        "clip.projector_type": "qwen3vl_merger",
        "clip.vision.block_count": 2,
        "clip.vision.embedding_length": 32,
        "clip.vision.image_size": 224,
        "clip.vision.patch_size": 16,
    }
    if projection_dim is not None:
        meta["clip.vision.projection_dim"] = projection_dim
    tensors: list[TensorRow] = [
        ("v.patch_embd.weight", (16, 16, 3, 32), 1),
        ("v.blk.0.attn_q.weight", (32, 32), 1),
        ("v.blk.1.attn_q.weight", (32, 32), 1),
        ("mm.0.weight", (32, 64), 1),
    ]
    return write_gguf(path, "clip", meta, tensors)


def qwen_vocab_tokens() -> list[str]:
    """151,936 distinct token strings of realistic lengths (1 to ~16 bytes, some non-ASCII)."""
    alphabet = "etaoinshrdlucmfwypvbgkjqxz"
    tokens = []
    for i in range(QWEN_N_VOCAB):
        stem = alphabet[i % 26] * (1 + (i * 7) % 9)
        tokens.append(f"{'Ġ' if i % 3 == 0 else ''}{stem}{i}")
    return tokens


def qwen_vocab_merges() -> list[str]:
    alphabet = "etaoinshrdlucmfwypvbgkjqxz"
    return [f"{alphabet[i % 26]}{i % 97} {alphabet[(i * 5) % 26]}{i}" for i in range(QWEN_N_MERGES)]


def qwen_vocab_metadata() -> dict[str, Any]:
    """Tokenizer keys shaped like a real Qwen3 GGUF (tokens, token types, merges)."""
    return {
        "general.name": "Qwen Vocab Test",
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "qwen2",
        "tokenizer.ggml.tokens": qwen_vocab_tokens(),
        "tokenizer.ggml.token_type": Typed(
            [1] * (QWEN_N_VOCAB - 100) + [3] * 100, V.ARRAY, V.INT32
        ),
        "tokenizer.ggml.merges": qwen_vocab_merges(),
        "tokenizer.ggml.eos_token_id": 151645,
        "tokenizer.ggml.padding_token_id": 151643,
        "tokenizer.ggml.bos_token_id": 151643,
        "tokenizer.ggml.add_bos_token": False,
        "tokenizer.chat_template": "{% for message in messages %}{{ message.content }}{% endfor %}",
    }


def write_qwen_vocab_model(path: str | os.PathLike[str], **kw: Any) -> Path:
    """A small qwen3 model (2 layers) carrying the full Qwen tokenizer."""
    meta = llama_metadata("qwen3", name=None)
    del meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.model"]
    meta.update(qwen_vocab_metadata())
    return write_gguf(path, "qwen3", meta, llama_tensors(n_vocab=QWEN_N_VOCAB), **kw)


@pytest.fixture(scope="session")
def qwen_vocab_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a session-cached qwen3 file with the Qwen tokenizer (written once)."""
    return write_qwen_vocab_model(tmp_path_factory.mktemp("qwen-vocab") / "qwen-vocab.gguf")


# -- headers sized like real ones, for remote reads ------------------------------------------

Q8_0 = 8
_HEADER_BYTES: dict[Path, int] = {}


def write_test_gguf(
    path: Path,
    *,
    n_vocab: int = 1000,
    n_layers: int = 2,
    n_embd: int = 64,
    file_size: int | None = None,
    split: tuple[int, int] | None = None,
    arch: str = "llama",
) -> Path:
    """A llama-shaped GGUF header with a vocabulary of `n_vocab` tokens, merges and token types
    (the three arrays that make a real header ~10 MB for the Qwen vocab), Q8_0 tensor infos, and
    the file extended sparsely to at least `file_size` (default: exactly the tensor data).

    `split=(index, count)` (1-based) writes the split.* keys of shard `index`.
    """
    meta: dict[str, WriteValue] = {
        f"{arch}.block_count": n_layers,
        f"{arch}.context_length": 4096,
        f"{arch}.embedding_length": n_embd,
        f"{arch}.feed_forward_length": n_embd * 4,
        f"{arch}.attention.head_count": max(1, n_embd // 16),
        f"{arch}.attention.head_count_kv": max(1, n_embd // 64),
        "tokenizer.ggml.model": "gpt2",
        # Token strings of realistic, varying length (Qwen averages ~7 bytes).
        "tokenizer.ggml.tokens": [f"t{i}" + "x" * (i % 11) for i in range(n_vocab)],
        "tokenizer.ggml.token_type": [1] * n_vocab,
        "tokenizer.ggml.merges": [f"m{i} y{i % 97}" for i in range(max(0, n_vocab - 256))],
    }
    if split is not None:
        meta["split.no"] = Typed(split[0] - 1, V.UINT16)
        meta["split.count"] = Typed(split[1], V.UINT16)
        meta["split.tensors.count"] = Typed(n_layers * 2 + 1, V.INT32)
    rows: list[TensorRow] = []
    if split is None or split[0] == 1:
        rows.append(("token_embd.weight", (n_embd, n_vocab), Q8_0))
        for layer in range(n_layers):
            rows.append((f"blk.{layer}.attn_q.weight", (n_embd, n_embd), Q8_0))
            rows.append((f"blk.{layer}.ffn_up.weight", (n_embd, n_embd * 4), Q8_0))
    else:
        rows.append((f"extra.{split[0]}.weight", (n_embd, n_embd), Q8_0))
    written: WrittenFile = write_gguf_files(
        path, arch, meta, _infos(rows), min_size=file_size or 0
    )[0]
    _HEADER_BYTES[written.path] = written.header_bytes
    return written.path


def header_size(path: Path) -> int:
    """Bytes up to the end of the tensor-info table (what a header reader must fetch)."""
    return _HEADER_BYTES[path]
