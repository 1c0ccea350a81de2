"""The speed model's terms: seconds per token as a sum of (constant x ideal time) terms.

Every term is an ideal time in seconds (bytes over a bandwidth, FLOPs over a peak throughput, a
count of kernel launches) that the model multiplies by one fitted constant: the inverse
efficiency actually reached, or seconds per launch (`speed_constants.py` says which rows fixed
each constant). The terms are linear in the constants, so the same functions serve the
prediction (`speed.py`) and the least-squares fit (`bench/speed_rows.py`).

Decode, one token at `depth` tokens already cached (memory-bound):
  w        active weights in the GPU's own pool / its bandwidth (dedicated VRAM, unified memory
           or Linux GTT, which AMD says reads at full speed: ROCm docs strixhalo.rst)
  w.xbf16  the BF16 share of the expert weights again (no bf16 in the device: extra work)
  kv       KV cache read at this depth / bandwidth (SWA layers hold at most the window)
  af       attention FLOPs at this depth / FP16 peak, heads up to 256 wide
  af.wide  the same for layers with wider heads (MLA attends over a 576-wide latent: 38 FLOP per
           cached byte, in kernels not tuned for that width; profile.WIDE_HEAD)
  launch   weight matrices of the repeating layers on the GPU: one kernel launch and sync each
           per token (a matmul, mul_mat_id or convolution; the norms, ropes and adds around
           it scale with it). Counting matrices rather than layers prices an MLA layer (13
           matrices in GLM 4.7 Flash) above a llama layer (7)
  rlayer   recurrent layers on the GPU (gated delta net, Mamba-2, short conv): the scan, its
           convolution and the state copies each runs per token besides its matrices
  sh       bytes in Windows shared GPU memory / the shared pool's bandwidth
  shlayer  layers x the spilled share (copy-engine traffic the 2026-02-02 ZBook article saw)
  cpu      active weights of layers left on the CPU (discrete GPUs) / CPU memory bandwidth
  cpulayer layers left on the CPU
Prefill, per prompt token of an `n`-token prompt in ubatches of `ubatch` from `depth`:
  p.q / p.mx / p.f16 / p.bf16
           2 x active params by weight class / the path's peak (block-quantized weights use
           INT8 dot products on CUDA, ROCm and Vulkan (llama.cpp MMQ), FP16 elsewhere); MXFP4
           has kernels of its own and falls back to p.q's constant where no row measures it
  p.attn   attention FLOPs at the mean context of the prompt / FP16 peak
  p.score  attention scores at that context / FP16 peak: the softmax's exp, max and sum per
           score run outside the matrix units, so small heads (gpt-oss: 64) cost more per FLOP
  p.rd     weights each ubatch touches (every expert some token routes to) / bandwidth / ubatch
  p.sh     the share of those in Windows shared memory / the shared pool's bandwidth / ubatch
  p.kv     KV cache at the mean context / bandwidth (flash attention reads it per query tile)
  p.layer  layers / ubatch (launches per ubatch)
  p.rlayer recurrent layers, per prompt token: the chunked scan of a gated delta net or SSM
  p.host   weights of CPU layers copied to the GPU per ubatch (op offload) / PCIe / ubatch
  p.cpu    the CPU backend: every FLOP over the CPU's measured prefill rate
"""

from __future__ import annotations

from dataclasses import dataclass

from vramtui.core.speed.profile import BF16, F16, MXFP4, QUANT, ModelProfile
from vramtui.core.vocab import Backend

GB = 1e9
T = 1e12
# PCIe 4.0 x16: 16 GT/s x 16 lanes x 128/130 = 31.5 GB/s per direction (PCI-SIG base spec 4.0);
# op offload of CPU layers during prefill moves their weights over it.
PCIE_GBPS = 31.5
# Backends whose quantized matmuls use integer dot products (llama.cpp mmq.cu for CUDA and HIP,
# ggml-vulkan's integer-dot MMQ shaders on devices reporting "int dot: 1"); Metal dequantises to
# half precision and multiplies in FP16 (ggml-metal kernel_mul_mm).
INT8_PATH = frozenset({Backend.CUDA, Backend.ROCM, Backend.VULKAN})


@dataclass(frozen=True, slots=True)
class SpeedInputs:
    """Everything one placement contributes to the speed model (built by `speed.speed_inputs`)."""

    profile: ModelProfile
    key: str  # constants key: "<backend>[.<driver>]/<os>/<machine kind>"
    bw_device: float  # GB/s of the GPU's own pool (theoretical)
    bw_shared: float  # GB/s of Windows shared GPU memory (APUs)
    bw_cpu: float  # GB/s of system RAM for CPU layers
    fp16_tflops: float
    quant_tops: float  # the peak the quantized path runs at (INT8 TOPS or FP16 TFLOPS)
    n_dev_layers: int  # repeating layers on the GPU
    output_on_device: bool
    kv_k_bytes: float  # bytes per cached K element (f16: 2, q8_0: 34/32)
    kv_v_bytes: float
    gpu: bool  # False: the CPU backend, everything computes on the CPU
    weights_shared: float  # share of the device weights that live in shared memory
    kv_shared: float  # share of the device KV cache that lives in shared memory
    ubatch: int
    # Share of all expert weights that GPU layers keep on the host (-ot, --n-cpu-moe): read by
    # the CPU at its bandwidth when decoding, copied to the GPU per ubatch in prefill.
    experts_host: float = 0.0

    @property
    def n_host_layers(self) -> int:
        return self.profile.n_layers - self.n_dev_layers

    @property
    def dev_share(self) -> float:
        n = self.profile.n_layers
        return self.n_dev_layers / n if n else 1.0


