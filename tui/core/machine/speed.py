"""Expected decode / prefill speed from memory bandwidth, bytes read per token and compute.

Decode is memory-bound: each generated token reads the active weights and the KV cache filled
so far. Time per token =
    bytes in dedicated (or unified/VRAM) memory / (theoretical bandwidth x efficiency)
  + bytes in shared memory (Windows spill) / host-link bandwidth
  + bytes of CPU-offloaded layers / (CPU bandwidth x 0.7)
  + n_layers x per-layer overhead (kernel launches, syncs; more when spilled: the copies the
    seed saw as constant "Copy" engine activity).
Constants per backend, calibrated against the seed (LM Studio, Windows, HP ZBook Ultra G1a 64 GB;
`python -m bench speed_calibration` prints predicted vs measured):
- Vulkan: efficiency 0.83 of 256 GB/s (= 212 GB/s, the measured rocm_bandwidth_test GPU figure,
  lhl/strix-halo-testing), spill bandwidth 90 GB/s (~ the 84-85 GB/s CPU<->GPU link measured
  by the same test), 0.28 ms/layer overhead, 0.72 ms/layer when fully spilled, Q6_K weights at
  0.52x speed (the seed's GLM Q6_K 25.51 vs Q4_K_M 42.89 tok/s).
- ROCm (HIP) on the same chip: the seed's MoE runs are overhead-bound (14.4 tok/s with or
  without a carve-out): 1.26 ms/layer, spill bandwidth 110 GB/s.
- Metal / CUDA: 0.75 / 0.80 of peak (locara: realistic 70-85 %), small per-layer overheads;
  not calibrated against measurements here.
Prefill is compute-bound: 2 FLOP per active parameter per token at fp16_tflops x efficiency.

Calibration from real runs is looked up by the caller (`tui.core.probe.calibration`) and passed
in as a factor: estimate_speed multiplies decode speed by it and sets `calibrated`. The speed
model itself reads no file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tui.core.model.spec import ModelSpec

GB = 1e9


@dataclass(frozen=True)
class BackendSpeed:
    efficiency: float  # share of theoretical bandwidth reached for resident weights
    spill_gbps: float  # read bandwidth of buffers spilled into shared memory
    layer_overhead_s: float
    spilled_layer_overhead_s: float
    prefill_efficiency: float  # share of fp16_tflops reached by prompt processing
    quant_factor: dict[str, float]


BACKEND_SPEED: dict[str, BackendSpeed] = {
    "vulkan": BackendSpeed(0.83, 90.0, 0.28e-3, 0.72e-3, 0.12, {"Q6_K": 0.52}),
    "rocm": BackendSpeed(0.83, 110.0, 1.26e-3, 1.26e-3, 0.15, {}),
    "metal": BackendSpeed(0.75, 60.0, 0.08e-3, 0.08e-3, 0.45, {}),
    "cuda": BackendSpeed(0.80, 25.0, 0.03e-3, 0.03e-3, 0.35, {}),
    "cpu": BackendSpeed(0.60, 60.0, 0.05e-3, 0.05e-3, 0.5, {}),
}
DEFAULT_PROMPT_TOKENS = 1024
GENERATED_TOKENS = 2048  # the KV read per token is taken at prompt + half of this


@dataclass(frozen=True)
class SpeedEstimate:
    decode_tokens_per_second: float
    prefill_tokens_per_second: float
    time_to_first_token_s: float
    prompt_tokens: int
    calibrated: bool
    basis: str

    def to_json(self) -> dict[str, Any]:
        return {
            "decode_tokens_per_second": round(self.decode_tokens_per_second, 2),
            "prefill_tokens_per_second": round(self.prefill_tokens_per_second, 1),
            "time_to_first_token_s": round(self.time_to_first_token_s, 3),
            "prompt_tokens": self.prompt_tokens,
            "calibrated": self.calibrated,
            "basis": self.basis,
        }


_QUANT_CACHE: dict[int, tuple[ModelSpec, str]] = {}


def dominant_weight_type(spec: ModelSpec) -> str:
    """The ggml type holding the most weight bytes (cached per spec object)."""
    hit = _QUANT_CACHE.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    totals: dict[str, int] = {}
    for t in spec.tensors:
        totals[t.type_name] = totals.get(t.type_name, 0) + t.n_bytes
    name = max(totals, key=lambda k: totals[k]) if totals else "F16"
    if len(_QUANT_CACHE) > 256:
        _QUANT_CACHE.clear()
    _QUANT_CACHE[id(spec)] = (spec, name)
    return name


def estimate_speed(
    *,
    spec: ModelSpec,
    backend: str,
    bandwidth_gbps: float,
    fp16_tflops: float,
    n_layers: int,
    active_weights_bytes: int,
    kv_bytes: int,
    n_ctx: int,
    spill_fraction: float = 0.0,
    cpu_fraction: float = 0.0,
    cpu_bandwidth_gbps: float = 60.0,
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
    calibration: float | None = None,
) -> SpeedEstimate:
    """Speed for one placement. `spill_fraction`: share of the GPU's bytes in shared memory;
    `cpu_fraction`: share of weights on CPU-offloaded layers (discrete GPUs)."""
    bs = BACKEND_SPEED.get(backend, BACKEND_SPEED["vulkan"])
    q = bs.quant_factor.get(dominant_weight_type(spec), 1.0)
    filled = min(n_ctx, prompt_tokens + GENERATED_TOKENS // 2) if n_ctx else 0
    kv_read = kv_bytes * filled / n_ctx if n_ctx else 0.0
    per_token = active_weights_bytes / q + kv_read
    gpu_part = per_token * (1.0 - cpu_fraction)
    cpu_part = per_token * cpu_fraction
    fast = gpu_part * (1.0 - spill_fraction) / (bandwidth_gbps * GB * bs.efficiency)
    slow = gpu_part * spill_fraction / (bs.spill_gbps * GB)
    cpu = cpu_part / (cpu_bandwidth_gbps * GB * 0.7)
    overhead = n_layers * (
        bs.layer_overhead_s + spill_fraction * (bs.spilled_layer_overhead_s - bs.layer_overhead_s)
    )
    seconds = fast + slow + cpu + overhead
    decode = 1.0 / seconds if seconds > 0 else 0.0
    if calibration is not None:
        decode *= calibration

    weights = spec.weights_bytes or 1
    active_params = spec.n_params * min(active_weights_bytes / weights, 1.0)
    flops_per_token = 2.0 * max(active_params, 1.0)
    prefill = fp16_tflops * 1e12 * bs.prefill_efficiency / flops_per_token
    prefill *= 1.0 - 0.5 * spill_fraction
    if cpu_fraction:
        prefill /= 1.0 + 4.0 * cpu_fraction  # CPU layers compute at a fraction of GPU speed
    ttft = prompt_tokens / prefill + (1.0 / decode if decode else 0.0)
    basis = (
        f"{backend}: {bandwidth_gbps:.0f} GB/s x {bs.efficiency:.2f}, "
        f"{per_token / GB:.2f} GB read per token"
    )
    if spill_fraction > 0:
        basis += f", {spill_fraction:.0%} in shared memory at {bs.spill_gbps:.0f} GB/s"
    if cpu_fraction > 0:
        basis += f", {cpu_fraction:.0%} of weights on the CPU"
    if calibration is not None:
        basis += f", x{calibration:.2f} from probe history"
    return SpeedEstimate(decode, prefill, ttft, prompt_tokens, calibration is not None, basis)
