"""Platform rules that bite beyond the pools' arithmetic: what a runtime on a given OS and
backend really gets, where it differs from what the pools say. Each rule names its source.

Strix Halo under Windows (AMD's driver, the BIOS carve-out as "dedicated" memory):
- Above a 64 GiB carve-out the Vulkan driver reports the GPU's memory as two heaps, not one
  (at 96 GB: 32 + 64 GB, ggml-org/llama.cpp #16832; 15.89 + 96.00 GiB with a newer driver,
  unslothai/unsloth PR #10418). llama.cpp builds before PR #17110 ("vulkan: iGPU memory
  reporting fix ... split heaps (Windows iGPUs with more than 64GB VRAM dedicated by BIOS)")
  used one heap and saw carve-out - 64 GiB (32 GB at 96 GB); ggml now sums every heap of an
  integrated GPU (ggml-vulkan.cpp ggml_backend_vk_get_device_memory). Runtimes built on older
  llama.cpp fail past ~64 GB at a 96 GB carve-out (lmstudio-bug-tracker #1790, #1088).
  Informational: a current llama.cpp loads there.
- ROCm/HIP under Windows stops at 64 GiB of GPU buffers: the HIP runtime llama.cpp's Windows
  builds ship does not place allocations beyond that (unslothai/unsloth PR #10418: "ROCm won't
  load >64GB", AMD's report at 96 GiB VGM; ROCm/legacy-rocm-build #5940). A warning.

An integrated GPU under Windows (AMD's driver, a shared GPU memory pool beside the carve-out):
- ROCm/HIP puts the KV cache in shared GPU memory whatever the carve-out: Task Manager shows it
  there with every llama.cpp and lemonade ROCm build tested, on Strix Halo (ggml-org/llama.cpp
  "Eval bug: ROCm model loading with Strix Halo (Ryzen 395) always dumps KV cache into shared
  memory", 2025-12-13); the HIP runtime under Windows can place hipMalloc() in shared memory,
  Linux's cannot (ROCm/legacy-rocm-build "[Issue]: Shared memory is forced with llama.cpp
  llama-server --mlock", AMD's answer of 2025-06-11). The 2026-02-02 ZBook article agrees:
  GLM 4.7 Flash Q4_K_M at 16K under ROCm ran 15.28 tok/s at a 512 MB carve-out and 14.42 at
  32 GB, where Vulkan went from 17.26 to 42.89. Only the KV cache: the source names it alone,
  so the recurrent state, compute and output buffers are placed as on any other backend. Vulkan
  and Linux keep the KV cache in the carve-out. The placement (placement.py) applies it; the
  speed model reads the KV cache from shared memory through the fit's placement. A note.
"""

from __future__ import annotations

from vramtui.core.fit.types import Reason
from vramtui.core.hardware.pools import MachineState
from vramtui.core.sizes import GiB
from vramtui.core.vocab import Backend, BufferKind, MachineKind, OsName, ReasonCode

# The largest single Vulkan heap AMD's Windows driver reports for a Strix Halo carve-out, and
# the GPU buffers ROCm under Windows places (module docstring: llama.cpp #16832, unsloth #10418).
WINDOWS_HEAP_LIMIT = 64 * GiB
ROCM_WINDOWS_LIMIT = 64 * GiB


def kinds_kept_in_shared(state: MachineState) -> frozenset[BufferKind]:
    """Device buffers the runtime puts in shared GPU memory whatever the carve-out: the KV
    cache under ROCm on Windows on an integrated GPU (module docstring)."""
    m = state.machine
    windows_apu = state.os == OsName.WINDOWS and m.unified_memory and not m.discrete
    if windows_apu and state.resolved_backend == Backend.ROCM:
        return frozenset({BufferKind.KV_CACHE})
    return frozenset()


def platform_reasons(state: MachineState, gpu_bytes: int) -> list[Reason]:
    """The platform rules that apply to `state` with `gpu_bytes` of GPU buffers placed."""
    m = state.machine
    if m.kind != MachineKind.STRIX_HALO or state.os != OsName.WINDOWS:
        return []
    backend = state.resolved_backend
    carve = state.carve_out_bytes
    reasons: list[Reason] = []
    if backend == Backend.VULKAN and carve > WINDOWS_HEAP_LIMIT:
        reasons.append(
            Reason.of(
                ReasonCode.VULKAN_HEAPS_SPLIT,
                carve_out_bytes=carve,
                first_heap_bytes=carve - WINDOWS_HEAP_LIMIT,
                heap_limit_bytes=WINDOWS_HEAP_LIMIT,
            )
        )
    if backend == Backend.ROCM and gpu_bytes > ROCM_WINDOWS_LIMIT:
        reasons.append(
            Reason.of(
                ReasonCode.ROCM_WINDOWS_64G,
                needed_bytes=gpu_bytes,
                limit_bytes=ROCM_WINDOWS_LIMIT,
            )
        )
    return reasons
