"""Expected decode and prefill speed, and the time to the first token, for one placement.

Decode is memory-bound: a token reads the active weights (MoE: the routed experts only) and the
KV cache filled so far, each from the memory it lives in, plus a fixed cost per weight matrix for
its kernel launch. Prefill is compute-bound: 2 FLOPs per active parameter per token plus the
attention FLOPs that grow with the context, over the throughput of the path the weights take
(INT8 dot products for quantized weights on CUDA/ROCm/Vulkan, FP16 otherwise), plus the weights
each ubatch re-reads (every expert some token routes to). The terms are in `speed_features`;
the constants that turn ideal times into measured ones are in `speed_constants`, fitted on public
llama-bench rows and the 2026-02-02 ZBook article (`python -m bench speed` scores every row).

Image prompts (models with a projector): the image becomes tokens by the projector's patch size
and spatial merge (Qwen-VL: one token per 32x32 pixels, 8..4096 tokens: llama.cpp clip.cpp
`set_limit_image_tokens(8, 4096)`), the vision encoder computes 2 FLOPs per ViT parameter per
patch plus full attention over the patches, and the image tokens are prefilled like text.

Calibration from real runs is looked up by the caller (`vramtui.core.probe.calibration`) and passed
in as a factor that multiplies decode speed; the model itself reads no file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from vramtui.core.estimate.breakdown import MemoryBreakdown
from vramtui.core.estimate.placement import host_expert_bytes
from vramtui.core.gguf.ggml_types import ggml_type_by_name
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.presets import MachinePreset
from vramtui.core.speed.bands import (
    FIGURES,
    RAM_HIGH_GBPS,
    RAM_LOW_GBPS,
    SpeedBand,
    prefill_build_factor,
    ram_widened,
    speed_band,
)
from vramtui.core.speed.constants import (
    CPU_PREFILL_TFLOPS,
    REQUEST_OVERHEAD_S,
    constants_for,
    constants_key,
)
from vramtui.core.speed.features import (
    GB,
    INT8_PATH,
    SpeedInputs,
    decode_terms,
    kv_bytes_at,
    prefill_terms,
)
from vramtui.core.speed.profile import VisionProfile, model_profile
from vramtui.core.vocab import (
    Backend,
    BandwidthBasis,
    BufferKind,
    OsName,
    Place,
    RocmRelease,
    Runtime,
)

DEFAULT_PROMPT_TOKENS = 1024
GENERATED_TOKENS = 2048  # decode speed is taken at prompt + half of this many tokens cached
# The image an image prompt is assumed to carry unless the caller states one: a Full HD
# screenshot, 1920 x 1080 (2040 Qwen-VL tokens).
DEFAULT_IMAGE_SIZE = (1920, 1080)
QWEN_VL_TOKENS = (8, 4096)  # llama.cpp clip.cpp set_limit_image_tokens(8, 4096), Qwen-VL family
# Windows shared GPU memory on an APU when the preset names no figure of its own: the CPU<->GPU
# copy bandwidth rocm_bandwidth_test measured on Strix Halo (lhl/strix-halo-testing, 84-85 GB/s).
DEFAULT_SHARED_GBPS = 85.0
DEFAULT_CPU_GBPS = 60.0  # dual-channel DDR4-3600 / DDR5-3750 (2 x 8 B x 3.75 GT/s), when unknown


@dataclass(frozen=True)
class SpeedEstimate:
    decode_tokens_per_second: float
    prefill_tokens_per_second: float
    time_to_first_token_s: float
    prompt_tokens: int
    calibrated: bool
    basis: str
    image_tokens: int = 0  # tokens of one image at the stated size (0: no projector)
    time_to_first_token_image_s: float | None = None  # the same prompt plus that image
    inputs: SpeedInputs | None = field(default=None, compare=False, repr=False)
    # How far the measured value fell from the model's on held-back rows of this class, per
    # figure (core/speed/bands.py); None only for an estimate built without a class.
    bands: tuple[SpeedBand, ...] = field(default=(), compare=False)

    def band(self, figure: str) -> SpeedBand | None:
        return next((b for b in self.bands if b.figure == figure), None)

    def ranges(self) -> dict[str, tuple[float, float] | None]:
        """[low, high] of decode and prefill (tok/s) and the first token (s)."""
        values = {
            "decode": self.decode_tokens_per_second,
            "prefill": self.prefill_tokens_per_second,
            "ttft": self.time_to_first_token_s,
        }
        out: dict[str, tuple[float, float] | None] = {}
        for fig, value in values.items():
            b = self.band(fig)
            out[fig] = b.around(value) if b else None
        return out

    def decode_range(self) -> tuple[float, float] | None:
        """[low, high] of decode (tok/s): what every face shows beside the decode figure."""
        return self.ranges()["decode"]

    def image_range(self) -> tuple[float, float] | None:
        """[low, high] of the first token of a prompt with one image (s): the first token's
        range (the ZBook article's image prompts are the only first-token rows)."""
        b = self.band("ttft")
        t = self.time_to_first_token_image_s
        return b.around(t) if b and t is not None else None

    def decode_range_json(self) -> list[float] | None:
        """`decode_tokens_per_second_range` as JSON, rounded as the figure is."""
        return rounded_range(self.decode_range(), 2)

    def range_json(self) -> dict[str, Any]:
        """The three ranges as JSON fields, beside the figures they belong to."""
        r = self.ranges()
        return {
            "decode_tokens_per_second_range": rounded_range(r["decode"], 2),
            "prefill_tokens_per_second_range": rounded_range(r["prefill"], 1),
            "time_to_first_token_s_range": rounded_range(r["ttft"], 3),
        }

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "decode_tokens_per_second": round(self.decode_tokens_per_second, 2),
            "prefill_tokens_per_second": round(self.prefill_tokens_per_second, 1),
            "time_to_first_token_s": round(self.time_to_first_token_s, 3),
            **self.range_json(),
            "range_basis": {b.figure: b.to_json() for b in self.bands},
            "prompt_tokens": self.prompt_tokens,
            "calibrated": self.calibrated,
            "basis": self.basis,
        }
        if self.time_to_first_token_image_s is not None:
            out["image_tokens"] = self.image_tokens
            out["time_to_first_token_image_s"] = round(self.time_to_first_token_image_s, 3)
            out["time_to_first_token_image_s_range"] = rounded_range(self.image_range(), 3)
        return out


