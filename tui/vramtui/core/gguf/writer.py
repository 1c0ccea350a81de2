"""Write GGUF files: a header from metadata and tensor infos, the data section left sparse.

The one GGUF writer of the project: the synthesized catalog models (`write_sparse_gguf`) and
every test file go through `write_gguf`. gguf-py's GGUFWriter writes the header (magic,
version 3, key/values, tensor infos); the data section is a hole made by `os.truncate`, so a
20 GB model takes a few MB of disk. Bytes handed in `data` are written at their tensor's
offset (small models llama.cpp really runs).

Layout (ggml/docs/gguf.md): the data section starts at the first multiple of the alignment
(`general.alignment`, 32 by default) after the tensor infos; each tensor's data starts at a
multiple of it, and the file ends at the last tensor's data, padded, as gguf-py and llama.cpp
write it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from vramtui.core.errors import ModelFileError
from vramtui.core.gguf.spec import (
    MetaValue,
    ModelSpec,
    Scalar,
    SkippedArray,
    TensorInfo,
    vocab_size,
)
from vramtui.core.sizes import round_up

DEFAULT_ALIGNMENT = 32  # GGUF default general.alignment (ggml/docs/gguf.md)

# GGUF value type ids (ggml/docs/gguf.md gguf_metadata_value_type; gguf-py GGUFValueType).
UINT32, INT32, FLOAT32, STRING, ARRAY, UINT64, INT64 = 4, 5, 6, 8, 9, 10, 11

# Token types of a SentencePiece vocabulary (llama.h llama_token_type).
_TOKEN_NORMAL, _TOKEN_UNKNOWN, _TOKEN_CONTROL, _TOKEN_BYTE = 1, 2, 3, 6


@dataclass(frozen=True, slots=True)
class Typed:
    """A metadata value with an explicit GGUF value type; arrays name their item type too."""

    value: Any
    value_type: int
    item_type: int | None = None


# Plain values get a type from their Python type (see `_add_value`); lists are arrays.
WriteValue: TypeAlias = MetaValue | Typed | list[Scalar]


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """One file as written (a split model has one per shard)."""

    path: Path
    header_bytes: int  # magic through the end of the tensor infos
    data_offset: int  # where the data section starts (header padded to the alignment)
    size: int  # bytes on disk (apparent size; the data section is a hole)


def _int_type(value: int) -> int:
    """The narrowest of uint32 / int32 / uint64 / int64 that holds `value`."""
    if 0 <= value < 2**32:
        return UINT32
    if -(2**31) <= value < 0:
        return INT32
    return UINT64 if value > 0 else INT64


def _add_value(writer: Any, key: str, value: WriteValue) -> None:
    """One key/value. Empty strings and empty arrays are left out (GGUFWriter's rule)."""
    from gguf import GGUFValueType  # noqa: PLC0415 - lazy: keeps startup fast

    if isinstance(value, Typed):
        item = None if value.item_type is None else GGUFValueType(value.item_type)
        writer.add_key_value(key, value.value, GGUFValueType(value.value_type), sub_type=item)
    elif isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_key_value(key, value, GGUFValueType(_int_type(value)))
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    elif isinstance(value, (list, tuple)):
        # Items take their type from the first one: bool, int32, float32 or string.
        writer.add_array(key, list(value))
    else:
        raise TypeError(f"{key}: cannot write a {type(value).__name__} as a GGUF value")


def write_gguf(
    path: str | os.PathLike[str],
    arch: str,
    metadata: Mapping[str, WriteValue],
    tensors: Iterable[TensorInfo] = (),
    *,
    alignment: int | None = None,
    big_endian: bool = False,
    tensors_per_shard: int = 0,
    data: Mapping[str, bytes] | None = None,
    extend: bool = True,
    min_size: int = 0,
) -> list[WrittenFile]:
    """Write `metadata` (after `general.architecture` = `arch`) and the tensor infos.

    Tensor offsets are laid out here (those in `tensors` are ignored). `tensors_per_shard` > 0
    splits the model as llama.cpp's gguf-split names it (`STEM-00001-of-0000N.gguf`, with the
    split.* keys). With `extend` each file is extended to its full size (at least `min_size`);
    without it the file stops after the tensor infos.
    """
    import numpy as np  # noqa: PLC0415 - lazy: keeps startup fast
    from gguf import (  # noqa: PLC0415 - lazy: keeps startup fast
        GGMLQuantizationType,
        GGUFEndian,
        GGUFWriter,
    )

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    endian = GGUFEndian.BIG if big_endian else GGUFEndian.LITTLE
    writer = GGUFWriter(path, arch, endianess=endian, split_max_tensors=tensors_per_shard)
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    for key, value in metadata.items():
        _add_value(writer, key, value)
    by_name: dict[str, TensorInfo] = {}
    for t in tensors:
        by_name[t.name] = t
        # numpy order (outermost first), in elements: GGUFWriter writes the shape reversed.
        shape = tuple(reversed(t.shape))
        raw_type = GGMLQuantizationType(t.ggml_type)
        writer.add_tensor_info(t.name, shape, np.dtype(np.float32), t.n_bytes, raw_type)
    shards = [list(names) for names in writer.tensors]
    paths = writer.format_shard_names(path)
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
    finally:
        writer.close()
    align = int(writer.data_alignment)
    return [
        _finish(p, [by_name[n] for n in names], align, data or {}, extend=extend, min_size=min_size)
        for p, names in zip(paths, shards, strict=True)
    ]


def _finish(
    path: Path,
    tensors: Sequence[TensorInfo],
    alignment: int,
    data: Mapping[str, bytes],
    *,
    extend: bool,
    min_size: int,
) -> WrittenFile:
    """Write the given tensor data at its offsets and extend the file to its full size."""
    header = path.stat().st_size
    start = round_up(header, alignment)
    if not extend:
        return WrittenFile(path, header, start, header)
    end = 0
    offsets: dict[str, int] = {}
    for t in tensors:
        offsets[t.name] = end
        end += round_up(t.n_bytes, alignment)
    size = max(start + end, min_size)
    try:
        if any(t.name in data for t in tensors):
            with path.open("r+b") as fh:
                for t in tensors:
                    if t.name in data:
                        fh.seek(start + offsets[t.name])
                        fh.write(data[t.name])
        os.truncate(path, size)
    except OSError as err:
        raise ModelFileError(str(path), f"cannot extend to {size} bytes: {err}") from None
    return WrittenFile(path, header, start, size)


def byte_vocabulary(n_vocab: int) -> dict[str, WriteValue]:
    """The cheapest vocabulary llama.cpp loads: SentencePiece-style <unk>, <s>, </s>, one byte
    token per byte value (<0x00>..<0xFF>), then filler tokens up to `n_vocab`."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [_TOKEN_UNKNOWN, _TOKEN_CONTROL, _TOKEN_CONTROL] + [_TOKEN_BYTE] * 256
    tokens = tokens[:n_vocab] + [f"t{i}" for i in range(len(tokens), n_vocab)]
    types = types[:n_vocab] + [_TOKEN_NORMAL] * (n_vocab - len(types))
    return {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": Typed(tokens, ARRAY, STRING),
        "tokenizer.ggml.scores": Typed([0.0] * n_vocab, ARRAY, FLOAT32),
        "tokenizer.ggml.token_type": Typed(types, ARRAY, INT32),
        "tokenizer.ggml.unknown_token_id": 0,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
    }


# Keys a ModelSpec carries that are not written as given: the architecture is GGUFWriter's
# first key, the version is the reader's, and the synthesized layout uses the default alignment.
_NOT_WRITTEN = frozenset({"general.architecture", "GGUF.version", "general.alignment"})


def write_sparse_gguf(path: Path, spec: ModelSpec, *, tokenizer: bool = True) -> Path:
    """Write the spec's header and tensor infos, then extend the file to its full size.

    Metadata arrays the spec only knows by length (`SkippedArray`) are left out; with
    `tokenizer` the spec's tokenizer keys are replaced by `byte_vocabulary` of the same size,
    which llama.cpp's loader accepts (projectors, architecture clip, get none).
    """
    arch = spec.architecture or "llama"
    md: dict[str, WriteValue] = {}
    for key, value in spec.metadata.items():
        if key in _NOT_WRITTEN or isinstance(value, SkippedArray):
            continue
        if tokenizer and key.startswith("tokenizer."):
            continue
        md[key] = value
    if tokenizer and arch != "clip":
        md.update(byte_vocabulary(vocab_size(spec.metadata)))
    return write_gguf(path, arch, md, spec.tensors)[0].path


__all__ = [
    "Typed",
    "WriteValue",
    "WrittenFile",
    "byte_vocabulary",
    "write_gguf",
    "write_sparse_gguf",
]
