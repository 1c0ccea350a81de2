"""What the estimate needs to know about a model: its metadata and its tensor table.

A `ModelSpec` comes from a local GGUF header, a remote header read over HTTP ranges, or the
bundled catalog (synthesized from architecture facts). All three run through the same estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from vramtui.core.gguf.ggml_types import GGML_TYPES, tensor_bytes
from vramtui.core.sizes import ascii_int

MAX_LAYER_INDEX = 1 << 20  # far above any model's block count


def layer_index(name: str) -> int:
    """N of a `blk.N.*` tensor name; -1 for any other name, or an N that is not plain ASCII
    digits up to MAX_LAYER_INDEX (a file may name a tensor "blk.².x")."""
    if not name.startswith("blk."):
        return -1
    index = ascii_int(name.split(".", 2)[1], 0, MAX_LAYER_INDEX)
    return -1 if index is None else index


@dataclass(frozen=True, slots=True)
class SkippedArray:
    """A metadata array too large to keep (tokens, merges, scores): only its type and length."""

    item_type: int  # GGUF value type id of the elements
    length: int


Scalar: TypeAlias = int | float | bool | str
MetaValue: TypeAlias = Scalar | tuple[Scalar, ...] | SkippedArray


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One entry of the GGUF tensor table. `shape` is in GGUF order (ne0 first)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int = 0  # relative to the start of the tensor data section
    shard: int = 0  # which split file holds it

    @property
    def n_elements(self) -> int:
        n = 1
        for dim in self.shape:
            n *= dim
        return n

    @property
    def n_bytes(self) -> int:
        return tensor_bytes(self.ggml_type, self.shape)

    @property
    def type_name(self) -> str:
        t = GGML_TYPES.get(self.ggml_type)
        return t.name if t else f"type{self.ggml_type}"


@dataclass(frozen=True)
class ModelSpec:
    """A model as the estimate sees it.

    `metadata` holds every key of the header; large arrays appear as `SkippedArray`.
    `file_size` is the sum over shards (bytes on disk or Content-Length). `approximate` is set
    for catalog entries (synthesized tensors) and for architectures the estimate does not know.
    """

    name: str
    source: str  # the reference it was loaded from (path, URL, hf:, catalog id)
    metadata: Mapping[str, MetaValue]
    tensors: tuple[TensorInfo, ...]
    file_size: int
    shards: tuple[str, ...] = ()
    mmproj: ModelSpec | None = None
    synthesized: bool = False
    notes: tuple[str, ...] = field(default=())
    draft: ModelSpec | None = None  # the draft model for speculative decoding (--model-draft)

    @property
    def architecture(self) -> str:
        arch = self.metadata.get("general.architecture", "")
        return arch if isinstance(arch, str) else ""

    def meta(self, key: str, default: MetaValue | None = None) -> MetaValue | None:
        """Architecture-scoped lookup: `meta("block_count")` reads `<arch>.block_count`."""
        scoped = "." in key and key.split(".", 1)[0] in {"general", "tokenizer", "split"}
        full = key if scoped else f"{self.architecture}.{key}"
        return self.metadata.get(full, default)

    @property
    def weights_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)

    @property
    def n_params(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    def tensor(self, name: str) -> TensorInfo | None:
        for t in self.tensors:
            if t.name == name:
                return t
        return None


def vocab_size(metadata: Mapping[str, MetaValue]) -> int:
    """n_vocab: length of tokenizer.ggml.tokens, else `<arch>.vocab_size`."""
    tokens = metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, SkippedArray):
        return tokens.length
    if isinstance(tokens, tuple):
        return len(tokens)
    arch = metadata.get("general.architecture", "")
    v = metadata.get(f"{arch}.vocab_size")
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else 0
