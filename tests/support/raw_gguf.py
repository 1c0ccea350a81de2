"""Byte-level GGUF pieces, for broken or hostile headers that no writer would produce.

Every well-formed test file goes through `vramtui.core.gguf.writer`; these builders exist
only to state wrong counts, lengths, types and truncations byte by byte.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

# GGUF value type id -> struct code (ggml/docs/gguf.md gguf_metadata_value_type)
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
