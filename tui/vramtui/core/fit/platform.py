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
"""

from __future__ import annotations

from vramtui.core.fit.types import Reason
from vramtui.core.hardware.pools import MachineState
from vramtui.core.sizes import GiB
from vramtui.core.vocab import Backend, MachineKind, OsName, ReasonCode

# The largest single Vulkan heap AMD's Windows driver reports for a Strix Halo carve-out, and
# the GPU buffers ROCm under Windows places (module docstring: llama.cpp #16832, unsloth #10418).
WINDOWS_HEAP_LIMIT = 64 * GiB
ROCM_WINDOWS_LIMIT = 64 * GiB


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
