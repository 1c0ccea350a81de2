"""The fit's reasons in words: each code's sentence, said from the figures the core gives it
(vramtui.core.fit.types.Reason), for every face (check, cluster, the app, the plan, quants)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vramtui.core.fit.types import LOAD_HELD_KEPT, LOAD_HELD_STAGED, Reason
from vramtui.core.sizes import GiB, format_bytes
from vramtui.core.vocab import OsName, ReasonCode, RocmRelease
from vramtui.present.speed_words import rate_span


def _exceeds_gpu_memory(r: Reason) -> str:
    needed = format_bytes(r.count("needed_bytes"))
    if r.has("vram_bytes"):  # a discrete card: its VRAM is all there is
        vram = format_bytes(r.count("vram_bytes"))
        return f"the GPU buffers ({needed}) exceed the {vram} of VRAM"
    dedicated = r.count("dedicated_bytes")
    shared = r.count("shared_bytes")
    return (
        f"the GPU needs {needed} but can address {format_bytes(dedicated + shared)} (dedicated "
        f"{format_bytes(dedicated)} + {r.text('shared_name')} {format_bytes(shared)}, once the "
        f"desktop's own {format_bytes(r.count('desktop_bytes'))} is taken)"
    )


def _partial_offload(r: Reason) -> str:
    return (
        f"only {r.count('gpu_layers')} of {r.count('layers')} layers fit on the GPU; the rest "
        "run on the CPU (much slower)"
    )


def _spills_to_shared(r: Reason) -> str:
    return (
        f"{format_bytes(r.count('spilled_bytes'))} does not fit the "
        f"{format_bytes(r.count('carve_out_bytes'))} carve-out and spills into shared GPU "
        "memory, which is slower"
    )


def _uses_gtt(r: Reason) -> str:
    return (
        f"{format_bytes(r.count('spilled_bytes'))} lives in {r.text('shared_name')} beyond the "
        "carve-out (no speed penalty on Linux per AMD)"
    )


def _carve_out_not_a_step(r: Reason) -> str:
    near = " or ".join(format_bytes(s) for s in r.counts("nearest_bytes"))
    return (
        f"{format_bytes(r.count('carve_out_bytes'))} is not one of this machine's BIOS steps "
        f"(nearest: {near})"
    )


_LOAD_HELD = {
    LOAD_HELD_STAGED: "the weights staged for upload (the CPU cannot write the carve-out), ",
    LOAD_HELD_KEPT: "the copy the runtime keeps in memory, ",
}


def _load_exceeds_system_ram(r: Reason) -> str:
    why = _LOAD_HELD.get(r.text("held"), "the OS baseline, ")
    return (
        f"loading needs {format_bytes(r.count('needed_bytes'))} of system RAM ({why}host buffers "
        f"and spilled GPU memory) but the OS sees only {format_bytes(r.count('visible_bytes'))}"
    )


def _desktop_ram_low(r: Reason) -> str:
    return (
        f"{format_bytes(r.count('left_bytes'))} of RAM is left for {OsName(r.text('os')).label} "
        "and its apps once the model is loaded; a desktop needs about "
        f"{format_bytes(r.count('desktop_bytes'))} to stay smooth, so expect stutter"
    )


def _context_exceeds_training(r: Reason) -> str:
    return (
        f"context {r.count('ctx')} is beyond the model's training context "
        f"{r.count('train_ctx')}: quality degrades"
    )


def _slow_decode(r: Reason) -> str:
    """ "2.2–5.0 tok/s expected: ..." with the decode range, "about 3.8 tok/s" without one."""
    if r.has("tps_low") and r.has("tps_high"):
        said = rate_span(r.rate("tps"), (r.rate("tps_low"), r.rate("tps_high")))
    else:
        said = f"about {r.rate('tps'):.1f}"
    return f"{said} tok/s expected: below the ~10 tok/s that feels usable"


def _approximate_estimate(r: Reason) -> str:
    arch = r.text("architecture") or "?"
    return (
        f"architecture {arch!r} is not one vramtui knows: memory is estimated with the generic "
        "rules (dense attention on every layer)"
    )


def _experts_on_host(r: Reason) -> str:
    size = f"{r.count('host_bytes') / GiB:.1f} GiB"
    if r.flag("gains_nothing"):
        return (
            f"{size} of expert weights kept in system RAM gain nothing here: the GPU's memory "
            "is that same RAM, so none is freed, and the CPU computes them slower"
        )
    return (
        f"{size} of expert weights stay in system RAM: the CPU reads them for every token, "
        "slower than the GPU's own memory"
    )


def _vulkan_heaps_split(r: Reason) -> str:
    limit = format_bytes(r.count("heap_limit_bytes"))
    return (
        f"above a {limit} carve-out AMD's Windows driver reports GPU memory as two Vulkan "
        f"heaps: llama.cpp before PR #17110, and runtimes built on it, see only "
        f"{format_bytes(r.count('first_heap_bytes'))} of the "
        f"{format_bytes(r.count('carve_out_bytes'))} and fail to load past about {limit}; "
        f"update the runtime or carve out {limit}"
    )


def _rocm_windows_64g(r: Reason) -> str:
    limit = format_bytes(r.count("limit_bytes"))
    return (
        f"the GPU buffers ({format_bytes(r.count('needed_bytes'))}) exceed the {limit} ROCm "
        f"places under Windows on Strix Halo: use the Vulkan backend, or Linux"
    )


def _rocm_windows_kv_shared(r: Reason) -> str:
    return (
        f"ROCm under Windows keeps the KV cache ({format_bytes(r.count('kv_bytes'))}) in "
        f"{r.text('shared_name')}, not the {format_bytes(r.count('carve_out_bytes'))} "
        "carve-out, whatever its size (llama.cpp's Strix Halo report of December 2025): long "
        "contexts decode slower; the Vulkan backend keeps it in the carve-out"
    )


def _rocm_release_slow_prefill(r: Reason) -> str:
    release = RocmRelease(r.text("release"))
    return (
        f"{release.label} at llama.cpp build {r.count('build')} ran prompt processing at "
        f"{r.rate('factor'):.2f}x the speed of {RocmRelease.CURRENT.label} "
        f"({r.count('rows')} llama-bench rows, {r.text('measured')}); "
        f"llama.cpp build {r.count('end_build')} or newer, or {RocmRelease.CURRENT.label}, "
        "runs it at full speed"
    )


_SAY: dict[ReasonCode, Callable[[Reason], str]] = {
    ReasonCode.EXCEEDS_GPU_MEMORY: _exceeds_gpu_memory,
    ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM: _load_exceeds_system_ram,
    ReasonCode.PARTIAL_OFFLOAD: _partial_offload,
    ReasonCode.SPILLS_TO_SHARED: _spills_to_shared,
    ReasonCode.DESKTOP_RAM_LOW: _desktop_ram_low,
    ReasonCode.CARVE_OUT_NOT_A_STEP: _carve_out_not_a_step,
    ReasonCode.CONTEXT_EXCEEDS_TRAINING: _context_exceeds_training,
    ReasonCode.USES_GTT: _uses_gtt,
    ReasonCode.SLOW_DECODE: _slow_decode,
    ReasonCode.APPROXIMATE_ESTIMATE: _approximate_estimate,
    ReasonCode.EXPERTS_ON_HOST: _experts_on_host,
    ReasonCode.VULKAN_HEAPS_SPLIT: _vulkan_heaps_split,
    ReasonCode.ROCM_WINDOWS_64G: _rocm_windows_64g,
    ReasonCode.ROCM_WINDOWS_KV_SHARED: _rocm_windows_kv_shared,
    ReasonCode.ROCM_RELEASE_SLOW_PREFILL: _rocm_release_slow_prefill,
}


def reason_text(reason: Reason) -> str:
    """The reason as a clause, lower case first ("the GPU needs ..."): what check prints after
    the code, the JSON's message, and what a longer sentence quotes."""
    return _SAY[reason.code](reason)


def reason_sentence(reason: Reason) -> str:
    """The reason as a sentence of its own: capital first letter."""
    text = reason_text(reason)
    return text[:1].upper() + text[1:]


def reason_messages(reasons: Sequence[Reason]) -> list[dict[str, Any]]:
    """check's JSON `messages`: each reason's code, severity and words."""
    return [{"code": r.code, "severity": r.severity, "message": reason_text(r)} for r in reasons]


def with_messages(data: dict[str, Any], messages: object) -> dict[str, Any]:
    """`data` (a core answer's JSON) with `messages` set just after its `reasons` codes, where
    the JSON has always had them."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        out[key] = value
        if key == "reasons":
            out["messages"] = messages
    if "messages" not in out:
        out["messages"] = messages
    return out
