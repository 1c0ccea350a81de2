"""A small on-disk cache of parsed headers (`ModelSpec`s) as JSON, no pickle.

Local files are keyed by (path, size, mtime), remote ones by URL (validated with the ETag).
A damaged or foreign cache file is ignored, never an error: the header is simply read again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from tui.core.atomic import write_atomic
from tui.core.model.spec import MetaValue, ModelSpec, SkippedArray, TensorInfo
from tui.core.paths import cache_dir

FORMAT = 1


def _meta_to_json(value: MetaValue) -> Any:
    if isinstance(value, SkippedArray):
        return {"skipped": [value.item_type, value.length]}
    if isinstance(value, tuple):
        return list(value)
    return value


def _meta_from_json(value: Any) -> MetaValue:
    if isinstance(value, dict):
        item_type, length = value["skipped"]
        return SkippedArray(int(item_type), int(length))
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"bad metadata value {value!r}")


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


def spec_from_json(data: dict[str, Any]) -> ModelSpec:
    mmproj = data.get("mmproj")
    return ModelSpec(
        name=str(data["name"]),
        source=str(data["source"]),
        metadata={str(k): _meta_from_json(v) for k, v in data["metadata"].items()},
        tensors=tuple(
            TensorInfo(str(n), tuple(int(d) for d in shape), int(ty), int(off), int(shard))
            for n, shape, ty, off, shard in data["tensors"]
        ),
        file_size=int(data["file_size"]),
        shards=tuple(str(s) for s in data.get("shards", ())),
        mmproj=spec_from_json(mmproj) if mmproj else None,
        synthesized=bool(data.get("synthesized", False)),
        notes=tuple(str(n) for n in data.get("notes", ())),
    )


def cache_path(kind: str, key: str) -> Path:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return cache_dir() / "headers" / kind / f"{digest}.json"


def load_entry(kind: str, key: str) -> dict[str, Any] | None:
    """The cached JSON entry for `key`, or None if absent, unreadable or for another key."""
    path = cache_path(kind, key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return None
    return data


def store_entry(kind: str, key: str, entry: dict[str, Any]) -> None:
    """Write the entry atomically; a cache that cannot be written is silently skipped."""
    payload = dict(entry, format=FORMAT, key=key)
    with contextlib.suppress(OSError):
        write_atomic(cache_path(kind, key), json.dumps(payload, separators=(",", ":")))
