"""A small on-disk cache of parsed headers (`ModelSpec`s) as JSON, no pickle.

Remote headers are keyed by URL (validated with the ETag), repository listings by their URL.
A damaged or foreign cache entry is never an error: an entry that is not a regular file, too
large, not JSON, nested too deep or of the wrong shape is deleted and read as a miss, so the
header is simply read again (and the entry rewritten).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from vramtui.core.atomic import read_capped, write_atomic
from vramtui.core.gguf.ggml_types import GGML_TYPES
from vramtui.core.gguf.reader import MAX_DIMS, MAX_ELEMENTS, MAX_KV, MAX_TENSOR_NAME, MAX_TENSORS
from vramtui.core.gguf.spec import MetaValue, ModelSpec, SkippedArray, TensorInfo
from vramtui.core.paths import cache_dir

FORMAT = 1
MAX_ENTRY_BYTES = 64 << 20  # a header is capped at 64 MiB; its JSON (arrays skipped) is smaller
# An entry passes the header reader's caps: what it holds was read from a GGUF header, whose
# counts, dimensions and offsets are 64-bit (a JSON number has no such bound: 10**400 parses).
_U64 = (1 << 64) - 1
_I64 = (1 << 63) - 1
_MAX_SHARDS = 99_999  # gguf-split numbers shards with five digits


class BadEntry(ValueError):
    """A cache entry of the wrong shape."""


def _meta_to_json(value: MetaValue) -> Any:
    if isinstance(value, SkippedArray):
        return {"skipped": [value.item_type, value.length]}
    if isinstance(value, tuple):
        return list(value)
    return value


def _int(value: Any, low: int = 0, high: int = _U64) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadEntry(f"expected a whole number in {low}..{high}, got {type(value).__name__}")
    return value


def _scalar(value: Any) -> bool | int | float | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return _int(value, -_I64 - 1)  # GGUF's widest integers: int64 and uint64
    if isinstance(value, bool | float | str):
        return value
    raise BadEntry(f"bad metadata value of type {type(value).__name__}")


def _meta_from_json(value: Any) -> MetaValue:
    if isinstance(value, dict):
        pair = value.get("skipped")
        if not isinstance(pair, list) or len(pair) != 2:
            raise BadEntry("bad skipped array")
        return SkippedArray(_int(pair[0]), _int(pair[1]))
    if isinstance(value, list):
        return tuple(_scalar(v) for v in value)
    return _scalar(value)


def spec_to_json(spec: ModelSpec) -> dict[str, Any]:
    """A JSON-ready dict of `spec` (tensors as compact rows)."""
    return {
        "name": spec.name,
        "source": spec.source,
        "metadata": {k: _meta_to_json(v) for k, v in spec.metadata.items()},
        "tensors": [[t.name, list(t.shape), t.ggml_type, t.offset, t.shard] for t in spec.tensors],
        "file_size": spec.file_size,
        "shards": list(spec.shards),
        "mmproj": spec_to_json(spec.mmproj) if spec.mmproj is not None else None,
        "synthesized": spec.synthesized,
        "notes": list(spec.notes),
    }


def _tensor(row: Any) -> TensorInfo:
    if not isinstance(row, list) or len(row) != 5:
        raise BadEntry("bad tensor row")
    name, shape, ggml_type, offset, shard = row
    if not isinstance(name, str) or not isinstance(shape, list) or len(shape) > MAX_DIMS:
        raise BadEntry("bad tensor name or shape")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_TENSOR_NAME:
        raise BadEntry("tensor name too long")
    gtype = GGML_TYPES.get(_int(ggml_type))
    if gtype is None:
        raise BadEntry(f"unknown tensor type {ggml_type}")
    dims = tuple(_int(d) for d in shape)
    n_elements = 1
    for dim in dims:
        n_elements *= dim
    if n_elements > MAX_ELEMENTS or (dims and dims[0] % gtype.block_size):
        raise BadEntry("tensor shape the header reader refuses")
    return TensorInfo(name, dims, ggml_type, _int(offset), _int(shard, 0, _MAX_SHARDS))


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise BadEntry("expected a list of strings")
    return tuple(value)


def spec_from_json(data: Any, *, nested: bool = False) -> ModelSpec:
    """The `ModelSpec` of `spec_to_json`'s output; BadEntry for anything else (a projector's
    own projector included: a cached spec nests one level at most)."""
    if not isinstance(data, dict):
        raise BadEntry("not an object")
    name, source, metadata = data.get("name"), data.get("source"), data.get("metadata")
    rows, mmproj = data.get("tensors"), data.get("mmproj")
    if not isinstance(name, str) or not isinstance(source, str) or not isinstance(metadata, dict):
        raise BadEntry("bad name, source or metadata")
    if len(metadata) > MAX_KV:
        raise BadEntry("bad name, source or metadata")
    if not isinstance(rows, list) or len(rows) > MAX_TENSORS:
        raise BadEntry("bad tensor table")
    if mmproj is not None and nested:
        raise BadEntry("a projector with a projector")
    tensors = tuple(_tensor(r) for r in rows)
    if len({(t.name, t.shard) for t in tensors}) != len(tensors):
        raise BadEntry("duplicate tensors")
    synthesized = data.get("synthesized", False)
    if not isinstance(synthesized, bool):
        raise BadEntry("bad synthesized flag")
    return ModelSpec(
        name=name,
        source=source,
        metadata={str(k): _meta_from_json(v) for k, v in metadata.items()},
        tensors=tensors,
        file_size=_int(data.get("file_size"), 0, _I64),
        shards=_strings(data.get("shards", [])),
        mmproj=spec_from_json(mmproj, nested=True) if mmproj is not None else None,
        synthesized=synthesized,
        notes=_strings(data.get("notes", [])),
    )


def cache_path(kind: str, key: str) -> Path:
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return cache_dir() / "headers" / kind / f"{digest}.json"


def discard(path: Path) -> None:
    """Remove a damaged entry (whatever it is: a FIFO or a folder put there too)."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            os.rmdir(path)
        else:
            path.unlink()


def load_entry(kind: str, key: str) -> dict[str, Any] | None:
    """The cached JSON entry for `key`, or None if absent, unreadable or for another key
    (a damaged entry is deleted so that the next store rewrites it)."""
    path = cache_path(kind, key)
    try:
        data = json.loads(read_capped(path, MAX_ENTRY_BYTES))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError):
        discard(path)
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        discard(path)
        return None
    return data


def load_spec_entry(kind: str, key: str) -> tuple[dict[str, Any], ModelSpec] | None:
    """A cached entry whose "spec" is a valid `ModelSpec`, with that spec; None (and the entry
    deleted) when its spec is of the wrong shape."""
    entry = load_entry(kind, key)
    if entry is None:
        return None
    try:
        return entry, spec_from_json(entry.get("spec"))
    except (BadEntry, RecursionError):
        discard(cache_path(kind, key))
        return None


def store_entry(kind: str, key: str, entry: dict[str, Any]) -> None:
    """Write the entry atomically; a cache that cannot be written is silently skipped."""
    payload = dict(entry, format=FORMAT, key=key)
    path = cache_path(kind, key)
    with contextlib.suppress(OSError, ValueError):
        if path.exists() and not path.is_file():  # a FIFO or a folder in the way
            discard(path)
        write_atomic(path, json.dumps(payload, separators=(",", ":")))
