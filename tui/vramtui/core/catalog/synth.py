"""Synthesize a model's spec from architecture facts: the bundled catalog's one way to a model.

The tensor table comes from `synth_tensors` (what llama.cpp's converter writes per
architecture) and each tensor's type from `synth_quant` (llama.cpp's quantizer rules);
`vramtui.core.gguf.writer.write_sparse_gguf` turns a spec into a sparse file that llama.cpp
itself can open for its dry run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from vramtui.core.catalog.synth_quant import BASE_TYPES, FTYPES, QuantMix
from vramtui.core.catalog.synth_tensors import (
    SUPPORTED_ARCHITECTURES,
    Meta,
    RawTensor,
    norm,
    tensor_table,
)
from vramtui.core.errors import VramtuiError
from vramtui.core.gguf.ggml_types import ggml_type_by_name
from vramtui.core.gguf.spec import MetaValue, ModelSpec, SkippedArray, TensorInfo, vocab_size
from vramtui.core.sizes import round_up

ALIGNMENT = 32  # GGUF default general.alignment


def _type_id(name: str) -> int:
    return ggml_type_by_name(name).id


def _meta_bytes(key: str, value: MetaValue) -> int:
    """Bytes a key/value takes in a GGUF v3 header (used for the synthesized file size)."""
    n = 8 + len(key.encode()) + 4
    if isinstance(value, str):
        return n + 8 + len(value.encode())
    if isinstance(value, SkippedArray):
        item = {8: 0}.get(value.item_type, 4)
        if value.item_type == 8:  # strings: length prefix + ~7 bytes each (a typical BPE vocab)
            item = 15
        return n + 12 + item * value.length
    if isinstance(value, tuple):
        return n + 12 + sum(8 + len(v.encode()) if isinstance(v, str) else 4 for v in value)
    return n + (1 if isinstance(value, bool) else 4)


def _lay_out(raw: Iterable[RawTensor], type_of: Callable[[RawTensor], str]) -> list[TensorInfo]:
    """Tensor infos with their types and offsets, each padded to the alignment."""
    tensors: list[TensorInfo] = []
    offset = 0
    for t in raw:
        info = TensorInfo(name=t.name, shape=t.shape, ggml_type=_type_id(type_of(t)), offset=offset)
        tensors.append(info)
        offset += round_up(info.n_bytes, ALIGNMENT)
    return tensors


def _file_size(md: Mapping[str, MetaValue], tensors: list[TensorInfo], extra: int = 0) -> int:
    """Header (magic, counts, key/values, tensor infos, `extra`) padded, then the data."""
    header = 24 + sum(_meta_bytes(k, v) for k, v in md.items())
    header += sum(8 + len(t.name) + 4 + 8 * len(t.shape) + 4 + 8 for t in tensors)
    data = tensors[-1].offset + round_up(tensors[-1].n_bytes, ALIGNMENT) if tensors else 0
    return round_up(header + extra, ALIGNMENT) + data


def synthesize_spec(
    metadata: Mapping[str, MetaValue], quant: str, *, name: str, source: str
) -> ModelSpec:
    """A ModelSpec with the tensor table llama.cpp's converter + quantizer would produce.

    `metadata` holds the GGUF keys a real file of the architecture carries; the vocabulary size
    comes from `tokenizer.ggml.tokens` (a SkippedArray is enough). Optional hints (not GGUF
    keys): `vramtui.tied_embeddings` (no output.weight), `vramtui.qk_norm` (glm4moe).
    """
    q = quant.upper()
    if q not in BASE_TYPES:
        raise VramtuiError(
            f"{name}: unknown quantization {quant!r} (one of {', '.join(BASE_TYPES)})"
        )
    m = Meta(metadata)
    if not m.arch:
        raise VramtuiError(f"{name}: metadata has no general.architecture")
    n_vocab = vocab_size(metadata)
    n_layer = m.num("block_count")
    if n_vocab <= 0 or n_layer <= 0 or m.num("embedding_length") <= 0:
        raise VramtuiError(
            f"{name}: metadata needs block_count, embedding_length and tokenizer.ggml.tokens"
        )
    raw = tensor_table(m, n_vocab)
    n_head = max(m.num("attention.head_count", 1), 1)
    n_head_kv = max(m.num("attention.head_count_kv", n_head), 1)
    mix = QuantMix(
        q,
        m.arch,
        n_layer=n_layer,
        n_attn_v=sum(1 for t in raw if "attn_v.weight" in t.name),
        n_expert=m.num("expert_count"),
        n_gqa=n_head // n_head_kv,
        has_output=any(t.name == "output.weight" for t in raw),
    )
    tensors = _lay_out(raw, mix.choose)
    md: dict[str, MetaValue] = {k: v for k, v in metadata.items() if not k.startswith("vramtui.")}
    md["general.file_type"] = FTYPES[q]
    md.setdefault("general.name", name)
    # gpt2 (BPE) vocabularies carry merges too: about one per token, ~18 bytes each + prefix.
    merges = 20 * n_vocab if metadata.get("tokenizer.ggml.model") == "gpt2" else 0
    return ModelSpec(
        name=name,
        source=source,
        metadata=md,
        tensors=tuple(tensors),
        file_size=_file_size(md, tensors, merges),
        synthesized=True,
        notes=("synthesized from architecture facts",),
    )


def _projector_tensors(metadata: Mapping[str, MetaValue]) -> list[RawTensor]:
    """A qwen3vl-style vision tower and merger; names from llama.cpp tools/mtmd/clip-impl.h."""

    def get(key: str, default: int) -> int:
        v = metadata.get(key, default)
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default

    n_embd = get("clip.vision.embedding_length", 1152)
    n_ff = get("clip.vision.feed_forward_length", 4304)
    patch = get("clip.vision.patch_size", 16)
    proj = get("clip.vision.projection_dim", 5120)
    merge = get("clip.vision.spatial_merge_size", 2)
    ts: list[RawTensor] = [
        RawTensor("v.patch_embd.weight", (patch, patch, 3, n_embd)),
        RawTensor("v.patch_embd.weight.1", (patch, patch, 3, n_embd)),
        norm("v.patch_embd.bias", n_embd),
        # F32: the graph resizes it with ggml_interpolate, which asserts an F32 source
        # (ggml/src/ggml.c ggml_interpolate_impl; tools/mtmd/clip.cpp resize_position_embeddings)
        RawTensor("v.position_embd.weight", (n_embd, get("clip.vision.n_position", 2304)), True),
        norm("v.post_ln.weight", n_embd),
        norm("v.post_ln.bias", n_embd),
    ]
    for il in range(get("clip.vision.block_count", 27)):
        p = f"v.blk.{il}."
        ts += [
            RawTensor(p + "attn_qkv.weight", (n_embd, 3 * n_embd)),
            norm(p + "attn_qkv.bias", 3 * n_embd),
            RawTensor(p + "attn_out.weight", (n_embd, n_embd)),
            norm(p + "attn_out.bias", n_embd),
            norm(p + "ln1.weight", n_embd),
            norm(p + "ln1.bias", n_embd),
            norm(p + "ln2.weight", n_embd),
            norm(p + "ln2.bias", n_embd),
            RawTensor(p + "ffn_up.weight", (n_embd, n_ff)),
            norm(p + "ffn_up.bias", n_ff),
            RawTensor(p + "ffn_down.weight", (n_ff, n_embd)),
            norm(p + "ffn_down.bias", n_embd),
        ]
    merged = n_embd * merge * merge
    ts += [
        RawTensor("mm.0.weight", (merged, merged)),
        norm("mm.0.bias", merged),
        RawTensor("mm.2.weight", (merged, proj)),
        norm("mm.2.bias", proj),
    ]
    deepstack = metadata.get("clip.vision.is_deepstack_layers")
    for il, flag in enumerate(deepstack if isinstance(deepstack, tuple) else ()):
        if flag:
            p = f"v.deepstack.{il}."
            ts += [
                norm(p + "norm.weight", merged),
                norm(p + "norm.bias", merged),
                RawTensor(p + "fc1.weight", (merged, merged)),
                norm(p + "fc1.bias", merged),
                RawTensor(p + "fc2.weight", (merged, proj)),
                norm(p + "fc2.bias", proj),
            ]
    return ts


def synthesize_projector(metadata: Mapping[str, MetaValue], quant: str = "F16") -> ModelSpec:
    """A qwen3vl-style clip projector (mmproj) spec from `clip.*` metadata.

    Keys used: clip.vision.embedding_length, block_count, feed_forward_length, patch_size,
    n_position, projection_dim (the text model's n_embd), spatial_merge_size,
    is_deepstack_layers. Weights are F16 unless `quant` is F32, BF16 or Q8_0.
    """
    wtype = "F16" if quant.upper() not in {"F32", "BF16", "Q8_0"} else quant.upper()
    tensors = _lay_out(
        _projector_tensors(metadata), lambda t: "F32" if t.f32 or len(t.shape) < 2 else wtype
    )
    md: dict[str, MetaValue] = dict(metadata)
    md["general.architecture"] = "clip"
    md.setdefault("clip.has_vision_encoder", True)
    md.setdefault("clip.projector_type", "qwen3vl_merger")
    md["general.file_type"] = FTYPES.get(wtype, 1)
    return ModelSpec(
        name="mmproj",
        source="synthesized",
        metadata=md,
        tensors=tuple(tensors),
        file_size=_file_size(md, tensors),
        synthesized=True,
    )


__all__ = [
    "FTYPES",
    "SUPPORTED_ARCHITECTURES",
    "synthesize_projector",
    "synthesize_spec",
]