def kv_bytes_at(inp: SpeedInputs, depth: float) -> float:
    p = inp.profile
    swa = min(depth, p.n_swa) if p.n_swa else depth
    return (p.kv_full_k * inp.kv_k_bytes + p.kv_full_v * inp.kv_v_bytes) * depth + (
        p.kv_swa_k * inp.kv_k_bytes + p.kv_swa_v * inp.kv_v_bytes
    ) * swa


def attn_flops_at(p: ModelProfile, depth: float) -> float:
    swa = min(depth, p.n_swa) if p.n_swa else depth
    return p.attn_full * depth + p.attn_swa * swa


def attn_scores_at(p: ModelProfile, depth: float) -> float:
    """Attention scores (one per head per cached position) per token, all layers."""
    swa = min(depth, p.n_swa) if p.n_swa else depth
    return p.heads_full * depth + p.heads_swa * swa


def decode_terms(inp: SpeedInputs, depth: float) -> dict[str, float]:
    """Ideal seconds of each decode term for one token generated at `depth` cached tokens."""
    p = inp.profile
    share = inp.dev_share
    layer_bytes = p.layer_bytes
    out = p.output_bytes
    moved = inp.experts_host * sum(v for (role, _), v in p.active_bytes.items() if role == "expert")
    dev_w = layer_bytes * share + (out if inp.output_on_device else 0) - moved
    host_w = layer_bytes * (1 - share) + (0 if inp.output_on_device else out) + moved
    kv = kv_bytes_at(inp, depth) + 8.0 * p.recurrent_floats  # state rows read and written
    dev_kv, host_kv = kv * share, kv * (1 - share)
    bw = inp.bw_device * GB
    ws, ks = inp.weights_shared, inp.kv_shared
    xbf16 = p.active_bytes.get(("expert", BF16), 0) * max(share - inp.experts_host, 0.0)
    terms = {
        "w": dev_w * (1 - ws) / bw,
        "kv": dev_kv * (1 - ks) / bw,
        "af": (attn_flops_at(p, depth) - p.attn_wide * depth) * share / (inp.fp16_tflops * T),
        "launch": inp.n_dev_layers * p.matrices_per_layer,
    }
    if p.n_recurrent_layers:
        terms["rlayer"] = p.n_recurrent_layers * share
    if p.attn_wide:
        terms["af.wide"] = p.attn_wide * depth * share / (inp.fp16_tflops * T)
    if xbf16:
        terms["w.xbf16"] = xbf16 * (1 - ws) / bw
    if ws or ks:
        terms["sh"] = (dev_w * ws + dev_kv * ks) / (inp.bw_shared * GB)
        terms["shlayer"] = inp.n_dev_layers * max(ws, ks)
    if inp.n_host_layers or not inp.output_on_device or moved:
        terms["cpu"] = (host_w + host_kv) / (inp.bw_cpu * GB)
        terms["cpulayer"] = float(inp.n_host_layers)
    return terms


def prefill_terms(inp: SpeedInputs, n_tokens: int, depth: float) -> dict[str, float]:
    """Ideal seconds of each prefill term per prompt token (n_tokens from `depth`)."""
    p = inp.profile
    share = inp.dev_share
    ub = max(min(inp.ubatch, n_tokens), 1)
    fp16 = inp.fp16_tflops * T
    quant = inp.quant_tops * T

    # With layers left on the CPU, llama.cpp still multiplies their weights on the GPU for
    # batches of 32 tokens or more (op offload, PR #6083): every FLOP is the GPU's, and the
    # host layers' weights cross PCIe once per ubatch (p.host).
    def flops(cls: str) -> float:
        return 2.0 * p.params_of(cls)

    ctx = depth + n_tokens / 2
    if not inp.gpu:  # the CPU backend: every matmul on the cores, at their measured rate
        every = sum(flops(c) for c in (QUANT, MXFP4, F16, BF16))
        return {"p.cpu": (every + attn_flops_at(p, ctx)) / fp16}
    terms = {
        "p.q": flops(QUANT) / quant,
        "p.mx": flops(MXFP4) / quant,
        "p.f16": flops(F16) / fp16,
        "p.bf16": flops(BF16) / fp16,
        "p.attn": attn_flops_at(p, ctx) / fp16,
        "p.score": attn_scores_at(p, ctx) / fp16,
        "p.layer": inp.n_dev_layers / ub,
        "p.rlayer": float(p.n_recurrent_layers) * share,
    }
    touched = p.dense_bytes + p.expert_bytes * experts_touched(p, ub)
    # Experts kept on the host are copied whole to the GPU per ubatch (op offload), not read
    # from device memory.
    moved = p.expert_bytes * inp.experts_host
    dev_touched = touched * share - moved * experts_touched(p, ub)
    terms["p.rd"] = dev_touched * (1 - inp.weights_shared) / (inp.bw_device * GB) / ub
    if inp.weights_shared:
        terms["p.sh"] = dev_touched * inp.weights_shared / (inp.bw_shared * GB) / ub
    # Flash attention re-reads the cached K and V once per tile of queries: KV bytes at the
    # mean context per prompt token (the constant folds in the tile height).
    terms["p.kv"] = kv_bytes_at(inp, ctx) * share / (inp.bw_device * GB)
    if inp.n_host_layers or moved:
        terms["p.host"] = (touched * (1 - share) + moved) / (PCIE_GBPS * GB) / ub
    return {k: v for k, v in terms.items() if v}


def experts_touched(p: ModelProfile, ubatch: int) -> float:
    """Share of the experts at least one of `ubatch` tokens routes to, with uniform routing:
    1 - (1 - k/E)^ubatch (each token picks k of E experts)."""
    if not p.is_moe:
        return 0.0
    miss = 1.0 - p.n_expert_used / p.n_expert
    return 1.0 - miss**ubatch