def rounded_range(pair: tuple[float, float] | None, digits: int) -> list[float] | None:
    """A [low, high] range as JSON (None stays None)."""
    return None if pair is None else [round(pair[0], digits), round(pair[1], digits)]


def speed_inputs(
    *,
    spec: ModelSpec,
    machine: MachinePreset,
    backend: Backend,
    os: OsName,
    breakdown: MemoryBreakdown,
    shared_bytes: Mapping[str, int] | None = None,
    driver: str | None = None,
) -> SpeedInputs:
    """The placement as the speed model sees it. `shared_bytes`: device bytes by buffer kind
    that live in slow shared memory (Windows shared GPU memory beyond the carve-out)."""
    prof = model_profile(spec)
    bd = breakdown
    s = bd.settings
    tk, tv = ggml_type_by_name(s.cache_type_k), ggml_type_by_name(s.cache_type_v)
    shared = shared_bytes or {}
    dev_w = bd.total(Place.DEVICE, BufferKind.WEIGHTS)
    dev_kv = bd.total(Place.DEVICE, BufferKind.KV_CACHE)
    w_sh = min(shared.get(BufferKind.WEIGHTS.value, 0) / dev_w, 1.0) if dev_w else 0.0
    kv_sh = min(shared.get(BufferKind.KV_CACHE.value, 0) / dev_kv, 1.0) if dev_kv else 0.0
    ngl = bd.n_gpu_layers if backend != Backend.CPU else 0
    fp16 = machine.fp16_tflops if backend != Backend.CPU else CPU_PREFILL_TFLOPS
    int8 = machine.int8_tops if backend in INT8_PATH and machine.int8_tops else fp16
    return SpeedInputs(
        profile=prof,
        key=constants_key(backend, os, machine.kind, driver),
        bw_device=machine.bandwidth_gbps,
        bw_shared=machine.shared_bandwidth_gbps or DEFAULT_SHARED_GBPS,
        bw_cpu=machine.cpu_bandwidth_gbps or DEFAULT_CPU_GBPS,
        fp16_tflops=fp16,
        quant_tops=int8,
        n_dev_layers=min(prof.n_layers, max(ngl - 1, 0)),
        output_on_device=ngl >= 1,
        kv_k_bytes=tk.type_size / tk.block_size,
        kv_v_bytes=tv.type_size / tv.block_size,
        gpu=backend != Backend.CPU,
        weights_shared=w_sh,
        kv_shared=kv_sh,
        ubatch=min(s.ubatch_size, s.batch_size),
        experts_host=_experts_host(spec, bd, backend, prof.expert_bytes),
    )


