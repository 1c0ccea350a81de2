"""Per-family tensor tables for the catalog's synthesized headers, one module per family.

`family_tensors` answers with rows (name, GGUF shape, kept F32) for the architectures these
modules hold, or None; the synthesizer asks it before its own tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from vramtui.core.catalog.families import (
    falcon_h1,
    kimi_k3,
    kimi_linear,
    lfm2moe,
    minimax_m3,
    nemotron_h,
    qwen35,
)
from vramtui.core.catalog.families.deepseek4 import DEEPSEEK4_ARCHITECTURES, deepseek4_tensors
from vramtui.core.catalog.families.minimax import MINIMAX_ARCHITECTURES, minimax_tensors
from vramtui.core.catalog.families.mla import MLA_ARCHITECTURES, mla_tensors
from vramtui.core.catalog.families.rows import Md, Row
from vramtui.core.gguf.spec import MetaValue

_BUILDERS: dict[str, Callable[[Md, int], list[Row]]] = {
    **dict.fromkeys(qwen35.ARCHITECTURES, qwen35.tensors),
    **dict.fromkeys(nemotron_h.ARCHITECTURES, nemotron_h.tensors),
    **dict.fromkeys(falcon_h1.ARCHITECTURES, falcon_h1.tensors),
    **dict.fromkeys(lfm2moe.ARCHITECTURES, lfm2moe.tensors),
    **dict.fromkeys(kimi_linear.ARCHITECTURES, kimi_linear.tensors),
    **dict.fromkeys(kimi_k3.ARCHITECTURES, kimi_k3.tensors),
    **dict.fromkeys(minimax_m3.ARCHITECTURES, minimax_m3.tensors),
}

# Families that read the metadata themselves and answer None for other architectures.
_READERS: tuple[Callable[[Mapping[str, MetaValue], int], list[Row] | None], ...] = (
    mla_tensors,
    minimax_tensors,
    deepseek4_tensors,
)

FAMILY_ARCHITECTURES = (
    frozenset(_BUILDERS) | MLA_ARCHITECTURES | MINIMAX_ARCHITECTURES | DEEPSEEK4_ARCHITECTURES
)


def family_tensors(md: Mapping[str, MetaValue], n_vocab: int) -> list[Row] | None:
    arch = md.get("general.architecture")
    if not isinstance(arch, str):
        return None
    if arch in _BUILDERS:
        return _BUILDERS[arch](Md(md, arch), n_vocab)
    for reader in _READERS:
        rows = reader(md, n_vocab)
        if rows is not None:
            return rows
    return None


__all__ = ["FAMILY_ARCHITECTURES", "Row", "family_tensors"]
