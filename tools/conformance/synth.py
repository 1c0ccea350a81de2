"""Synthesize the smallest GGUF header llama.cpp loads for an architecture, from its own errors.

Start from a handful of generic hyperparameters and no tensors, run the pinned llama.cpp's
`llama-fit-params` (a CPU dry run: the model and context are built with no allocation) and
read the first error of its loader:

- `key not found in model: <arch>.x` / `array key not found` -> add the key with a default
  from `DEFAULTS` (by the key's name), or 1;
- `key <k> has wrong type <t> but expected type <u>` -> rewrite the value in that type;
- `tensor 'blk.0.y' not found` / `missing tensor 'blk.0.y'` -> add the tensor: with the shape
  the same tensor has in an earlier layer, else with a placeholder shape;
- `tensor 'x' has wrong shape; expected a, b, got c` -> give it the expected shape.

Repeat until llama.cpp prints its memory breakdown (the model loads) or an error no rule
answers. The converged layout (metadata and tensor shapes) is what `layouts.json` keeps, so the
table can be regenerated without converging again. The file's data section is a sparse hole:
llama-fit-params never reads tensor data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.conformance.oracle import FitResult, fit_params
from vramtui.core.gguf.spec import TensorInfo
from vramtui.core.gguf.writer import FLOAT32, Typed, WriteValue, byte_vocabulary, write_gguf

N_VOCAB = 4096
N_LAYER = 4
PLACEHOLDER = (7,)  # a shape no tensor expects: llama.cpp answers with the expected one
F32, F16, I32 = 0, 1, 26  # ggml_type ids (ggml.h)
MAX_STEPS = 600

# Generic dims of a small model: width 2048, 16 heads of 128 (4 KV heads), FFN 4096, 64
# experts of 512 with 8 used per token (a released MoE's count: a tiny one shrinks llama.cpp's
# router buffers, seeds.py EXPERTS). The file is sparse, so the width costs no disk; it keeps
# llama.cpp's fixed overheads from dominating the compute buffer. Values by the key's name
# after `<arch>.`; the first suffix that matches wins.
DEFAULTS: list[tuple[str, Any]] = [
    ("block_count", N_LAYER),
    ("context_length", 4096),
    ("embedding_length_per_layer_input", 256),
    ("embedding_length", 2048),
    ("expert_shared_feed_forward_length", 512),
    ("expert_feed_forward_length", 512),
    ("feed_forward_length", 4096),
    ("attention.head_count_kv", 4),
    ("attention.head_count", 16),
    ("attention.key_length_mla", 192),
    ("attention.value_length_mla", 128),
    ("attention.key_length", 128),
    ("attention.value_length", 128),
    ("attention.kv_lora_rank", 512),
    ("attention.q_lora_rank", 768),
    ("attention.sliding_window", 256),
    ("attention.clamp_kqv", 8.0),
    ("epsilon", 1e-5),
    ("rope.dimension_count", 64),  # asked for by partial-rotary and MLA models only
    ("rope.freq_base", 10000.0),
    ("rope.scaling.factor", 1.0),
    ("expert_count", 64),  # realistic, not tiny: tools/conformance/seeds.py EXPERTS
    ("expert_used_count", 8),
    ("expert_shared_count", 1),
    ("expert_group_count", 1),
    ("expert_group_used_count", 1),
    ("expert_weights_scale", 1.0),
    ("leading_dense_block_count", 1),
    ("ssm.conv_kernel", 4),
    ("ssm.state_size", 128),
    ("ssm.inner_size", 4096),
    ("ssm.time_step_rank", 64),
    ("ssm.group_count", 1),
    ("shortconv.l_cache", 3),
    ("wkv.head_size", 64),
    ("time_mix_extra_dim", 32),
    ("time_decay_extra_dim", 64),
    ("rescale_every_n_layers", 6),
    ("token_shift_count", 2),
    ("full_attention_interval", 2),
    ("logit_scale", 1.0),
    ("residual_scale", 1.0),
    ("embedding_scale", 1.0),
    ("attention.scale", 0.0884),
    ("vocab_size", N_VOCAB),
]

# ggml/src/gguf.cpp GGUF_TYPE_NAME
_GGUF_TYPES = {"u8": 0, "i8": 1, "u16": 2, "i16": 3, "u32": 4, "i32": 5, "f32": 6, "bool": 7}
_GGUF_TYPES |= {"str": 8, "arr": 9, "u64": 10, "i64": 11, "f64": 12}
I32_ARRAY, F32_ARRAY = 5, 6
_KEY_MISSING = re.compile(r"key not found in model: (\S+)")
_ARRAY_MISSING = re.compile(r"array key not found in model: (\S+)")
_ARRAY_TYPE = re.compile(r"(\S+) has wrong array element type")
_ARRAY_LEN = re.compile(r"key (\S+) has wrong array length; expected (\d+)")
_NO_EXPERTS = re.compile(r"expert|n_ids_used > 0")
# llama.cpp's "<ARCH> architecture requires MLA": the DeepSeek-V3 layout of the MLA keys
# (kv_lora_rank 512, rope 64, a K-only latent of 576, 192/128 per head decompressed).
_MLA_KEYS = {
    "attention.kv_lora_rank": 512,
    "attention.key_length": 576,
    "attention.value_length": 512,
    "attention.key_length_mla": 192,
    "attention.value_length_mla": 128,
    "rope.dimension_count": 64,
}
_KEY_TYPE = re.compile(r"key (\S+) has wrong type (\S+) but expected type (\S+)")
_TENSOR_MISSING = re.compile(r"(?:tensor '([^']+)' not found|missing tensor '([^']+)')")
_TENSOR_SHAPE = re.compile(r"tensor '([^']+)' has wrong shape; expected ([\d, ]+), got")
_BLK = re.compile(r"^blk\.(\d+)\.(.+)$")


@dataclass
class Layout:
    """A header: metadata (tokenizer left out, added at write time) and tensor shapes."""

    arch: str
    metadata: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, list[int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"metadata": self.metadata, "tensors": self.tensors}

    @classmethod
    def from_json(cls, arch: str, data: dict[str, Any]) -> Layout:
        return cls(arch, dict(data["metadata"]), {k: list(v) for k, v in data["tensors"].items()})


def _value(v: Any) -> WriteValue:
    if isinstance(v, dict):  # {"type": gguf type id (of the items, for a list), "value": ...}
        t = int(v["type"])
        if isinstance(v["value"], list):
            return Typed(v["value"], 9, t)
        return Typed(v["value"], t)
    if isinstance(v, float):
        return Typed(v, FLOAT32)
    return v  # type: ignore[no-any-return]


def _tensor_type(name: str, shape: list[int]) -> int:
    if "tid2eid" in name:  # DeepSeek-V4's hash-routing table of expert ids (deepseek4.cpp: I32)
        return I32
    return F32 if len(shape) == 1 else F16


def write_layout(layout: Layout, path: Path) -> Path:
    md: dict[str, WriteValue] = {k: _value(v) for k, v in layout.metadata.items()}
    md.update(byte_vocabulary(N_VOCAB))
    tensors = [
        TensorInfo(name, tuple(shape), _tensor_type(name, shape))
        for name, shape in layout.tensors.items()
    ]
    write_gguf(path, layout.arch, md, tensors)
    return path


def _default(suffix: str) -> Any:
    for key, value in DEFAULTS:
        if suffix.endswith(key):
            return value
    return 1


def _retype(value: Any, type_name: str) -> Any:
    raw = value["value"] if isinstance(value, dict) else value
    t = _GGUF_TYPES.get(type_name)
    if type_name == "arr":
        item = F32_ARRAY if isinstance(raw, float) else I32_ARRAY
        return {"type": item, "value": [raw] * N_LAYER}
    if t is None:
        raise ValueError(type_name)
    if t == 6:
        return float(raw)
    if t == 7:
        return {"type": 7, "value": bool(raw)}
    if t == 8:
        return {"type": 8, "value": str(raw)}
    return {"type": t, "value": int(raw)}


def _missing_tensor_shape(layout: Layout, name: str) -> list[int]:
    m = _BLK.match(name)
    if m:
        for il in range(int(m[1]) - 1, -1, -1):
            earlier = layout.tensors.get(f"blk.{il}.{m[2]}")
            if earlier is not None:
                return list(earlier)
    return list(PLACEHOLDER)


def _array_step(layout: Layout, error: str) -> bool | None:
    """The array keys' errors (None: not one of them)."""
    md = layout.metadata
    if m := _ARRAY_MISSING.search(error):
        if m[1] in md and isinstance(md[m[1]], dict) and md[m[1]].get("type") == I32_ARRAY:
            return False
        value = _default(m[1].split(".", 1)[-1])
        item = F32_ARRAY if isinstance(value, float) else I32_ARRAY
        md[m[1]] = {"type": item, "value": [value] * N_LAYER}
        return True
    if m := _ARRAY_TYPE.search(error):
        old = md.get(m[1])
        if not isinstance(old, dict) or old.get("flipped"):
            return False
        conv = float if old["type"] == I32_ARRAY else int
        new_type = F32_ARRAY if old["type"] == I32_ARRAY else I32_ARRAY
        md[m[1]] = {"type": new_type, "value": [conv(v) for v in old["value"]], "flipped": 1}
        return True
    if m := _ARRAY_LEN.search(error):
        old, n = md.get(m[1]), int(m[2])
        if not isinstance(old, dict) or len(old["value"]) == n:
            return False
        md[m[1]] = {**old, "value": (old["value"] * n)[:n]}
        return True
    return None


