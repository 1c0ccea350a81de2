"""The bundled catalog: entries, references, and synthesized sizes against published ones."""

from __future__ import annotations

import pytest

from vramtui.core.catalog.entries import (
    DEFAULT_MODEL_REF,
    catalog_entries,
    catalog_metadata,
    open_catalog_model,
)
from vramtui.core.errors import ModelReferenceError
from vramtui.core.gguf.spec import SkippedArray
from vramtui.core.model.source import open_model

REQUIRED_IDS = {
    "glm-4.7-flash",
    "qwen3-vl-32b",
    "qwen3-30b-a3b",
    "qwen3-32b",
    "qwen3-next-80b-a3b",
    "gpt-oss-20b",
    "gpt-oss-120b",
    "llama-3.1-8b",
    "llama-3.3-70b",
    "gemma-3-27b",
    "mistral-small-3.2-24b",
    "glm-4.5-air",
    "qwen3-235b-a22b",
    "deepseek-v3",
}


def _known_sizes() -> list[tuple[str, str, int, str]]:
    return [
        (e.id, q.name, q.file_size_bytes, q.size_kind)
        for e in catalog_entries()
        for q in e.quants
        if q.file_size_bytes is not None
    ]


def test_catalog_has_the_required_models() -> None:
    ids = {e.id for e in catalog_entries()}
    assert ids >= REQUIRED_IDS
    for e in catalog_entries():
        assert e.id == e.id.lower()
        assert e.sources, e.id
        assert e.quant(e.default_quant) is not None, e.id
        assert all(q.source for q in e.quants if q.file_size_bytes is not None), e.id


def test_enough_sizes_are_checked() -> None:
    sizes = _known_sizes()
    assert len(sizes) >= 25
    assert {i for i, *_ in sizes} >= REQUIRED_IDS - {"qwen3-next-80b-a3b"}


@pytest.mark.parametrize(
    ("model_id", "quant", "real", "kind"),
    _known_sizes(),
    ids=[f"{i}:{q}" for i, q, *_ in _known_sizes()],
)
def test_synthesized_size_within_3_percent(model_id: str, quant: str, real: int, kind: str) -> None:
    spec = open_catalog_model(f"{model_id}:{quant}")
    assert spec is not None
    # llama-bench's "size" counts tensor bytes only; file sizes include the header; the ZBook
    # article's LM Studio figure for a vision model includes its projector.
    size = spec.weights_bytes if kind.startswith("llama-bench") else spec.file_size
    if "mmproj" in kind:
        assert spec.mmproj is not None
        size += spec.mmproj.file_size
    assert abs(size / real - 1) <= 0.03, f"{model_id}:{quant} synthesized {size} vs {real}"


def test_metadata_looks_like_a_real_header() -> None:
    meta = catalog_metadata("glm-4.7-flash")
    assert meta is not None
    assert meta["general.architecture"] == "deepseek2"
    assert meta["deepseek2.attention.kv_lora_rank"] == 512
    assert meta["tokenizer.ggml.tokens"] == SkippedArray(8, 154880)
    for e in catalog_entries():
        m = catalog_metadata(e.id)
        assert m is not None
        arch = m["general.architecture"]
        for key in ("block_count", "embedding_length", "context_length", "attention.head_count"):
            assert isinstance(m.get(f"{arch}.{key}"), int), f"{e.id}: {arch}.{key}"


@pytest.mark.parametrize(
    ("ref", "quant_type"),
    [("qwen3-32b", 15), ("QWEN3-32B:q6_k", 18), ("catalog:qwen3-32b:Q8_0", 7), ("gpt-oss-20b", 38)],
)
def test_references(ref: str, quant_type: int) -> None:
    spec = open_catalog_model(ref)
    assert spec is not None
    assert spec.synthesized
    assert spec.metadata["general.file_type"] == quant_type


def test_unknown_id_and_unknown_quant() -> None:
    assert open_catalog_model("no-such-model") is None
    with pytest.raises(ModelReferenceError, match=r"qwen3-32b is offered as Q4_K_M"):
        open_catalog_model("qwen3-32b:Q3_K_S")


def test_vision_model_has_projector() -> None:
    spec = open_catalog_model("qwen3-vl-32b")
    assert spec is not None and spec.mmproj is not None
    assert spec.mmproj.architecture == "clip"
    assert spec.mmproj.metadata["clip.vision.projection_dim"] == spec.meta("embedding_length")
    assert 0.8e9 < spec.mmproj.file_size < 1.6e9  # an F16 ViT of ~0.6 B params


def test_default_model_opens_through_open_model() -> None:
    assert DEFAULT_MODEL_REF == "glm-4.7-flash:Q4_K_M"
    spec = open_model(DEFAULT_MODEL_REF)
    assert spec.synthesized
    assert spec.architecture == "deepseek2"
    assert spec.meta("block_count") == 47
    # The ZBook article's LM Studio shows this file as 18.13 GB.
    assert abs(spec.file_size / 18.13e9 - 1) < 0.03
    assert spec == open_catalog_model("glm-4.7-flash:Q4_K_M")


def test_alias() -> None:
    spec = open_catalog_model("deepseek-r1:Q4_K_M")
    assert spec is not None and spec.meta("expert_count") == 256
