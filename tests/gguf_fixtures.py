"""Write GGUF test files with gguf.GGUFWriter (header + tensor table, data left sparse).

Importable by any test (`from gguf_fixtures import write_gguf, qwen_vocab_gguf`): pytest puts
tests/ on sys.path. A file gets its full size with `os.truncate`, so a 20 GB model costs a few
MB of disk. `qwen_vocab_gguf` is a session fixture: the Qwen tokenizer (151,936 tokens and
151,387 merges) takes GGUFWriter a few seconds, so it is written once per test session.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGUFEndian, GGUFValueType, GGUFWriter

from tui.core.model.ggml_types import GGML_TYPES, tensor_bytes

QWEN_N_VOCAB = 151_936
QWEN_N_MERGES = 151_387


@dataclass(frozen=True)
class Typed:
    """A metadata value with an explicit GGUF type (plain Python values get a default type)."""

    value: Any
    vtype: GGUFValueType
    sub_type: GGUFValueType | None = None


# (name, shape in GGUF order: ne0 first, ggml type id)
TensorRow = tuple[str, Sequence[int], int]


def _add_kv(writer: GGUFWriter, key: str, value: Any) -> None:
    if isinstance(value, Typed):
        writer.add_key_value(key, value.value, value.vtype, sub_type=value.sub_type)
    elif isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value) if 0 <= value < 2**32 else writer.add_int64(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    elif isinstance(value, (list, tuple)):
        writer.add_array(key, list(value))
    else:
        raise TypeError(f"{key}: cannot write {type(value).__name__}")


def write_gguf(
    path: str | os.PathLike[str],
    arch: str = "llama",
    metadata: Mapping[str, Any] | None = None,
    tensors: Iterable[TensorRow] = (),
    *,
    big_endian: bool = False,
    version: int | None = None,
    full_size: bool = True,
    alignment: int | None = None,
) -> Path:
    """Write a GGUF header with `metadata` and `tensors`; extend it sparsely to full size.

    `version` patches the version field after writing (v2 has v3's layout; 1 makes a file the
    reader must refuse). `full_size=False` leaves a header-only file.
    """
    path = Path(path)
    writer = GGUFWriter(path, arch, endianess=GGUFEndian.BIG if big_endian else GGUFEndian.LITTLE)
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    for key, value in (metadata or {}).items():
        _add_kv(writer, key, value)
    end = 0
    align = alignment or 32
    for name, shape, ggml_type in tensors:
        n_bytes = tensor_bytes(ggml_type, tuple(shape))
        # shape in numpy order (outermost first), in elements: GGUFWriter writes it reversed
        writer.add_tensor_info(
            name, tuple(reversed(tuple(shape))), np.dtype(np.float32), n_bytes, raw_dtype=ggml_type
        )
        end = -(-end // align) * align + n_bytes
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    if version is not None:
        with path.open("r+b") as fh:
            fh.seek(4)
            fh.write(version.to_bytes(4, "big" if big_endian else "little"))
    if full_size:
        header = path.stat().st_size
        data_offset = -(-header // align) * align
        os.truncate(path, data_offset + end)
    return path


def write_split_gguf(
    path: str | os.PathLike[str],
    arch: str = "llama",
    metadata: Mapping[str, Any] | None = None,
    tensors: Iterable[TensorRow] = (),
    *,
    tensors_per_shard: int = 8,
) -> list[Path]:
    """A split model as llama.cpp's gguf-split names it (`STEM-00001-of-0000N.gguf`), each shard
    extended sparsely to its full size. `path` is the unsplit name (`STEM.gguf`)."""
    path = Path(path)
    writer = GGUFWriter(path, arch, split_max_tensors=tensors_per_shard)
    for key, value in (metadata or {}).items():
        _add_kv(writer, key, value)
    for name, shape, ggml_type in tensors:
        n_bytes = tensor_bytes(ggml_type, tuple(shape))
        writer.add_tensor_info(
            name, tuple(reversed(tuple(shape))), np.dtype(np.float32), n_bytes, raw_dtype=ggml_type
        )
    shard_tensors = [list(t.values()) for t in writer.tensors]
    paths = writer.format_shard_names(path)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    for shard, infos in zip(paths, shard_tensors, strict=True):
        end = 0
        for ti in infos:
            end = -(-end // 32) * 32 + ti.nbytes
        data_offset = -(-shard.stat().st_size // 32) * 32
        os.truncate(shard, data_offset + end)
    return paths


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


def write_projector(path: str | os.PathLike[str], name: str = "Tiny Projector") -> Path:
    """A small mmproj file (architecture clip), as convert_hf_to_gguf.py writes them."""
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


def qwen_vocab_metadata(arch: str = "qwen3") -> dict[str, Any]:
    """Tokenizer keys shaped like a real Qwen3 GGUF (tokens, token types, merges)."""
    return {
        "general.name": "Qwen Vocab Test",
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "qwen2",
        "tokenizer.ggml.tokens": qwen_vocab_tokens(),
        "tokenizer.ggml.token_type": Typed(
            [1] * (QWEN_N_VOCAB - 100) + [3] * 100, GGUFValueType.ARRAY, GGUFValueType.INT32
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


def all_type_ids() -> list[int]:
    return sorted(GGML_TYPES)


# -- raw byte builders, for headers GGUFWriter will not write (broken or hostile ones) ----------

_VT_CODE = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}


def pack_str(text: str | bytes, order: str = "<") -> bytes:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return struct.pack(order + "Q", len(raw)) + raw


def pack_value(vtype: int, value: Any, order: str = "<") -> bytes:
    """A value of GGUF type `vtype` (arrays: value = (item_type, [items]))."""
    if vtype in _VT_CODE:
        return struct.pack(order + _VT_CODE[vtype], value)
    if vtype == 8:
        return pack_str(value, order)
    if vtype == 9:
        item_type, items = value
        body = b"".join(pack_value(item_type, v, order) for v in items)
        return struct.pack(order + "IQ", item_type, len(items)) + body
    raise ValueError(vtype)


def pack_kv(key: str | bytes, vtype: int, value: Any, order: str = "<") -> bytes:
    return pack_str(key, order) + struct.pack(order + "I", vtype) + pack_value(vtype, value, order)


def pack_tensor(
    name: str | bytes, shape: Sequence[int], ggml_type: int, offset: int, order: str = "<"
) -> bytes:
    return (
        pack_str(name, order)
        + struct.pack(order + "I", len(shape))
        + b"".join(struct.pack(order + "Q", d) for d in shape)
        + struct.pack(order + "IQ", ggml_type, offset)
    )


def raw_gguf(
    kvs: Sequence[bytes],
    tensors: Sequence[bytes] = (),
    *,
    version: int = 3,
    n_kv: int | None = None,
    n_tensors: int | None = None,
    order: str = "<",
    data: int = 0,
    pad: bool = True,
) -> bytes:
    """Magic, version, counts (the real ones unless overridden), kvs, tensor infos, then (if
    `pad`) padding to 32 and `data` zero bytes of tensor data."""
    head = b"GGUF" + struct.pack(
        order + "IQQ",
        version,
        len(tensors) if n_tensors is None else n_tensors,
        len(kvs) if n_kv is None else n_kv,
    )
    body = head + b"".join(kvs) + b"".join(tensors)
    if not pad:
        return body
    return body + b"\0" * (-len(body) % 32 + data)
