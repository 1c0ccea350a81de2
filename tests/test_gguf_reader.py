"""The fast header reader against gguf.GGUFReader, and its refusal of broken files."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGUFReader, GGUFValueType

from tests.support.gguf_files import (
    QWEN_N_MERGES,
    QWEN_N_VOCAB,
    gguf_py_view,
    llama_metadata,
    llama_tensors,
    qwen_vocab_gguf,
    write_gguf,
    write_tiny_model,
)
from tests.support.raw_gguf import pack_kv, pack_str, pack_tensor, raw_gguf
from vramtui.core.errors import ModelFileError
from vramtui.core.gguf import reader as gguf_reader
from vramtui.core.gguf.reader import (
    BytesSource,
    FileSource,
    GGUFHeader,
    parse_gguf_header,
    read_gguf_header,
)
from vramtui.core.gguf.spec import SkippedArray
from vramtui.core.gguf.writer import Typed

__all__ = ["qwen_vocab_gguf"]  # the session fixture, imported so pytest finds it

V = GGUFValueType

EVERY_TYPE: dict[str, Any] = {
    "test.u8": Typed(200, V.UINT8),
    "test.i8": Typed(-100, V.INT8),
    "test.u16": Typed(60000, V.UINT16),
    "test.i16": Typed(-30000, V.INT16),
    "test.u32": Typed(4_000_000_000, V.UINT32),
    "test.i32": Typed(-2_000_000_000, V.INT32),
    "test.f32": Typed(0.1, V.FLOAT32),
    "test.bool_t": Typed(True, V.BOOL),
    "test.bool_f": Typed(False, V.BOOL),
    "test.str": "héllo, wörld ✓",
    "test.empty_str": "",
    "test.u64": Typed(2**63 + 5, V.UINT64),
    "test.i64": Typed(-(2**62), V.INT64),
    "test.f64": Typed(1e-300, V.FLOAT64),
    "test.arr_i32": Typed([1, -2, 3], V.ARRAY, V.INT32),
    "test.arr_u8": Typed([0, 255, 7], V.ARRAY, V.UINT8),
    "test.arr_f32": Typed([0.5, -1.25], V.ARRAY, V.FLOAT32),
    "test.arr_bool": Typed([True, False, True], V.ARRAY, V.BOOL),
    "test.arr_u64": Typed([2**64 - 1, 0], V.ARRAY, V.UINT64),
    "test.arr_str": ["a", "", "ĠΩ", "longer string here"],
    "test.arr_f64": Typed([3.5, -2.0], V.ARRAY, V.FLOAT64),
    "llama.attention.head_count_kv": Typed([8, 8, 4, 0], V.ARRAY, V.INT32),
    "test.big_i32": Typed(list(range(5000)), V.ARRAY, V.INT32),
    "test.big_str": [f"tok{i}" * (i % 5) for i in range(4097)],
}

MIXED_TENSORS = [
    ("token_embd.weight", (256, 32), 12),  # Q4_K
    ("blk.0.attn_q.weight", (256, 256), 14),  # Q6_K
    ("blk.0.attn_k.weight", (64, 256), 8),  # Q8_0
    ("blk.0.ffn_down.weight", (64, 64), 30),  # BF16
    ("blk.0.ffn_up.weight", (32, 16, 2), 2),  # Q4_0, 3-d
    ("blk.0.norm.weight", (64,), 0),  # F32
    ("blk.0.exp.weight", (32, 4, 2, 2), 1),  # F16, 4-d
    ("output.weight", (256, 32), 23),  # IQ4_XS
]


def assert_same_as_gguf_reader(path: Path, header: GGUFHeader) -> None:
    meta, tensors, data_offset = gguf_py_view(path)
    assert header.metadata == meta
    assert list(header.metadata) == list(meta)  # same order as in the file
    ours = [
        (t.name, t.shape, t.ggml_type, header.data_offset + t.offset, t.n_elements)
        for t in header.tensors
    ]
    assert ours == tensors
    assert header.data_offset == data_offset
    assert header.file_size == path.stat().st_size


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
@pytest.mark.parametrize("version", [3, 2])
def test_matches_gguf_reader_every_value_type(
    tmp_path: Path, big_endian: bool, version: int
) -> None:
    path = write_gguf(
        tmp_path / "all.gguf",
        "llama",
        EVERY_TYPE,
        MIXED_TENSORS,
        big_endian=big_endian,
        version=version,
    )
    header = read_gguf_header(path)
    assert header.version == version
    assert header.byte_order == (">" if big_endian else "<")
    assert_same_as_gguf_reader(path, header)
    # spot checks that do not go through GGUFReader
    assert header.metadata["test.u64"] == 2**63 + 5
    assert header.metadata["test.str"] == "héllo, wörld ✓"
    assert header.metadata["llama.attention.head_count_kv"] == (8, 8, 4, 0)
    assert header.metadata["test.big_str"] == SkippedArray(8, 4097)
    assert header.metadata["test.big_i32"] == SkippedArray(5, 5000)
    assert header.metadata["test.bool_t"] is True


def test_big_endian_reads_like_little_endian(tmp_path: Path) -> None:
    le = read_gguf_header(write_gguf(tmp_path / "le.gguf", "llama", EVERY_TYPE, MIXED_TENSORS))
    be = read_gguf_header(
        write_gguf(tmp_path / "be.gguf", "llama", EVERY_TYPE, MIXED_TENSORS, big_endian=True)
    )
    assert be.metadata == le.metadata
    assert be.tensors == le.tensors
    assert (be.header_size, be.data_offset) == (le.header_size, le.data_offset)


@pytest.mark.parametrize("n_layers", [1, 3, 8])
def test_matches_gguf_reader_model_shapes(tmp_path: Path, n_layers: int) -> None:
    meta = llama_metadata(n_layers=n_layers)
    meta["general.alignment"] = Typed(64, V.UINT32)
    path = write_gguf(
        tmp_path / "m.gguf", "llama", meta, llama_tensors(n_layers=n_layers), alignment=64
    )
    header = read_gguf_header(path)
    assert header.alignment == 64
    assert header.data_offset % 64 == 0
    assert header.header_size <= header.data_offset < header.header_size + 64
    assert len(header.tensors) == 3 + 9 * n_layers
    assert_same_as_gguf_reader(path, header)


def test_qwen_vocab_skipped_not_decoded(qwen_vocab_gguf: Path) -> None:
    header = read_gguf_header(qwen_vocab_gguf)
    meta = header.metadata
    assert meta["tokenizer.ggml.tokens"] == SkippedArray(8, QWEN_N_VOCAB)
    assert meta["tokenizer.ggml.merges"] == SkippedArray(8, QWEN_N_MERGES)
    assert meta["tokenizer.ggml.token_type"] == SkippedArray(5, QWEN_N_VOCAB)
    assert meta["tokenizer.ggml.eos_token_id"] == 151645
    assert meta["tokenizer.ggml.add_bos_token"] is False
    assert meta["general.architecture"] == "qwen3"
    embd = next(t for t in header.tensors if t.name == "token_embd.weight")
    assert embd.shape == (64, QWEN_N_VOCAB)
    # the keys after the tokenizer arrays were found: the skip landed on the right byte
    assert meta["tokenizer.chat_template"].startswith("{% for message")


class RemoteLikeSource:
    """Behaves like an HTTP range source: keeps one buffer from 0 and counts the requests it
    would make, each sized max(what is needed, offset + hint, 64 KiB more)."""

    def __init__(self, data: bytes, first: int = 128 * 1024) -> None:
        self.data = data
        self.size = len(data)
        self.have = min(first, self.size)
        self.requests = 1
        self.hints: list[int] = []

    def read(self, offset: int, length: int, *, hint: int = 0) -> bytes:
        end = offset + length
        assert end <= self.size, "the reader asked for bytes past the end"
        self.hints.append(hint)
        if end > self.have:
            self.requests += 1
            self.have = min(self.size, max(end, offset + hint, self.have + 64 * 1024))
        return self.data[offset:end]


def test_hint_keeps_remote_requests_few(qwen_vocab_gguf: Path) -> None:
    header_size = read_gguf_header(qwen_vocab_gguf).header_size
    data = qwen_vocab_gguf.read_bytes()[: header_size + 4096]
    source = RemoteLikeSource(data)
    header = parse_gguf_header(source, "https://example.test/q.gguf")
    assert header.metadata["tokenizer.ggml.merges"] == SkippedArray(8, QWEN_N_MERGES)
    assert header.header_size == header_size
    assert source.requests <= 5, source.requests
    assert source.have < 4 * header_size  # the hints did not ask for far more than needed


def test_tiny_buffers_give_the_same_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force refills inside every string and array: same result as with big buffers."""
    meta = dict(EVERY_TYPE)
    meta["test.mixed_len"] = ["x" * (i * 37 % 3000) for i in range(4200)]
    path = write_gguf(tmp_path / "t.gguf", "llama", meta, MIXED_TENSORS)
    normal = read_gguf_header(path)
    monkeypatch.setattr(gguf_reader, "MIN_CHUNK", 7)
    monkeypatch.setattr(gguf_reader, "MAX_CHUNK", 2048)  # a 2999-byte string is jumped over
    tiny = read_gguf_header(path)
    assert tiny == normal
    assert tiny.metadata["test.mixed_len"] == SkippedArray(8, 4200)


