"""A fast GGUF header reader: the metadata and the tensor table, never the tensor data.

Why not gguf-py's own reader class: it builds numpy views for every element of every array,
so a header with the Qwen tokenizer (151,936 tokens, 151,387 merges) takes seconds. The estimate
needs only the scalars, the small per-layer arrays and the tensor table, so arrays longer than
`KEEP_ARRAY_MAX` are skipped: for strings by hopping from one 8-byte length to the next, never
decoding them.

Layout (ggml/docs/gguf.md): magic "GGUF", u32 version, u64 tensor count, u64 kv count, the kv
pairs (string key, u32 value type, value), the tensor infos (string name, u32 n_dims, n_dims x
u64 dims, u32 ggml type, u64 offset), padding to `general.alignment` (default 32), tensor data.
A big-endian file stores every number big-endian; it is detected by the byte-swapped version.

Hostile input: every count and length is checked against the bytes left before anything is
allocated or read, nesting is bounded, the numbers of keys and tensors are capped, tensor data
must follow llama.cpp's layout (each tensor at the padded end of the one before, so no two
overlap), a local path that is not a regular file (a FIFO, a device) is refused before a byte is
read, and each problem raises `ModelFileError` naming the file.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vramtui.core.atomic import RefusedFile, open_regular
from vramtui.core.errors import ModelFileError
from vramtui.core.gguf.ggml_types import GGML_TYPES
from vramtui.core.gguf.spec import MetaValue, Scalar, SkippedArray, TensorInfo

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32  # ggml/include/gguf.h GGUF_DEFAULT_ALIGNMENT
KEEP_ARRAY_MAX = (
    4096  # arrays up to this many items are kept (per-layer arrays); longer ones skipped
)
MAX_ARRAY_DEPTH = 2  # an array of arrays is read (and skipped); deeper nesting is refused
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_NAME_BYTES = 4096  # keys and tensor names (llama.cpp caps tensor names at 64 bytes)
MAX_STRING_BYTES = 16 * 1024 * 1024  # a kept string value (chat templates are ~100 KB)
MAX_ELEMENTS = (1 << 63) - 1  # llama.cpp's gguf.cpp refuses tensors with more (int64 overflow)
MAX_TENSOR_NAME = 63  # ggml.h GGML_MAX_NAME (64, with the NUL): gguf.cpp refuses longer names
# Caps on what a header may declare, far above any real model (about 60 keys; Kimi K2's 1,096
# tensors) so that memory stays bounded by the caps, never by a count in the file.
MAX_KV = 1 << 16
MAX_TENSORS = 1 << 18

# Value types (ggml/include/gguf.h enum gguf_type).
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL = range(8)
T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(8, 13)

# struct code per fixed-size value type
_FIXED: dict[int, str] = {
    T_UINT8: "B",
    T_INT8: "b",
    T_UINT16: "H",
    T_INT16: "h",
    T_UINT32: "I",
    T_INT32: "i",
    T_FLOAT32: "f",
    T_BOOL: "?",
    T_UINT64: "Q",
    T_INT64: "q",
    T_FLOAT64: "d",
}
_FIXED_SIZE: dict[int, int] = {t: struct.calcsize("<" + c) for t, c in _FIXED.items()}
TYPE_NAMES: dict[int, str] = {
    T_UINT8: "uint8",
    T_INT8: "int8",
    T_UINT16: "uint16",
    T_INT16: "int16",
    T_UINT32: "uint32",
    T_INT32: "int32",
    T_FLOAT32: "float32",
    T_BOOL: "bool",
    T_STRING: "string",
    T_ARRAY: "array",
    T_UINT64: "uint64",
    T_INT64: "int64",
    T_FLOAT64: "float64",
}

MIN_CHUNK = 64 * 1024  # smallest read asked of the source
MAX_CHUNK = 16 * 1024 * 1024  # largest single read (a hostile count never makes it bigger)
MAX_HINT = 32 * 1024 * 1024  # largest read-ahead hint passed to a source
_UNKNOWN_SIZE = 1 << 62


class ByteSource(Protocol):
    """Random access to a GGUF file's bytes: a local file or an HTTP range reader.

    `size` is the total byte count (-1 if unknown). `read` returns exactly `length` bytes, or
    fewer only at the end of the data. `hint` is how many bytes from `offset` the reader expects
    to want soon: a remote source sizes its next range request by it.
    """

    size: int

    def read(self, offset: int, length: int, *, hint: int = 0) -> bytes: ...


class FileSource:
    """A local file as a `ByteSource`: positional reads, no seek state, no tensor data read."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd = open_regular(self.path)  # RefusedFile for a FIFO, a device, a socket
        try:
            self.size = os.fstat(self._fd).st_size
        except OSError:
            os.close(self._fd)
            raise

    def read(self, offset: int, length: int, *, hint: int = 0) -> bytes:
        if length <= 0:
            return b""
        data = os.pread(self._fd, length, offset)
        if len(data) < length:  # pread may return short on some filesystems: keep going
            parts = [data]
            got = len(data)
            while got < length:
                more = os.pread(self._fd, length - got, offset + got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        return data

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BytesSource:
    """An in-memory `ByteSource` (tests, fuzzing, a header already downloaded)."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.size = len(self.data)

    def read(self, offset: int, length: int, *, hint: int = 0) -> bytes:
        return self.data[offset : offset + length]


@dataclass(frozen=True)
class GGUFHeader:
    """Everything before the tensor data. Tensor offsets are relative to `data_offset`."""

    version: int
    byte_order: str  # "<" little-endian, ">" big-endian
    metadata: dict[str, MetaValue]
    tensors: tuple[TensorInfo, ...]
    alignment: int
    header_size: int  # bytes up to the end of the tensor-info table
    data_offset: int  # aligned start of the tensor data
    file_size: int  # source size in bytes (-1 if unknown)


class _Reader:
    """A cursor over a `ByteSource` with one sliding buffer; all reads are bounds-checked."""

    def __init__(self, source: ByteSource, name: str) -> None:
        self.src = source
        self.name = name
        size = int(getattr(source, "size", -1))
        self.size = size if size >= 0 else _UNKNOWN_SIZE
        self.known_size = size >= 0
        self.buf = b""
        self.base = 0  # file offset of buf[0]
        self.pos = 0  # file offset of the cursor
        self.hint = 0  # read-ahead for the next fetch, set by loops that know more
        self.order = "<"
        self._set_order("<")

    def _set_order(self, order: str) -> None:
        self.order = order
        self.u32 = struct.Struct(order + "I").unpack_from
        self.u64 = struct.Struct(order + "Q").unpack_from
        self.fixed = {t: struct.Struct(order + c).unpack_from for t, c in _FIXED.items()}

    # -- errors ---------------------------------------------------------------------------
    def fail(self, problem: str) -> ModelFileError:
        return ModelFileError(self.name, problem)

    def past_end(self, what: str, need: int, at: int | None = None) -> ModelFileError:
        at = self.pos if at is None else at
        if self.known_size:
            return self.fail(
                f"{what} at byte {at} needs {need} bytes but the file ends at byte {self.size} "
                "(truncated or corrupt)"
            )
        return self.fail(f"{what} at byte {at} runs past the end of the data (truncated)")

    def left(self) -> int:
        return self.size - self.pos

    # -- buffering ------------------------------------------------------------------------
    def ensure(self, need: int, what: str) -> int:
        """Make the buffer cover [pos, pos + need); return pos as an index into the buffer."""
        idx = self.pos - self.base
        if idx >= 0 and idx + need <= len(self.buf):
            return idx
        if need > self.size - self.pos:
            raise self.past_end(what, need)
        hint = min(max(self.hint, need), MAX_HINT)
        # A source may cap single reads (remote: read-ahead belongs in `hint`, which only sizes
        # its streamed range request, so bytes past the header are never pulled).
        cap = int(getattr(self.src, "max_read", MAX_CHUNK))
        want = max(need, min(max(hint, MIN_CHUNK), MAX_CHUNK, cap))
        want = min(want, self.size - self.pos)
        keep = self.buf[idx:] if 0 <= idx < len(self.buf) else b""
        start = self.pos + len(keep)
        try:
            data = self.src.read(start, want - len(keep), hint=max(0, hint - len(keep)))
        except OSError as err:
            raise self.fail(f"cannot read ({err.strerror or err})") from None
        self.buf = keep + data
        self.base = self.pos
        if len(self.buf) < need:
            raise self.past_end(what, need)
        return 0

    # -- primitives -----------------------------------------------------------------------
    def read_u32(self, what: str) -> int:
        i = self.ensure(4, what)
        self.pos += 4
        value: int = self.u32(self.buf, i)[0]
        return value

    def read_u64(self, what: str) -> int:
        i = self.ensure(8, what)
        self.pos += 8
        value: int = self.u64(self.buf, i)[0]
        return value

    def read_raw_string(self, what: str, limit: int) -> bytes:
        length = self.read_u64(what)
        if length > self.left():
            raise self.fail(
                f"{what}: length {length} at byte {self.pos - 8} runs past the end of the file"
            )
        if length > limit:
            raise self.fail(f"{what}: length {length} is over the {limit}-byte limit")
        i = self.ensure(length, what)
        self.pos += length
        return self.buf[i : i + length]

    def skip(self, n: int, what: str) -> None:
        if n > self.left():
            raise self.past_end(what, n)
        self.pos += n

    # -- values ---------------------------------------------------------------------------
    def read_value(self, vtype: int, key: str, depth: int) -> MetaValue:
        size = _FIXED_SIZE.get(vtype)
        if size is not None:
            i = self.ensure(size, f"value of {key!r}")
            self.pos += size
            value: Scalar = self.fixed[vtype](self.buf, i)[0]
            return value
        if vtype == T_STRING:
            raw = self.read_raw_string(f"string value of {key!r}", MAX_STRING_BYTES)
            return raw.decode("utf-8", errors="replace")
        if vtype == T_ARRAY:
            return self.read_array(key, depth + 1)
        raise self.fail(f"key {key!r} has unknown value type {vtype}")

    def read_array(self, key: str, depth: int) -> MetaValue:
        if depth > MAX_ARRAY_DEPTH:
            raise self.fail(f"key {key!r}: arrays nested more than {MAX_ARRAY_DEPTH} deep")
        item_type = self.read_u32(f"array type of {key!r}")
        count = self.read_u64(f"array length of {key!r}")
        size = _FIXED_SIZE.get(item_type)
        if size is not None:
            self.check_count(count, size, key, TYPE_NAMES[item_type])
            if count > KEEP_ARRAY_MAX:
                self.pos += count * size
                return SkippedArray(item_type, count)
            n_bytes = count * size
            i = self.ensure(n_bytes, f"array {key!r}")
            self.pos += n_bytes
            values: tuple[Scalar, ...] = struct.unpack_from(
                f"{self.order}{count}{_FIXED[item_type]}", self.buf, i
            )
            return values
        if item_type == T_STRING:
            self.check_count(count, 8, key, "strings")
            if count > KEEP_ARRAY_MAX:
                self.skip_strings(count, key)
                return SkippedArray(item_type, count)
            what = f"string in array {key!r}"
            return tuple(
                self.read_raw_string(what, MAX_STRING_BYTES).decode("utf-8", errors="replace")
                for _ in range(count)
            )
        if item_type == T_ARRAY:
            if depth + 1 > MAX_ARRAY_DEPTH:
                raise self.fail(f"key {key!r}: arrays nested more than {MAX_ARRAY_DEPTH} deep")
            self.check_count(count, 12, key, "arrays")
            for _ in range(count):  # kept as its length only: nothing reads nested arrays
                self.skip_array(key, depth + 1)
            return SkippedArray(item_type, count)
        raise self.fail(f"key {key!r}: array has unknown item type {item_type}")

    def check_count(self, count: int, min_item_bytes: int, key: str, noun: str) -> None:
        """Refuse an array whose items cannot fit in the bytes left, before anything is read or
        allocated for it (a hostile header may claim 2^60 items)."""
        if count > self.left() // min_item_bytes:
            raise self.fail(f"key {key!r}: array of {count} {noun} runs past the end of the file")

    def skip_array(self, key: str, depth: int) -> None:
        """Skip one nested array without keeping anything."""
        if depth > MAX_ARRAY_DEPTH:
            raise self.fail(f"key {key!r}: arrays nested more than {MAX_ARRAY_DEPTH} deep")
        item_type = self.read_u32(f"array type of {key!r}")
        count = self.read_u64(f"array length of {key!r}")
        size = _FIXED_SIZE.get(item_type)
        if size is not None:
            self.check_count(count, size, key, "items")
            self.pos += count * size
        elif item_type == T_STRING:
            self.check_count(count, 8, key, "strings")
            self.skip_strings(count, key)
        elif item_type == T_ARRAY:
            raise self.fail(f"key {key!r}: arrays nested more than {MAX_ARRAY_DEPTH} deep")
        else:
            raise self.fail(f"key {key!r}: array has unknown item type {item_type}")

    def skip_strings(self, count: int, key: str) -> None:
        """Hop over `count` length-prefixed strings without decoding or slicing them.

        The inner loop reads one 8-byte length per item from the buffer and jumps; when the
        buffer runs out it is refilled with a read sized by the average item length so far.
        """
        start = self.pos
        done = 0
        while done < count:
            buf = self.buf
            base = self.base
            end = len(buf)
            unpack = self.u64
            p = self.pos - base
            i = done
            if p >= 0:
                try:
                    for i in range(done, count):  # noqa: B007 - i is read after the loop
                        q = p + 8 + unpack(buf, p)[0]
                        if q > end:
                            break
                        p = q
                    else:
                        i = count
                except struct.error:  # fewer than 8 bytes left in the buffer
                    pass
                self.pos = base + p
            done = i
            if done >= count:
                break
            # Refill: the next length, then (if it is small enough to matter) its bytes.
            # Later items tend to be longer (a BPE vocab grows from bytes to words), and what
            # follows (token types, merges, the tensor table) is wanted next: ask for 1.5x.
            avg = (self.pos - start) // done if done else 16
            self.hint = min((count - done) * (avg + 1) * 3 // 2 + MIN_CHUNK, MAX_HINT)
            what = f"string in array {key!r}"
            length = self.read_u64(what)
            if length > self.left():
                raise self.fail(
                    f"{what}: length {length} at byte {self.pos - 8} runs past the end of the file"
                )
            if length > MAX_CHUNK:
                self.pos += length
            else:
                self.ensure(length, what)
                self.pos += length
            done += 1
        self.hint = 4 * MIN_CHUNK  # the next keys are likely beyond the buffer too


def _read_preamble(r: _Reader) -> tuple[int, int, int]:
    """Magic, version (which also tells the byte order) and the two counts."""
    if r.size < 8 and r.known_size:
        raise r.fail(f"not a GGUF file (only {r.size} bytes)")
    i = r.ensure(4, "magic")
    magic = r.buf[i : i + 4]
    if magic != GGUF_MAGIC:
        raise r.fail(f"not a GGUF file (starts with {magic!r}, expected b'GGUF')")
    r.pos = 4
    version = r.read_u32("version")
    if version & 0xFFFF == 0 and version != 0:
        # Written on the other byte order: the version reads byte-swapped (as gguf-py checks).
        r._set_order(">")
        version = int.from_bytes(version.to_bytes(4, "little"), "big")
    if version == 1:
        raise r.fail(
            "GGUF version 1 is not supported (a file from before Aug 2023: convert it again)"
        )
    if version not in SUPPORTED_VERSIONS:
        raise r.fail(f"unsupported GGUF version {version} (only versions 2 and 3 are read)")
    n_tensors = r.read_u64("tensor count")
    n_kv = r.read_u64("metadata count")
    # Smallest possible entries: a kv is key length (8) + type (4) + one byte; a tensor info is
    # name length (8) + n_dims (4) + type (4) + offset (8).
    if n_kv > r.left() // 13:
        raise r.fail(f"metadata count {n_kv} runs past the end of the file")
    if n_tensors > r.left() // 24:
        raise r.fail(f"tensor count {n_tensors} runs past the end of the file")
    if n_kv > MAX_KV:
        raise r.fail(f"metadata count {n_kv} is over the limit of {MAX_KV} keys")
    if n_tensors > MAX_TENSORS:
        raise r.fail(f"tensor count {n_tensors} is over the limit of {MAX_TENSORS} tensors")
    return version, n_tensors, n_kv


def _read_metadata(r: _Reader, n_kv: int) -> dict[str, MetaValue]:
    metadata: dict[str, MetaValue] = {}
    for _ in range(n_kv):
        raw_key = r.read_raw_string("metadata key", MAX_NAME_BYTES)
        try:
            key = raw_key.decode("utf-8")
        except UnicodeDecodeError:
            raise r.fail(f"metadata key at byte {r.pos - len(raw_key)} is not UTF-8") from None
        if key in metadata:
            raise r.fail(f"duplicate metadata key {key!r}")
        vtype = r.read_u32(f"value type of {key!r}")
        metadata[key] = r.read_value(vtype, key, 0)
    return metadata


def _alignment(r: _Reader, metadata: dict[str, MetaValue]) -> int:
    if "general.alignment" not in metadata:
        return DEFAULT_ALIGNMENT
    value = metadata["general.alignment"]
    if not isinstance(value, int) or isinstance(value, bool):
        raise r.fail("general.alignment is not an integer")
    if value <= 0 or value & (value - 1):
        raise r.fail(f"general.alignment {value} is not a power of two")
    return value


def _read_tensor_info(r: _Reader, index: int, seen: set[str]) -> TensorInfo:
    raw_name = r.read_raw_string(f"name of tensor {index}", MAX_NAME_BYTES)
    try:
        tname = raw_name.decode("utf-8")
    except UnicodeDecodeError:
        raise r.fail(f"name of tensor {index} is not UTF-8") from None
    if len(raw_name) > MAX_TENSOR_NAME:
        raise r.fail(
            f"name of tensor {index} is {len(raw_name)} bytes long "
            f"(llama.cpp allows at most {MAX_TENSOR_NAME})"
        )
    if tname in seen:
        raise r.fail(f"duplicate tensor {tname!r}")
    seen.add(tname)
    n_dims = r.read_u32(f"dimension count of tensor {tname!r}")
    if n_dims > MAX_DIMS:
        raise r.fail(f"tensor {tname!r} has {n_dims} dimensions (at most {MAX_DIMS})")
    i = r.ensure(8 * n_dims + 12, f"tensor info {tname!r}")
    shape: tuple[int, ...] = struct.unpack_from(f"{r.order}{n_dims}Q", r.buf, i)
    ggml_type, offset = struct.unpack_from(f"{r.order}IQ", r.buf, i + 8 * n_dims)
    r.pos += 8 * n_dims + 12
    gtype = GGML_TYPES.get(ggml_type)
    if gtype is None:
        raise r.fail(f"tensor {tname!r} has type {ggml_type}, which ggml does not define")
    n_elements = 1
    for dim in shape:
        n_elements *= dim
    if n_elements > MAX_ELEMENTS:
        raise r.fail(f"tensor {tname!r} has too many elements ({shape})")
    if shape and shape[0] % gtype.block_size:
        raise r.fail(
            f"tensor {tname!r}: row of {shape[0]} elements is not a multiple of the "
            f"{gtype.name} block size {gtype.block_size}"
        )
    return TensorInfo(tname, shape, ggml_type, offset)


def _check_layout(r: _Reader, tensors: list[TensorInfo], alignment: int) -> None:
    """Each tensor's data must start where the one before ends, padded to the alignment, as
    llama.cpp's gguf.cpp requires ("tensor '%s' has offset %, expected %"): so no two tensors
    overlap and none points outside the data it claims."""
    expected = 0
    for t in tensors:
        if t.offset != expected:
            raise r.fail(
                f"tensor {t.name!r} has data offset {t.offset}, expected {expected} "
                "(tensor data overlaps or leaves gaps; llama.cpp refuses this layout)"
            )
        expected += -(-t.n_bytes // alignment) * alignment


def parse_gguf_header(source: ByteSource, name: str, *, check_data: bool = False) -> GGUFHeader:
    """Parse the header of the GGUF file behind `source`; `name` (path or URL) goes in errors.

    With `check_data`, every tensor's bytes must lie inside the file (`source.size`): use it for
    complete files (local files do); a header-only copy or a stream of unknown size cannot pass.
    """
    r = _Reader(source, name)
    version, n_tensors, n_kv = _read_preamble(r)
    metadata = _read_metadata(r, n_kv)
    alignment = _alignment(r, metadata)
    seen: set[str] = set()
    r.hint = min(n_tensors * 128, MAX_HINT)
    tensors = [_read_tensor_info(r, index, seen) for index in range(n_tensors)]
    header_size = r.pos
    data_offset = -(-header_size // alignment) * alignment
    if check_data and r.known_size:
        for t in tensors:
            end = data_offset + t.offset + t.n_bytes
            if end > r.size:
                raise r.fail(
                    f"tensor {t.name!r} data ends at byte {end}, past the end of the file "
                    f"({r.size} bytes): truncated download?"
                )

    _check_layout(r, tensors, alignment)
    return GGUFHeader(
        version=version,
        byte_order=r.order,
        metadata=metadata,
        tensors=tuple(tensors),
        alignment=alignment,
        header_size=header_size,
        data_offset=data_offset,
        file_size=r.size if r.known_size else -1,
    )


def read_gguf_header(path: str | os.PathLike[str]) -> GGUFHeader:
    """Read a local GGUF file's header; tensor data must lie inside the file."""
    name = os.fspath(path)
    if os.path.isdir(name):  # os.open succeeds on a folder on Linux; say what it is
        raise ModelFileError(name, "is a folder, not a GGUF file")
    try:
        source = FileSource(name)
    except RefusedFile as err:
        raise ModelFileError(name, err.strerror or "not a regular file") from None
    except IsADirectoryError:
        raise ModelFileError(name, "is a folder, not a GGUF file") from None
    except FileNotFoundError:
        raise ModelFileError(name, "no such file") from None
    except OSError as err:
        raise ModelFileError(name, f"cannot open ({err.strerror or err})") from None
    with source:
        return parse_gguf_header(source, name, check_data=True)


def merge_shard_tensors(
    tables: Sequence[Sequence[TensorInfo]], names: Sequence[str]
) -> tuple[TensorInfo, ...]:
    """The tensors of every shard of a split model, each tagged with its shard index.

    A tensor named in two shards is refused, as llama.cpp's model loader refuses it ("invalid
    model: tensor '%s' is duplicated"): counting it twice would double its weights. `names`
    (paths or URLs, one per shard) name the file in the error."""
    seen: dict[str, int] = {}
    merged: list[TensorInfo] = []
    for index, table in enumerate(tables):
        for t in table:
            before = seen.setdefault(t.name, index)
            if before != index:
                raise ModelFileError(
                    str(names[index]),
                    f"tensor {t.name!r} is also in shard {before + 1} "
                    "(a duplicated tensor; llama.cpp refuses the model)",
                )
            merged.append(TensorInfo(t.name, tuple(t.shape), t.ggml_type, t.offset, index))
    return tuple(merged)
