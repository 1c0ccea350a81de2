"""Where the error-driven synthesizer starts: a consistent header where one is known.

- An architecture vramtui's catalog synthesizer supports starts from its tensor table
  (`vramtui.core.catalog.synth_tensors.tensor_table`) over the small metadata set of the oracle
  tests for that architecture (`small_metadata`), so llama.cpp sees the dims of a real layout
  rather than generic ones that can trip its asserts.
- Every other architecture starts from `synth.seed` plus its hints (hints.json: keys llama.cpp
  asserts on whose generic value is wrong, with the source line that asks for them).
- Mixture-of-experts layouts get a realistic expert count and top-k (`EXPERTS`).

`synth.converge` then answers whatever llama.cpp still asks for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.conformance.synth import N_LAYER, N_VOCAB, Layout, seed
from vramtui.core.catalog.synth_tensors import SUPPORTED_ARCHITECTURES, Meta, tensor_table
from vramtui.core.gguf.spec import MetaValue, SkippedArray

HERE = Path(__file__).parent
HINTS = HERE / "hints.json"

# Experts of the synthesized MoE layouts: 64 routed experts, 8 of them per token. A tiny count
# (4 of 2) shrinks llama.cpp's router and expert-selection buffers (n_expert x n_tokens
# logits, n_expert_used x n_tokens ids and weights) far below any released MoE; 8 active of
# 64 to 128 is what Qwen3-30B-A3B (128/8), GLM-4.5-Air (128/8), DeepSeek-V3 (256/8) and
# Qwen3.5-35B-A3B (256/8) ship (tools/catalog/families/*.json).
EXPERTS = (64, 8)
OLD_GENERIC_EXPERTS = (4, 2)  # what synth.DEFAULTS gave before; layouts.json may still hold it
CATALOG_ORIGIN = "catalog tensor table"


def _md_sets() -> list[dict[str, tuple[dict[str, MetaValue], str]]]:
    """The oracle tests' model sets (imported late: tests/ is only on the path from the root)."""
    from tests.oracle.arch2026_models import ARCH2026_MODELS  # noqa: PLC0415
    from tests.oracle.hybrid_models import HYBRID_MODELS  # noqa: PLC0415
    from tests.oracle.k3m3_models import K3M3_MODELS  # noqa: PLC0415
    from tests.oracle.longtail_models import LONGTAIL_MODELS  # noqa: PLC0415
    from tests.oracle.mla_models import MLA_MODELS  # noqa: PLC0415
    from tests.support.oracle_models import MODELS  # noqa: PLC0415

    return [HYBRID_MODELS, MLA_MODELS, ARCH2026_MODELS, LONGTAIL_MODELS, MODELS, K3M3_MODELS]


def _size(md: Mapping[str, MetaValue], arch: str) -> int:
    layers, width = md.get(f"{arch}.block_count", 0), md.get(f"{arch}.embedding_length", 0)
    n = layers if isinstance(layers, int) else 0
    w = width if isinstance(width, int) else 0
    return n * w


def small_metadata(arch: str) -> tuple[str, dict[str, MetaValue]] | None:
    """(name, metadata) of the smallest oracle test model of `arch` (layers x width)."""
    found = [
        (name, md)
        for models in _md_sets()
        for name, (md, _quant) in models.items()
        if md.get("general.architecture") == arch
    ]
    if not found:
        return None
    return min(found, key=lambda nm: _size(nm[1], arch))