def test_unknown_size_source(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "m.gguf")
    data = path.read_bytes()

    class Stream:
        size = -1

        def read(self, offset: int, length: int, *, hint: int = 0) -> bytes:
            return data[offset : offset + length]

    header = parse_gguf_header(Stream(), "stream")
    assert header.file_size == -1
    assert header.tensors == read_gguf_header(path).tensors
    with pytest.raises(ModelFileError, match="truncated"):
        parse_gguf_header(BytesSourceUnknown(data[:300]), "stream")


class BytesSourceUnknown(BytesSource):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.size = -1


def test_file_source_reads_exact_ranges(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 10)
    with FileSource(path) as src:
        assert src.size == 2560
        assert src.read(250, 10) == bytes([250, 251, 252, 253, 254, 255, 0, 1, 2, 3])
        assert src.read(2555, 100) == bytes([251, 252, 253, 254, 255])  # short only at the end
        assert src.read(5000, 10) == b""


# -- refusals -----------------------------------------------------------------------------------

GOOD_KVS = [pack_kv("general.architecture", 8, "llama"), pack_kv("llama.block_count", 4, 1)]
GOOD_TENSOR = pack_tensor("w", (32, 2), 0, 0)


def parse_bytes(data: bytes, name: str = "/models/bad.gguf") -> GGUFHeader:
    return parse_gguf_header(BytesSource(data), name, check_data=True)


