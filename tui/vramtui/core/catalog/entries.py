"""The bundled catalog: popular models described by architecture facts, no file needed.

Each entry carries the GGUF metadata a real file of the model has (from public configs and
llama.cpp load logs, sources in `catalog_data.json`) and the quantizations offered, with the
published file size where one is known. The tensor table is synthesized from the metadata and
llama.cpp's quantization mix by `vramtui.core.catalog.synth`, so a catalog model runs through
the same estimate as a real file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from vramtui.core.errors import ModelReferenceError
from vramtui.core.gguf.spec import MetaValue, ModelSpec, SkippedArray

# The bundled default for a first run: the model and machine of the 2026-02-02 hands-on article.
DEFAULT_MODEL_REF = "glm-4.7-flash:Q4_K_M"

_GGUF_STRING = 8  # GGUF value type id of a string (tokenizer.ggml.tokens elements)
_UNIT_BYTES = {"GiB": 1 << 30, "GB": 1_000_000_000, "MiB": 1 << 20, "MB": 1_000_000, "B": 1}


@dataclass(frozen=True, slots=True)
class CatalogQuant:
    """One quantization offered for a catalog model; `file_size_bytes` is None when unknown."""

    name: str
    file_size_bytes: int | None
    source: str  # where the size comes from (a sentence), "" when the size is unknown
    size_kind: str = (
        ""  # "print_info file size", "llama-bench size (tensor bytes)", "HF README table"
    )
    note: str = ""


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: str
    name: str
    architecture: str
    quants: tuple[CatalogQuant, ...]
    params: float
    notes: str
    sources: tuple[str, ...]  # full source sentences
    default_quant: str = "Q4_K_M"
    hf_repo: str = ""
    params_active: float | None = None
    aliases: tuple[str, ...] = ()
    has_projector: bool = False

    def quant(self, name: str) -> CatalogQuant | None:
        wanted = name.strip().upper()
        for q in self.quants:
            if q.name.upper() == wanted:
                return q
        return None


@cache
def _raw() -> dict[str, Any]:
    text = (
        resources.files("vramtui.core.catalog")
        .joinpath("catalog_data.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


def _meta_value(value: Any) -> MetaValue:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"catalog_data.json: unsupported metadata value {value!r}")


def _metadata(model: dict[str, Any]) -> dict[str, MetaValue]:
    """The header keys of the model, with the vocabulary as a skipped array like a real header."""
    meta: dict[str, MetaValue] = {k: _meta_value(v) for k, v in model["metadata"].items()}
    meta.setdefault("general.name", model["name"])
    tok = model.get("tokenizer", {})
    if "tokenizer.ggml.model" in tok:
        meta["tokenizer.ggml.model"] = tok["tokenizer.ggml.model"]
    meta["tokenizer.ggml.tokens"] = SkippedArray(_GGUF_STRING, int(tok["vocab_size"]))
    return meta


def _size_bytes(q: dict[str, Any]) -> int | None:
    size = q.get("size")
    if size is None:
        return None
    return round(float(size) * _UNIT_BYTES[q["unit"]])


@cache
def _entries() -> tuple[CatalogEntry, ...]:
    data = _raw()
    src: dict[str, str] = data["sources"]
    out = []
    for m in data["models"]:
        quants = tuple(
            CatalogQuant(
                name=q["name"],
                file_size_bytes=_size_bytes(q),
                source=f"{q['source']}: {src[q['source']]}" if q.get("source") else "",
                size_kind=q.get("kind") or "",
                note=q.get("note", ""),
            )
            for q in m["quants"]
        )
        out.append(
            CatalogEntry(
                id=m["id"],
                name=m["name"],
                architecture=m["metadata"]["general.architecture"],
                quants=quants,
                params=float(m["params"]),
                notes=m.get("notes", ""),
                sources=tuple(f"{key}: {src[key]}" for key in m["sources"]),
                default_quant=m.get("default_quant", "Q4_K_M"),
                hf_repo=m.get("hf_repo", ""),
                params_active=m.get("params_active"),
                aliases=tuple(m.get("aliases", ())),
                has_projector="projector" in m,
            )
        )
    return tuple(out)


def catalog_entries() -> list[CatalogEntry]:
    """Every bundled model, in catalog order."""
    return list(_entries())


def _find(model_id: str) -> tuple[CatalogEntry, dict[str, Any]] | None:
    wanted = model_id.strip().lower()
    for entry, raw in zip(_entries(), _raw()["models"], strict=True):
        if wanted == entry.id or wanted in entry.aliases:
            return entry, raw
    return None


def catalog_entry(ref: str) -> CatalogEntry | None:
    """The catalog entry of `ID` or `ID:QUANT` (None when it is not a catalog id)."""
    found = _find(split_catalog_ref(ref)[0])
    return found[0] if found else None


def catalog_metadata(model_id: str) -> dict[str, MetaValue] | None:
    """The GGUF metadata of a catalog model (for tests and the sparse-file writer)."""
    found = _find(model_id)
    return _metadata(found[1]) if found else None


def split_catalog_ref(ref: str) -> tuple[str, str | None]:
    """`"qwen3-32b:q6_k"` -> ("qwen3-32b", "q6_k"); `"qwen3-32b"` -> ("qwen3-32b", None)."""
    ref = ref.strip().removeprefix("catalog:")
    if ":" in ref:
        model_id, quant = ref.rsplit(":", 1)
        return model_id, quant
    return ref, None


def open_catalog_model(ref: str) -> ModelSpec | None:
    """`ID` (default quant) or `ID:QUANT` (case-insensitive) -> a synthesized `ModelSpec`.

    None when `ID` is not a catalog id; a `ModelReferenceError` naming the offered quants when
    the id is known but the quantization is not.
    """
    model_id, quant_name = split_catalog_ref(ref)
    found = _find(model_id)
    if found is None:
        return None
    entry, raw = found
    quant = entry.quant(quant_name or entry.default_quant)
    if quant is None:
        offered = ", ".join(q.name for q in entry.quants)
        raise ModelReferenceError(f"{ref}: {entry.id} is offered as {offered}")
    from vramtui.core.catalog.synth import synthesize_projector, synthesize_spec  # noqa: PLC0415 - lazy: keeps startup fast

    spec = synthesize_spec(
        _metadata(raw),
        quant.name,
        name=f"{entry.name} {quant.name}",
        source=f"catalog:{entry.id}:{quant.name}",
    )
    # The catalog's note replaces synth's generic one: one sentence, not two saying the same.
    notes = [f"catalog model: tensors synthesized from {entry.architecture} facts ({quant.name})"]
    if quant.file_size_bytes is not None:
        notes.append(
            f"published size of this quantization: {quant.file_size_bytes} bytes "
            f"({quant.size_kind})"
        )
    projector = raw.get("projector")
    mmproj = None
    if projector is not None:
        pmeta = {k: _meta_value(v) for k, v in projector["metadata"].items()}
        mmproj = synthesize_projector(pmeta, projector.get("quant", "F16"))
    return replace(
        spec,
        mmproj=mmproj if mmproj is not None else spec.mmproj,
        synthesized=True,
        notes=tuple(notes),
    )