def _special_step(layout: Layout, error: str) -> bool:
    """Errors that name no key: an MoE without experts, an MLA model without MLA keys."""
    arch, md = layout.arch, layout.metadata
    if "requires MLA" in error and f"{arch}.attention.key_length_mla" not in md:
        md.update({f"{arch}.{k}": v for k, v in _MLA_KEYS.items()})
        return True
    if _NO_EXPERTS.search(error) and f"{arch}.expert_count" not in md:
        for key in ("expert_count", "expert_used_count", "expert_feed_forward_length"):
            md[f"{arch}.{key}"] = _default(key)
        return True
    return False


def step(layout: Layout, error: str) -> bool:
    """Change `layout` to answer llama.cpp's `error`; False when no rule answers it."""
    arr = _array_step(layout, error)
    if arr is not None:
        return arr
    if m := _KEY_TYPE.search(error):
        # some keys are named without the architecture in the message (xielu.alpha_n)
        key = next((k for k in layout.metadata if k == m[1] or k.endswith(f".{m[1]}")), "")
        if not key:
            return False
        try:
            new = _retype(layout.metadata[key], m[3])
        except ValueError:
            return False
        if repr(new) == repr(layout.metadata[key]):  # 1 == 1.0, but not for llama.cpp
            return False
        layout.metadata[key] = new
        return True
    if m := _KEY_MISSING.search(error):
        key = m[1]
        if key in layout.metadata:
            return False
        layout.metadata[key] = _default(key.split(".", 1)[1] if "." in key else key)
        return True
    if m := _TENSOR_SHAPE.search(error):
        shape = [int(x) for x in m[2].replace(" ", "").split(",") if x]
        while len(shape) > 1 and shape[-1] == 1:
            shape.pop()
        if layout.tensors.get(m[1]) == shape:
            return False
        layout.tensors[m[1]] = shape
        return True
    if m := _TENSOR_MISSING.search(error):
        name = m[1] or m[2]
        if name in layout.tensors:
            return False
        layout.tensors[name] = _missing_tensor_shape(layout, name)
        return True
    return _special_step(layout, error)


# Keys llama.cpp reads with a default of 0 for most architectures (a 0 head count gives
# zero-width tensors rather than an error), so every seed carries them.
SEED_KEYS = (
    "block_count",
    "context_length",
    "embedding_length",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
)


def seed(arch: str) -> Layout:
    return Layout(arch, {f"{arch}.{k}": _default(k) for k in SEED_KEYS})


@dataclass
class Converged:
    layout: Layout
    result: FitResult
    steps: int


def converge(layout: Layout, work: Path, args: list[str]) -> Converged:
    """Iterate on llama.cpp's loader errors until the model loads or no rule answers."""
    path = work / f"{layout.arch}.gguf"
    result = FitResult()
    for n in range(MAX_STEPS):
        write_layout(layout, path)
        result = fit_params(path, args, verbose=False)
        if result.loaded or not step(layout, result.error):
            return Converged(layout, result, n + 1)
    return Converged(layout, result, MAX_STEPS)
