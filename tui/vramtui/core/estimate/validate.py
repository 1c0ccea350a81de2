"""Every hyperparameter the estimate reads, checked before it is used.

A GGUF header is input from anyone: `block_count = 2^31`, a NaN head count, a negative KV width
or a string where a count belongs must end in one line naming the key (a `ModelFileError`,
exit 2), never in a traceback, a MemoryError or a cheerful "fits". The rules follow what
llama.cpp's loader refuses (src/llama-model.cpp `load_hparams`, src/llama-model-loader.cpp
`get_key` / `get_key_or_arr`), with bounds far above any real model:

- a count or width must be a whole number (llama.cpp's `get_key` refuses a key of another GGUF
  type: "key %s has wrong type"), not negative, and within its bound below;
- `block_count` at most 512: llama.cpp keeps per-layer values in arrays of LLAMA_MAX_LAYERS
  (512, src/llama-hparams.h) and refuses more ("n > N_MAX");
- a per-layer array (head counts, feed-forward widths, the SWA pattern) has exactly
  `block_count` items ("key %s has wrong array length");
- `expert_used_count` at most `expert_count`, and present exactly when experts are
  (load_hparams: GGML_ASSERT(n_expert_used <= n_expert), n_expert_used > 0 iff n_expert > 0);
- block_count and embedding_length, when given, at least 1 (a header without them gets the
  estimate's generic reading, marked approximate, as an unknown architecture does);
- the tensor table agrees: no tensor of a layer past `block_count`, `token_embd.weight` as wide
  as `embedding_length`.

After the per-layer values are built (`check_layers`): every layer that keeps a KV cache has
heads and head widths (zero would give a KV cache of 0 bytes), every recurrent layer a state.
Work and memory here are bounded by the size of the header, never by a value inside it: the
layer count is checked before anything is built per layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from vramtui.core.errors import ModelFileError
from vramtui.core.gguf.spec import MetaValue, ModelSpec, SkippedArray, layer_index

MAX_LAYERS = 512  # llama.cpp LLAMA_MAX_LAYERS (src/llama-hparams.h)
MAX_WIDTH = 1 << 20  # embedding / feed-forward / latent widths (largest real: ~65K)
MAX_HEADS = 1 << 16  # head counts and per-head widths (largest real: 128 heads, 576 wide)
MAX_EXPERTS = 1 << 16  # expert counts (largest real: 512; llama.cpp's LLAMA_MAX_EXPERTS moves)
MAX_CONTEXT = 1 << 24  # training context and windows (largest real: 10M, Llama 4 Scout)
MAX_VOCAB = 1 << 24  # vocabulary (largest real: ~262K)
MAX_SMALL = 1 << 16  # kernel sizes, group counts, strides, intervals

# (key under the architecture, bound, whether it may be a per-layer array, required)
_LAYER_ARRAYS = ("feed_forward_length", "attention.head_count", "attention.head_count_kv")
_INT_KEYS: tuple[tuple[str, int], ...] = (
    ("embedding_length", MAX_WIDTH),
    ("context_length", MAX_CONTEXT),
    ("feed_forward_length", MAX_WIDTH),
    ("attention.head_count", MAX_HEADS),
    ("attention.head_count_kv", MAX_HEADS),
    ("attention.key_length", MAX_HEADS),
    ("attention.value_length", MAX_HEADS),
    ("attention.key_length_swa", MAX_HEADS),
    ("attention.value_length_swa", MAX_HEADS),
    ("attention.key_length_mla", MAX_HEADS),
    ("attention.value_length_mla", MAX_HEADS),
    ("attention.kv_lora_rank", MAX_WIDTH),
    ("attention.q_lora_rank", MAX_WIDTH),
    ("attention.sliding_window", MAX_CONTEXT),
    ("rope.dimension_count", MAX_HEADS),
    ("expert_count", MAX_EXPERTS),
    ("expert_used_count", MAX_EXPERTS),
    ("expert_shared_count", MAX_EXPERTS),
    ("expert_feed_forward_length", MAX_WIDTH),
    ("expert_shared_feed_forward_length", MAX_WIDTH),
    ("leading_dense_block_count", MAX_LAYERS),
    ("nextn_predict_layers", MAX_LAYERS),
    ("n_deepstack_layers", MAX_LAYERS),
    ("interleave_moe_layer_step", MAX_LAYERS),
    ("full_attention_interval", MAX_LAYERS),
    ("embedding_length_per_layer_input", MAX_WIDTH),
    ("vocab_size", MAX_VOCAB),
    ("ssm.conv_kernel", MAX_SMALL),
    ("ssm.state_size", MAX_SMALL),
    ("ssm.inner_size", MAX_WIDTH),
    ("ssm.group_count", MAX_SMALL),
    ("ssm.time_step_rank", MAX_SMALL),
    ("shortconv.l_cache", MAX_SMALL),
    ("token_shift_count", MAX_SMALL),
    ("wkv.head_size", MAX_SMALL),
)

# A projector's keys the estimate reads (compute.projector_compute_bytes, speed_profile).
_CLIP_KEYS: tuple[tuple[str, int], ...] = (
    ("clip.vision.block_count", MAX_LAYERS),
    ("clip.vision.embedding_length", MAX_WIDTH),
    ("clip.vision.feed_forward_length", MAX_WIDTH),
    ("clip.vision.attention.head_count", MAX_HEADS),
    ("clip.vision.image_size", MAX_SMALL),
    ("clip.vision.patch_size", MAX_SMALL),
    ("clip.vision.spatial_merge_size", MAX_SMALL),
    ("clip.vision.projection_dim", MAX_WIDTH),
)


def _what(value: MetaValue) -> str:
    """A value as an error shows it: short, whatever it holds."""
    if isinstance(value, SkippedArray):
        return f"an array of {value.length} items"
    if isinstance(value, tuple):
        return f"an array of {len(value)} items"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = str(value)
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"


class _Check:
    """Errors name the file (or URL) and the full key."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.md: Mapping[str, MetaValue] = spec.metadata
        self.arch = spec.architecture

    def fail(self, key: str, problem: str) -> ModelFileError:
        return ModelFileError(self.spec.source or self.spec.name, f"{key}: {problem}")

    def whole(self, key: str, value: MetaValue, high: int, *, low: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"{_what(value)} where a whole number belongs")
        if value < low:
            raise self.fail(key, f"{value} is below {low}")
        if value > high:
            raise self.fail(key, f"{_what(value)} is over the limit of {high}")
        return value

    def values(self, key: str, high: int, n_layer: int, *, per_layer: bool) -> list[int]:
        """The key's numbers (one, or one per layer); [] when the key is absent."""
        value = self.md.get(key)
        if value is None:
            return []
        if isinstance(value, tuple | SkippedArray):
            if not per_layer:
                raise self.fail(key, f"{_what(value)} where one whole number belongs")
            length = value.length if isinstance(value, SkippedArray) else len(value)
            if length != n_layer or isinstance(value, SkippedArray):
                raise self.fail(key, f"{_what(value)}, expected {n_layer} (one per layer)")
            return [self.whole(f"{key}[{i}]", v, high) for i, v in enumerate(value)]
        return [self.whole(key, value, high)]