def default_decode_depth(n_ctx: int, prompt_tokens: int) -> int:
    """Cached tokens decode speed is taken at: the prompt plus half of the answer
    (GENERATED_TOKENS), never beyond the context."""
    return min(n_ctx, prompt_tokens + GENERATED_TOKENS // 2) if n_ctx else 0


def _experts_host(
    spec: ModelSpec, bd: MemoryBreakdown, backend: Backend, expert_bytes: int
) -> float:
    """Share of the expert weights that -ot / --n-cpu-moe keep on the host (estimate/placement)."""
    if backend == Backend.CPU or not expert_bytes:
        return 0.0
    return min(host_expert_bytes(spec, bd.settings, bd.n_gpu_layers) / expert_bytes, 1.0)


def _dot(terms: Mapping[str, float], theta: Mapping[str, float]) -> float:
    return sum(theta.get(t, 0.0) * x for t, x in terms.items())


def decode_seconds(
    inp: SpeedInputs, depth: float, theta: Mapping[str, float] | None = None
) -> float:
    """Seconds for one generated token with `depth` tokens cached."""
    return _dot(decode_terms(inp, depth), theta if theta is not None else constants_for(inp.key))


def prefill_seconds(
    inp: SpeedInputs, n_tokens: int, depth: float = 0.0, theta: Mapping[str, float] | None = None
) -> float:
    """Seconds to prefill `n_tokens` prompt tokens after `depth` cached ones."""
    if n_tokens <= 0:
        return 0.0
    per_token = _dot(
        prefill_terms(inp, n_tokens, depth), theta if theta is not None else constants_for(inp.key)
    )
    return per_token * n_tokens


def image_tokens(vision: VisionProfile, width: int, height: int) -> int:
    """Tokens one `width` x `height` image becomes. Qwen-VL (dynamic size): the image is
    resized to multiples of patch x merge pixels, then scaled into 8..4096 tokens (llama.cpp
    mtmd dyn_size preprocessor); fixed-size encoders: (image_size / patch / merge)^2."""
    if not vision.dynamic:
        side = max(vision.image_size // (vision.patch_size * vision.merge), 1)
        return side * side
    f = vision.patch_size * vision.merge
    w = max(round(width / f), 1)
    h = max(round(height / f), 1)
    lo, hi = QWEN_VL_TOKENS
    if w * h > hi:
        beta = math.sqrt(width * height / (hi * f * f))
        w, h = max(math.floor(width / beta / f), 1), max(math.floor(height / beta / f), 1)
    elif w * h < lo:
        beta = math.sqrt(lo * f * f / (width * height))
        w, h = math.ceil(width * beta / f), math.ceil(height * beta / f)
    return w * h


def image_encode_seconds(
    inp: SpeedInputs,
    vision: VisionProfile,
    tokens: int,
    theta: Mapping[str, float] | None = None,
) -> float:
    """The vision encoder for one image of `tokens` tokens: 2 FLOPs per ViT parameter per patch
    plus full attention over the patches (4 x width x patches^2 per layer), at the constants of
    F16 weights and of attention on this backend (the projector runs in F16 on the GPU)."""
    patches = tokens * vision.merge * vision.merge
    th = theta if theta is not None else constants_for(inp.key)
    peak = inp.fp16_tflops * 1e12
    mm = 2.0 * vision.params * patches / peak
    attn = 4.0 * vision.n_layer * vision.n_embd * patches * patches / peak
    return th.get("p.f16", 1.0) * mm + th.get("p.attn", 1.0) * attn


def estimate_speed(
    *,
    spec: ModelSpec,
    machine: MachinePreset,
    backend: Backend,
    os: OsName,
    runtime: Runtime,
    breakdown: MemoryBreakdown,
    shared_bytes: Mapping[str, int] | None = None,
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
    calibration: float | None = None,
    image_size: tuple[int, int] | None = None,
    driver: str | None = None,
    llama_build: int | None = None,
    rocm_release: str = RocmRelease.CURRENT,
) -> SpeedEstimate:
    """Decode, prefill and first-token time for one placement (see the module doc)."""
    inp = speed_inputs(
        spec=spec,
        machine=machine,
        backend=backend,
        os=os,
        breakdown=breakdown,
        shared_bytes=shared_bytes,
        driver=driver,
    )
    depth = default_decode_depth(breakdown.n_ctx, prompt_tokens)
    t_dec = decode_seconds(inp, depth)
    decode = 1.0 / t_dec if t_dec > 0 else 0.0
    if calibration is not None:
        decode *= calibration
    build = prefill_build_factor(inp.key, llama_build, rocm_release)
    t_pp = prefill_seconds(inp, prompt_tokens) / build
    prefill = prompt_tokens / t_pp if t_pp > 0 else 0.0
    ttft = _first_token_seconds(inp, prompt_tokens, t_pp)
    n_img = 0
    ttft_img = None
    vision = inp.profile.vision
    if vision is not None:
        width, height = image_size or DEFAULT_IMAGE_SIZE
        n_img = image_tokens(vision, width, height)
        total = n_img + prompt_tokens
        ttft_img = (
            REQUEST_OVERHEAD_S
            + image_encode_seconds(inp, vision, n_img)
            + prefill_seconds(inp, total) / build
            + decode_seconds(inp, total)
        )
    return SpeedEstimate(
        decode_tokens_per_second=decode,
        prefill_tokens_per_second=prefill,
        time_to_first_token_s=ttft,
        prompt_tokens=prompt_tokens,
        calibrated=calibration is not None,
        basis=_basis(inp, depth, runtime, calibration),
        image_tokens=n_img,
        time_to_first_token_image_s=ttft_img,
        inputs=inp,
        bands=_assumed_ram_bands(
            tuple(speed_band(inp.key, f, llama_build) for f in FIGURES),
            machine,
            inp,
            (depth, prompt_tokens, build, t_dec, ttft),
        ),
    )


def _first_token_seconds(inp: SpeedInputs, prompt_tokens: int, t_prefill: float) -> float:
    """The first token of a text prompt: request, the prompt's prefill (`t_prefill` seconds,
    the build factor applied), one decode step."""
    return REQUEST_OVERHEAD_S + t_prefill + decode_seconds(inp, prompt_tokens)


def _assumed_ram_bands(
    bands: tuple[SpeedBand, ...],
    machine: MachinePreset,
    inp: SpeedInputs,
    at: tuple[float, int, float, float, float],
) -> tuple[SpeedBand, ...]:
    """`bands`, with decode's and the first token's widened (`bands.ram_widened`) when the model
    runs on the CPU of a machine whose RAM bandwidth is assumed: the figures the model predicts
    at RAM_LOW_GBPS and RAM_HIGH_GBPS over those at the assumed figure. `at`: the decode depth,
    the prompt tokens, the prefill build factor, and the decode and first-token seconds the
    estimate found at the assumed figure."""
    if inp.gpu or machine.cpu_bandwidth_basis != BandwidthBasis.ASSUMED:
        return bands
    depth, prompt_tokens, build, t_dec, ttft = at
    low, high = (replace(inp, bw_device=g, bw_cpu=g) for g in (RAM_LOW_GBPS, RAM_HIGH_GBPS))

    def first_token(end: SpeedInputs) -> float:
        return _first_token_seconds(end, prompt_tokens, prefill_seconds(end, prompt_tokens) / build)

    ratios = {  # the figure at each end over the figure at the assumed bandwidth
        "decode": (t_dec / decode_seconds(low, depth), t_dec / decode_seconds(high, depth)),
        "ttft": (first_token(low) / ttft, first_token(high) / ttft),
    }
    return tuple(
        ram_widened(b, *ratios[b.figure], inp.bw_device) if b.figure in ratios else b for b in bands
    )


def _basis(inp: SpeedInputs, depth: float, runtime: Runtime, calibration: float | None) -> str:
    p = inp.profile
    read = sum(p.active_bytes.values()) + p.output_bytes + kv_bytes_at(inp, depth)
    text = f"{inp.key} ({runtime}): {read / GB:.2f} GB read per token at {inp.bw_device:.0f} GB/s"
    if inp.weights_shared or inp.kv_shared:
        share = max(inp.weights_shared, inp.kv_shared)
        text += f", {share:.0%} in shared memory at {inp.bw_shared:.0f} GB/s"
    if inp.n_host_layers:
        text += f", {inp.n_host_layers} of {p.n_layers} layers on the CPU"
    if calibration is not None:
        text += f", x{calibration:.2f} from probe history"
    return text
