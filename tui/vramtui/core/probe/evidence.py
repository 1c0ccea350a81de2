"""Memory evidence the server gives around a run: llama.cpp's /props and /slots before it (the
context per slot, the slots, the model file), Ollama's /api/ps after it (size and size in VRAM),
and amdgpu's counters before it."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx

from vramtui.core.errors import ProbeError
from vramtui.core.probe.fields import MAX_SLOTS, as_context, as_int
from vramtui.core.probe.http import MAX_MODELS, Unreachable, get_json
from vramtui.core.probe.results import MemoryEvidence, ProbeTimeouts
from vramtui.core.probe.sysfs import read_amdgpu_memory
from vramtui.core.vocab import ServerKind


def _read_props(mem: MemoryEvidence, props: Any) -> None:
    if not isinstance(props, dict):
        return
    dgs = props.get("default_generation_settings")
    n_ctx = as_context(props.get("n_ctx"))
    if n_ctx is None and isinstance(dgs, dict):
        n_ctx = as_context(dgs.get("n_ctx"))
    mem.n_ctx = n_ctx
    mem.total_slots = as_int(props.get("total_slots"), MAX_SLOTS)
    if isinstance(props.get("model_path"), str):
        mem.model_path = props["model_path"]


async def memory_before(
    client: httpx.AsyncClient, base: str, kind: ServerKind, t: ProbeTimeouts, sysfs: Path
) -> MemoryEvidence:
    """amdgpu's counters, and for llama.cpp what /props and /slots say, before the run."""
    mem = MemoryEvidence(amdgpu_before=read_amdgpu_memory(sysfs))
    if kind != ServerKind.LLAMACPP:
        return mem
    try:
        _read_props(mem, await get_json(client, base, "/props", t))
    except Unreachable:
        return mem  # the run itself will say what is wrong, once
    except ProbeError:
        pass
    with contextlib.suppress(ProbeError):  # /slots may be turned off (--no-slots)
        slots = await get_json(client, base, "/slots", t)
        if isinstance(slots, list):
            mem.slots_n_ctx = [
                n for s in slots if isinstance(s, dict) and (n := as_context(s.get("n_ctx")))
            ]
            if mem.n_ctx is None and mem.slots_n_ctx:
                mem.n_ctx = mem.slots_n_ctx[0]
    return mem


async def memory_after(
    client: httpx.AsyncClient,
    *,
    base: str,
    kind: ServerKind,
    model: str,
    mem: MemoryEvidence,
    t: ProbeTimeouts,
) -> None:
    """Ollama's /api/ps for the model just run: its size, its size in VRAM, its context."""
    if kind != ServerKind.OLLAMA:
        return
    with contextlib.suppress(ProbeError):
        ps = await get_json(client, base, "/api/ps", t)
        listed = ps.get("models") if isinstance(ps, dict) else None
        for item in listed[:MAX_MODELS] if isinstance(listed, list) else []:
            if not isinstance(item, dict):
                continue
            if model in {item.get("name"), item.get("model")}:
                mem.ollama_size_bytes = as_int(item.get("size"))
                mem.ollama_vram_bytes = as_int(item.get("size_vram"))
                mem.ollama_context_length = as_context(item.get("context_length"))