def load_hints() -> dict[str, dict[str, Any]]:
    """arch -> {"keys": {key after `<arch>.`: value}, "tensors": {name: shape}, "source": ...};
    `{il}` in a tensor name stands for every layer of the generic seed."""
    data: dict[str, Any] = json.loads(HINTS.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _plain(value: MetaValue) -> Any:
    """A metadata value as layouts.json keeps it (arrays as lists: synth.write_layout)."""
    if isinstance(value, tuple):
        return list(value)
    return value


def catalog_layout(arch: str) -> tuple[str, Layout] | None:
    """The catalog synthesizer's layout for `arch` over its smallest oracle metadata set, with
    a vocabulary of `synth.N_VOCAB` (the tokenizer is written by `synth.write_layout`)."""
    if arch not in SUPPORTED_ARCHITECTURES:
        return None
    small = small_metadata(arch)
    if small is None:
        return None
    name, md = small
    md = {k: v for k, v in md.items() if not k.startswith("tokenizer.")}
    md |= {f"{arch}.{k}": v for k, v in load_hints().get(arch, {}).get("keys", {}).items()}
    tensors = {t.name: list(t.shape) for t in tensor_table(Meta(md), N_VOCAB)}
    meta = {
        k: _plain(v)
        for k, v in md.items()
        if k.startswith(f"{arch}.") and not isinstance(v, SkippedArray)
    }
    return name, Layout(arch, meta, tensors)


def has_catalog_start(arch: str) -> bool:
    return arch in SUPPORTED_ARCHITECTURES and small_metadata(arch) is not None


def from_catalog(cached: Mapping[str, Any]) -> bool:
    """Whether a layouts.json entry was started from the catalog table."""
    return str(cached.get("start", "")).startswith(CATALOG_ORIGIN)


def generic_layout(arch: str) -> Layout:
    """`synth.seed` with the arch's hints."""
    layout = seed(arch)
    hint = load_hints().get(arch, {})
    for key, value in hint.get("keys", {}).items():
        layout.metadata[f"{arch}.{key}"] = value
    for name, shape in hint.get("tensors", {}).items():
        for il in range(N_LAYER):
            layout.tensors[name.replace("{il}", str(il))] = list(shape)
    return layout


def start(arch: str) -> tuple[str, Layout]:
    """(where it comes from, the layout) the synthesizer starts from."""
    cat = catalog_layout(arch)
    if cat is not None:
        return f"{CATALOG_ORIGIN} over the oracle set {cat[0]}", cat[1]
    return "generic dims" + (" + hints.json" if arch in load_hints() else ""), generic_layout(arch)


def realistic_experts(layout: Layout) -> bool:
    """Give a layout converged from generic dims before `EXPERTS` (4 experts, 2 used) the
    realistic count: in the metadata and in every tensor whose last dim was the old count.
    False where the layout has no expert count or another one (a catalog layout keeps its own)."""
    arch, md = layout.arch, layout.metadata
    key_n, key_used = f"{arch}.expert_count", f"{arch}.expert_used_count"
    old = md.get(key_n)
    if old != OLD_GENERIC_EXPERTS[0]:
        return False
    md[key_n] = EXPERTS[0]
    if md.get(key_used) == OLD_GENERIC_EXPERTS[1]:
        md[key_used] = EXPERTS[1]
    for name, shape in layout.tensors.items():
        expert_tensor = "exps" in name or "ffn_gate_inp" in name or "exp_probs_b" in name
        if expert_tensor and shape and shape[-1] == old:
            layout.tensors[name] = [*shape[:-1], EXPERTS[0]]
    return True


def compact(layout: Layout, origin: str) -> dict[str, Any]:
    """The layout as layouts.json keeps it: a catalog-started one without the tensors the
    catalog synthesizer writes again from its metadata (`expand`), only those llama.cpp made
    the synthesizer add or change."""
    data = layout.to_json()
    if origin.startswith(CATALOG_ORIGIN):
        table = _table(layout)
        data["tensors"] = {k: v for k, v in layout.tensors.items() if table.get(k) != v}
    return data


def expand(arch: str, data: Mapping[str, Any], origin: str) -> Layout:
    """The layout `compact` kept."""
    layout = Layout.from_json(arch, dict(data))
    if origin.startswith(CATALOG_ORIGIN):
        layout.tensors = _table(layout) | layout.tensors
    return layout


def _table(layout: Layout) -> dict[str, list[int]]:
    md: dict[str, MetaValue] = {"general.architecture": layout.arch}
    md |= {k: tuple(v) if isinstance(v, list) else v for k, v in layout.metadata.items()}
    return {t.name: list(t.shape) for t in tensor_table(Meta(md), N_VOCAB)}


__all__ = [
    "EXPERTS",
    "catalog_layout",
    "compact",
    "expand",
    "from_catalog",
    "has_catalog_start",
    "realistic_experts",
    "start",
]
