"""Compute buffers per backend: where llama.cpp's scheduler puts the graph's working memory.

The CPU build keeps one compute buffer on the host (`compute.compute_bytes`). A GPU backend
splits the graph (ggml-backend.cpp ggml_backend_sched_split_graph): the layers' ops run on the
device, the graph inputs and the ops on host weights on the CPU, each split with its own
ggml-alloc buffer (llama-context.cpp sched_reserve / graph_reserve log both "compute buffer
size" lines). Per backend:
- every GPU backend: the device buffer is the layer graph's peak or the output phase's
  (`compute.gpu_output_phase_bytes`, with the device's copy of the V write indices without
  flash attention, `compute.v_idxs_bytes`); the host buffer stages the inputs
  (`compute.gpu_host_compute_range`: low = real GPU logs, high = the RPC oracle);
- Vulkan, hybrid models (recurrent layers beside attention): the host buffer is a range up to
  twice the figure (`VULKAN_HYBRID_HOST_HIGH`);
- Metal: the device figure is a range (`METAL_DEVICE_SPREAD`): its kernels fuse and allocate
  differently from the Vulkan/CUDA graph the RPC oracle sizes, and no oracle here runs Metal.
"""

from __future__ import annotations

from fractions import Fraction

from vramtui.core.estimate.breakdown import Buffer
from vramtui.core.estimate.compute import (
    compute_bytes,
    gpu_host_compute_range,
    gpu_output_phase_bytes,
    projector_compute_bytes,
    v_idxs_bytes,
)
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.vocab import BufferKind, Place

# Metal's device compute against the Vulkan/CUDA figure for the same model and settings: public
# load logs of one model on both differ by up to a third either way (ggml-metal fuses
# norm/mul/add and rope chains, ggml-metal-ops.cpp, and sizes its FA scratch itself); those logs
# are not in tests/data. A guess-bound, not a fit: the number stays the Vulkan figure.
METAL_DEVICE_SPREAD = Fraction(1, 3)
# Hybrid models on Vulkan keep a larger host compute buffer than the inputs and masks: public
# Vulkan logs show one that grows with the context, about twice this figure (llama.cpp issue
# #17751, a Qwen3.6-35B-A3B load: "Vulkan_Host compute buffer size = 561.06 MiB"); the RPC
# oracle cannot show it (it runs every op the Vulkan backend may hand back to the CPU).
# A guess-bound for the high end only, not a fit: the number stays the inputs-and-masks figure.
# It stays a guess until logs of one hybrid model at two or more contexts size the growth: the
# public logs hold that one load, and tests/data/gpu_compute_logs.toml no hybrid model on Vulkan.
VULKAN_HYBRID_HOST_HIGH = 2

# Backends whose device buffers llama.cpp's scheduler places as the RPC oracle's.
GPU_BACKENDS = frozenset({"gpu", "vulkan", "rocm", "cuda", "metal"})


def _spread(n: int, spread: Fraction) -> tuple[int, int]:
    return int(n * (1 - spread)), int(n * (1 + spread))


def compute_buffers(
    hp: ModelHparams,
    kv_sizes: tuple[int, ...],
    n_ubatch: int,
    flash_attn: bool,
    *,
    backend: str,
    on_dev: tuple[bool, ...],
    output_on_dev: bool,
    max_layer_bytes: int,
    n_seqs: int = 1,
) -> list[Buffer]:
    """The compute buffers llama.cpp allocates on `backend` ("cpu", "gpu" for any GPU, or a
    named one: "vulkan", "rocm", "cuda", "metal"); `n_seqs` sequences of recurrent state."""
    comp = compute_bytes(hp, kv_sizes, n_ubatch, flash_attn, n_seqs)
    if backend not in GPU_BACKENDS or not any(on_dev):
        return [Buffer(Place.HOST, BufferKind.COMPUTE, comp, "CPU compute buffer")]
    # With layers left on the CPU, op offload (llama.cpp PR #6083, batches >= 32) copies a host
    # layer's weights into the device compute buffer: gguf-parser-go #45 measured 1.2-2.7x
    # larger device compute at partial offload.
    if output_on_dev:
        out_phase = gpu_output_phase_bytes(hp, kv_sizes, n_ubatch, flash_attn)
        # the device's copy of the V write indices, a split input held for the whole graph
        out_phase += v_idxs_bytes(hp, len(kv_sizes), n_ubatch, flash_attn)
        comp = max(comp, out_phase)
    device = comp + (max_layer_bytes if not all(on_dev) else 0)
    dev_bounds = _spread(device, METAL_DEVICE_SPREAD) if backend == "metal" else None
    low, high = gpu_host_compute_range(hp, kv_sizes, n_ubatch, flash_attn)
    if backend == "vulkan" and any(hp.is_recurrent) and any(hp.has_kv):
        high = max(high, VULKAN_HYBRID_HOST_HIGH * low)
    dev = "Metal" if backend == "metal" else "GPU"
    return [
        Buffer(Place.DEVICE, BufferKind.COMPUTE, device, f"{dev} compute buffer", dev_bounds),
        Buffer(Place.HOST, BufferKind.COMPUTE, low, "CPU_Host compute buffer", (low, high)),
    ]


def projector_buffer(mmproj: ModelSpec, weights_bytes: int, place: Place, fa: bool) -> Buffer:
    """The projector's weights and its warm-up compute (`compute.projector_compute_bytes`).

    The figure is the warm-up with flash attention, as llama.cpp reserves it by default
    (clip.cpp warmup: auto resolves to on where the backend has it). With flash attention off,
    llama-server hands the setting to mtmd (server-context.cpp: mparams.flash_attn_type) and
    the warm-up builds the KQ matrix for the whole warm-up image (4,769 MiB for Qwen3-VL-32B's
    projector at 1472 px, measured); runtimes on older llama.cpp warm up at the projector's
    image_size instead (the ZBook article's LM Studio figures fit that): the high end of a range.
    """
    on = projector_compute_bytes(mmproj, True)
    n = weights_bytes + on
    bounds = None if fa else (n, n - on + projector_compute_bytes(mmproj, False))
    return Buffer(place, BufferKind.PROJECTOR, n, "mmproj weights + compute", bounds)