def _check_pattern(c: _Check, n_layer: int) -> None:
    key = f"{c.arch}.attention.sliding_window_pattern"
    value = c.md.get(key)
    if value is None:
        return
    if isinstance(value, tuple | SkippedArray):
        length = value.length if isinstance(value, SkippedArray) else len(value)
        if length != n_layer or isinstance(value, SkippedArray):
            raise c.fail(key, f"{_what(value)}, expected {n_layer} (one per layer)")
        for i, v in enumerate(value):
            if not isinstance(v, bool | int) or (isinstance(v, int) and not 0 <= v <= 1):
                raise c.fail(f"{key}[{i}]", f"{_what(v)} where true or false belongs")
        return
    c.whole(key, value, MAX_LAYERS)


def _check_experts(c: _Check) -> None:
    n_expert = c.whole(f"{c.arch}.expert_count", c.md.get(f"{c.arch}.expert_count", 0), MAX_EXPERTS)
    n_used = c.whole(
        f"{c.arch}.expert_used_count", c.md.get(f"{c.arch}.expert_used_count", 0), MAX_EXPERTS
    )
    if n_used > n_expert:
        raise c.fail(
            f"{c.arch}.expert_used_count", f"{n_used} is more than expert_count {n_expert}"
        )
    if n_expert > 0 and n_used == 0:
        raise c.fail(f"{c.arch}.expert_used_count", f"missing or 0 with {n_expert} experts")