def refusal(data: bytes, name: str = "/models/bad.gguf") -> str:
    with pytest.raises(ModelFileError) as info:
        parse_bytes(data, name)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: ")
    return message


def test_raw_builder_makes_a_valid_file() -> None:
    header = parse_bytes(raw_gguf(GOOD_KVS, [GOOD_TENSOR], data=256))
    assert header.metadata == {"general.architecture": "llama", "llama.block_count": 1}
    assert header.tensors[0].shape == (32, 2)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "not a GGUF file"),
        (b"GGU", "not a GGUF file"),
        (b"GGML" + bytes(40), "not a GGUF file"),
        (b"\x00" * 64, "not a GGUF file"),
        (raw_gguf(GOOD_KVS, version=1), "version 1 is not supported"),
        (raw_gguf(GOOD_KVS, version=4), "unsupported GGUF version 4"),
        (raw_gguf(GOOD_KVS, version=0), "unsupported GGUF version 0"),
        (raw_gguf(GOOD_KVS, n_tensors=2**60), "tensor count"),
        (raw_gguf(GOOD_KVS, n_kv=2**60), "metadata count"),
        (raw_gguf(GOOD_KVS, n_kv=2**64 - 1), "metadata count"),
        (raw_gguf(GOOD_KVS, n_kv=3, pad=False), "truncated"),
        (raw_gguf(GOOD_KVS, pad=False)[:-3], "truncated"),
        (raw_gguf([pack_str("k") + struct.pack("<IQ", 13, 0)]), "unknown value type 13"),
        (raw_gguf([pack_str("k") + struct.pack("<I", 99)]), "unknown value type 99"),
        (raw_gguf([pack_str(b"\xff\xfekey") + struct.pack("<IB", 0, 1)]), "not UTF-8"),
        (raw_gguf([pack_kv("a", 4, 1), pack_kv("a", 4, 2)]), "duplicate metadata key 'a'"),
        (raw_gguf([struct.pack("<Q", 2**62) + b"key"]), "runs past the end"),
        (raw_gguf([pack_str("k") + struct.pack("<IQ", 8, 2**40)]), "runs past the end"),
        (raw_gguf([pack_str("k") + struct.pack("<IIQ", 9, 4, 2**61)]), "array of"),
        (raw_gguf([pack_str("k") + struct.pack("<IIQ", 9, 8, 2**61)]), "array of"),
        (raw_gguf([pack_str("k") + struct.pack("<IIQ", 9, 42, 1)]), "unknown item type 42"),
        (
            raw_gguf([pack_str("k") + struct.pack("<IIQIQIQ", 9, 9, 1, 9, 1, 9, 1)]),
            "nested more than",
        ),
        (raw_gguf([pack_kv("general.alignment", 4, 24)]), "not a power of two"),
        (raw_gguf([pack_kv("general.alignment", 8, "32")]), "not an integer"),
        (raw_gguf(GOOD_KVS, [GOOD_TENSOR[:-5]], pad=False), "truncated"),
        (raw_gguf(GOOD_KVS, [GOOD_TENSOR], n_tensors=2, pad=False), "truncated"),
        (raw_gguf(GOOD_KVS, [pack_tensor("w", (32,), 99, 0)], data=64), "ggml does not define"),
        (raw_gguf(GOOD_KVS, [pack_tensor("w", (1,) * 5, 0, 0)], data=64), "5 dimensions"),
        (raw_gguf(GOOD_KVS, [pack_tensor("w", (33,), 2, 0)], data=64), "block size"),
        (raw_gguf(GOOD_KVS, [pack_tensor(b"\xc3(", (1,), 0, 0)], data=64), "not UTF-8"),
        (raw_gguf(GOOD_KVS, [GOOD_TENSOR, GOOD_TENSOR], data=1024), "duplicate tensor 'w'"),
        (raw_gguf(GOOD_KVS, [pack_tensor("w", (2**32, 2**32), 0, 0)]), "too many elements"),
        (raw_gguf(GOOD_KVS, [GOOD_TENSOR], data=255), "past the end of the file"),
        (raw_gguf(GOOD_KVS, [pack_tensor("w", (32,), 0, 2**63)], data=128), "past the end"),
    ],
)
def test_refusals(data: bytes, expected: str) -> None:
    assert expected in refusal(data)


