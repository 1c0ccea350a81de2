"""Mutated and random headers: the reader returns a header or raises ModelFileError, nothing else.

A seeded loop throws 12,000 mutations (bit flips, byte overwrites, truncations, huge counts and
lengths spliced into fields, insertions, deletions) of a small header at `parse_gguf_header`
from memory; `KEEP_ARRAY_MAX` is lowered so the small header exercises the skipping paths too.
"""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.raw_gguf import pack_kv, pack_str, pack_tensor, raw_gguf
from vramtui.core.errors import ModelFileError
from vramtui.core.gguf import reader as gguf_reader
from vramtui.core.gguf.reader import BytesSource, GGUFHeader, parse_gguf_header

NAME = "/fuzz/model.gguf"
N_MUTANTS = 12_000

INTERESTING = (
    0,
    1,
    7,
    255,
    4096,
    2**31 - 1,
    2**31,
    2**32 - 1,
    2**32,
    2**60,
    2**63 - 1,
    2**63,
    2**64 - 1,
)


def base_header(order: str = "<") -> bytes:
    kvs = [
        pack_kv("general.architecture", 8, "llama", order),
        pack_kv("general.name", 8, "Fuzz ✓", order),
        pack_kv("general.alignment", 4, 32, order),
        pack_kv("llama.block_count", 4, 2, order),
        pack_kv("a.u8", 0, 3, order),
        pack_kv("a.i8", 1, -3, order),
        pack_kv("a.u16", 2, 300, order),
        pack_kv("a.i16", 3, -300, order),
        pack_kv("a.i32", 5, -7, order),
        pack_kv("a.f32", 6, 0.5, order),
        pack_kv("a.bool", 7, True, order),
        pack_kv("a.u64", 10, 2**40, order),
        pack_kv("a.i64", 11, -(2**40), order),
        pack_kv("a.f64", 12, 2.5, order),
        pack_kv("llama.attention.head_count_kv", 9, (5, [4, 4]), order),
        pack_kv("tok.small", 9, (8, ["a", "bc"]), order),
        pack_kv("tok.tokens", 9, (8, [f"t{i}" * (i % 4) for i in range(12)]), order),
        pack_kv("tok.scores", 9, (6, [0.25] * 9), order),
        pack_kv("tok.nested", 9, (9, [(4, [1, 2]), (8, ["x"])]), order),
    ]
    tensors = [
        pack_tensor("token_embd.weight", (32, 4), 8, 0, order),
        pack_tensor("blk.0.attn_q.weight", (256, 2), 12, 160, order),
        pack_tensor("blk.0.norm.weight", (32,), 0, 448, order),
        pack_tensor("output.weight", (16, 2, 2), 1, 576, order),
    ]
    return raw_gguf(kvs, tensors, order=order, data=704)


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        if not buf:
            break
        kind = rng.randrange(7)
        at = rng.randrange(len(buf))
        if kind == 0:  # bit flip
            buf[at] ^= 1 << rng.randrange(8)
        elif kind == 1:  # random byte
            buf[at] = rng.randrange(256)
        elif kind == 2:  # truncate
            del buf[at:]
        elif kind in (3, 4):  # a huge or odd count/length/type spliced into a field
            width, code = (8, "Q") if kind == 3 else (4, "I")
            value = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            order = rng.choice("<>")
            buf[at : at + width] = struct.pack(order + code, value)
        elif kind == 5:  # insert
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        else:  # delete a range
            del buf[at : at + rng.randint(1, 32)]
    return bytes(buf)


def check_one(data: bytes, check_data: bool) -> str:
    try:
        header = parse_gguf_header(BytesSource(data), NAME, check_data=check_data)
    except ModelFileError as err:
        message = str(err)
        assert "\n" not in message, message
        assert message.startswith(NAME + ": "), message
        return "error"
    assert isinstance(header, GGUFHeader)
    assert header.header_size <= len(data)
    assert header.data_offset % header.alignment == 0
    if check_data:
        for t in header.tensors:
            assert header.data_offset + t.offset + t.n_bytes <= len(data)
    return "ok"


def test_base_header_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gguf_reader, "KEEP_ARRAY_MAX", 4)
    for order in "<>":
        header = parse_gguf_header(BytesSource(base_header(order)), NAME, check_data=True)
        assert header.byte_order == order
        assert header.metadata["tok.tokens"] == gguf_reader.SkippedArray(8, 12)
        assert header.metadata["tok.scores"] == gguf_reader.SkippedArray(6, 9)
        assert header.metadata["tok.nested"] == gguf_reader.SkippedArray(9, 2)
        assert header.metadata["tok.small"] == ("a", "bc")
        assert header.metadata["general.name"] == "Fuzz ✓"
        assert len(header.tensors) == 4


def test_mutated_headers_only_parse_or_fail_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gguf_reader, "KEEP_ARRAY_MAX", 4)
    rng = random.Random(20260424)
    bases = [base_header("<"), base_header(">")]
    outcomes = {"ok": 0, "error": 0}
    for i in range(N_MUTANTS):
        data = mutate(bases[i % 2], rng)
        try:
            outcomes[check_one(data, check_data=bool(i % 3))] += 1
        except AssertionError:
            raise
        except Exception as err:
            raise AssertionError(f"mutant {i} ({data[:64]!r}...) raised {err!r}") from err
    # Both outcomes must be common, or the mutations are not reaching the parser's checks.
    assert outcomes["ok"] > N_MUTANTS // 20, outcomes
    assert outcomes["error"] > N_MUTANTS // 4, outcomes


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    version=st.sampled_from([2, 3, 0x03000000, 1, 7]),
    counts=st.tuples(st.sampled_from(INTERESTING), st.sampled_from(INTERESTING)),
    body=st.binary(max_size=512),
)
def test_random_bodies(version: int, counts: tuple[int, int], body: bytes) -> None:
    n_tensors, n_kv = counts
    data = raw_gguf([body], version=version, n_tensors=n_tensors, n_kv=n_kv, pad=False)
    check_one(data, check_data=True)


@settings(max_examples=200, deadline=None)
@given(key=st.binary(max_size=24), vtype=st.integers(0, 2**32 - 1), tail=st.binary(max_size=64))
def test_random_kv(key: bytes, vtype: int, tail: bytes) -> None:
    data = raw_gguf([pack_str(key) + struct.pack("<I", vtype) + tail], pad=False)
    check_one(data, check_data=False)