def _check_tensors(c: _Check, n_layer: int, n_embd: int) -> None:
    """The tensor table agrees with the counts: no layer past block_count, the embedding
    matrix as wide as embedding_length (llama.cpp creates it as {n_embd, n_vocab})."""
    for t in c.spec.tensors:
        if t.name.startswith("blk.") and n_layer:
            index = layer_index(t.name)
            if index >= n_layer:
                raise c.fail(
                    f"{c.arch}.block_count",
                    f"{n_layer}, but the file holds tensor {t.name[:64]!r} of layer {index}",
                )
        elif t.name == "token_embd.weight" and n_embd and t.shape and t.shape[0] != n_embd:
            raise c.fail(
                f"{c.arch}.embedding_length",
                f"{n_embd}, but token_embd.weight is {t.shape[0]} wide",
            )


def _check_projector(spec: ModelSpec) -> None:
    c = _Check(spec)
    for key, high in _CLIP_KEYS:
        value = c.md.get(key)
        if value is not None:
            c.whole(key, value, high)
    patch = c.md.get("clip.vision.patch_size")
    if patch == 0:
        raise c.fail("clip.vision.patch_size", "0; a patch has at least one pixel")


def validate_spec(spec: ModelSpec) -> None:
    """Refuse (ModelFileError naming the key) a model whose hyperparameters the estimate cannot
    use; return quietly otherwise. The projector, when paired, is checked too."""
    if spec.mmproj is not None:
        _check_projector(spec.mmproj)
    c = _Check(spec)
    arch = c.arch  # "" without one: the estimate's generic reading, keys checked the same
    named = c.md.get("general.architecture")
    if named is not None and not isinstance(named, str):
        raise c.fail("general.architecture", f"{_what(named)} where a name belongs")
    blocks, embd = c.md.get(f"{arch}.block_count"), c.md.get(f"{arch}.embedding_length")
    n_layer = 0 if blocks is None else c.whole(f"{arch}.block_count", blocks, MAX_LAYERS, low=1)
    n_embd = 0 if embd is None else c.whole(f"{arch}.embedding_length", embd, MAX_WIDTH, low=1)
    for key, high in _INT_KEYS:
        c.values(f"{arch}.{key}", high, n_layer, per_layer=key in _LAYER_ARRAYS)
    _check_pattern(c, n_layer)
    _check_experts(c)
    _check_tensors(c, n_layer, n_embd)


class LayerFacts(Protocol):
    """What `check_layers` reads of the per-layer hyperparameters (estimate.hparams)."""

    @property
    def arch(self) -> str: ...
    @property
    def n_head(self) -> Sequence[int]: ...
    @property
    def n_head_kv(self) -> Sequence[int]: ...
    @property
    def head_k(self) -> Sequence[int]: ...
    @property
    def head_v(self) -> Sequence[int]: ...
    @property
    def has_kv(self) -> Sequence[bool]: ...
    @property
    def has_v(self) -> bool: ...
    @property
    def is_recurrent(self) -> Sequence[bool]: ...
    @property
    def n_embd_r(self) -> int: ...
    @property
    def n_embd_s(self) -> int: ...


_Facts = TypeVar("_Facts", bound=LayerFacts)


def check_layers(source: str, hp: _Facts) -> _Facts:
    """`hp` when every layer that keeps a KV cache has heads, KV heads and head widths and
    every recurrent layer a state; else ModelFileError. Zero would make its cache 0 bytes and
    the verdict a lie."""
    arch = hp.arch
    for il, kv in enumerate(hp.has_kv):
        if not kv:
            continue
        for key, value in (
            ("attention.head_count", hp.n_head[il]),
            ("attention.head_count_kv", hp.n_head_kv[il]),
            ("attention.key_length", hp.head_k[il]),
            ("attention.value_length", hp.head_v[il] if hp.has_v else 1),
        ):
            if value <= 0:
                raise ModelFileError(
                    source, f"{arch}.{key}: {value} for layer {il}, which keeps a KV cache"
                )
    if any(hp.is_recurrent) and hp.n_embd_r + hp.n_embd_s <= 0:
        raise ModelFileError(
            source,
            f"{arch}.ssm.*: the recurrent layers have no state (0 floats); the "
            "state-size keys are missing or 0",
        )
    return hp