def test_hostile_count_fails_at_once() -> None:
    """2^60 tensors in a tiny file: refused before any loop or allocation."""
    data = raw_gguf(GOOD_KVS, n_tensors=2**60)

    class Counting(BytesSource):
        reads = 0

        def read(self, offset: int, length: int, *, hint: int = 0) -> bytes:
            Counting.reads += 1
            assert length < 1 << 24
            return super().read(offset, length, hint=hint)

    with pytest.raises(ModelFileError, match="tensor count 1152921504606846976"):
        parse_gguf_header(Counting(data), "x.gguf")
    assert Counting.reads <= 2


def test_big_endian_hostile_count() -> None:
    data = raw_gguf([pack_kv("a", 4, 1, ">")], order=">", n_kv=2**50)
    assert "metadata count" in refusal(data)


def test_header_only_file_is_refused_locally_but_parses_as_a_header(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "cut.gguf", full_size=False)
    with pytest.raises(ModelFileError) as info:
        read_gguf_header(path)
    assert str(path) in str(info.value)
    assert "past the end of the file" in str(info.value)
    with FileSource(path) as src:  # without check_data (a downloaded header) it reads
        assert len(parse_gguf_header(src, str(path)).tensors) == 21


def test_truncated_tensor_table_local(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "m.gguf")
    header = read_gguf_header(path)
    os.truncate(path, header.header_size - 10)
    with pytest.raises(ModelFileError, match="truncated") as info:
        read_gguf_header(path)
    assert str(info.value).startswith(f"{path}: ")


def test_local_open_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such file"):
        read_gguf_header(tmp_path / "missing.gguf")
    with pytest.raises(ModelFileError, match="folder"):
        read_gguf_header(tmp_path)
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        read_gguf_header(empty)


def test_tensor_shapes_are_ints_in_gguf_order(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "s.gguf", "llama", {}, [("a", (64, 3, 2), 0)])
    (t,) = read_gguf_header(path).tensors
    assert t.shape == (64, 3, 2)
    assert t.n_bytes == 64 * 3 * 2 * 4
    assert all(type(d) is int for d in t.shape)
    reader = GGUFReader(path)
    assert reader.tensors[0].data.shape == (2, 3, 64)  # numpy order is the reverse
    assert np.prod(reader.tensors[0].data.shape) == t.n_elements
