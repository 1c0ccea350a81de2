"""The compute buffer: the peak of ggml-alloc over the worst-case ubatch graph, in bytes.

llama.cpp reserves the graph for n_ubatch tokens with one output (llama-context.cpp
sched_reserve: "worst-case: n_tokens = n_ubatch, n_outputs = 1") and ggml-alloc places each
intermediate tensor in the best-fitting free block, freeing it after its last consumer
(ggml/src/ggml-alloc.c). The peak is therefore the largest set of live tensors plus the holes
left under them. The terms below were read off llama.cpp's own dry run (tests/oracle, see
bench/bench_oracle.py for the table) and each names the graph it follows; all but the masks are
floats per token of the ubatch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from vramtui.core.estimate.families import gemma4_compute as gemma4
from vramtui.core.estimate.families import kimi_k3, msa, phi3
from vramtui.core.estimate.families.deepseek4 import cells_of as deepseek4_cells
from vramtui.core.estimate.families.deepseek4 import compute_bytes as deepseek4_compute_bytes
from vramtui.core.estimate.families.deepseek4 import host_input_bytes as deepseek4_host_bytes
from vramtui.core.estimate.families.dsa import attention_extra_bytes, indexer_mask_bytes
from vramtui.core.estimate.families.recurrent_compute import (
    granite_ffn_extra_floats,
    recurrent_phase_bytes,
)
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.sizes import round_up

# Residual stream, norms and graph inputs alive through a layer: 5 x n_embd per token
# (dense llama: 63,488 floats/token at n_embd 4096, n_ff 14336 = 5 n_embd + 3 n_ff).
BASE_EMBD = 5
# gemma3n carries four AltUp streams, their predictions and corrections through every layer
# (src/models/gemma3n.cpp). Round numbers fitted on the E4B and E2B shapes (fit rows: ctx
# 4096, ubatch 512, flash attention on: +3.1 % and -1.7 %); every gemma3n case in tests/oracle
# is a check row (within 3.1 %). Synthetic variants (20-50 layers) stay within 11 %: ggml-alloc's
# holes move with the layer count.
GEMMA3N_BASE_EMBD = 12
GEMMA3N_FFN_EMBD = 4
# Attention and FFN side by side on the same normed input: the attention output stays alive
# through the FFN (src/models/cohere2-iswa.cpp: attn_out added after the FFN).
PARALLEL_RESIDUAL = frozenset({"cohere2", "command-r"})
# Feed-forwards without a gate: up, the activation, down (src/models/nemotron-h.cpp build_ffn
# and build_moe_ffn with LLM_FFN_RELU_SQR and no ffn_gate): two n_ff-wide tensors, not three.
UNGATED_FFN = frozenset({"nemotron_h", "nemotron_h_moe"})


def mask_bytes(kv_sizes: tuple[int, ...], n_ubatch: int, flash_attn: bool) -> int:
    """The graph's KQ masks, one per cache (full, and the windowed one of an iSWA model):
    [n_kv, n_ubatch padded to 64], F16 with flash attention, F32 without."""
    return sum((2 if flash_attn else 4) * n * round_up(n_ubatch, 64) for n in kv_sizes)


def _moe_floats(hp: ModelHparams) -> int:
    """An MoE layer (llama-graph.cpp build_moe_ffn): up, gate and the activated product,
    each n_ff_exp x n_used, then the expert outputs n_embd x n_used. The outputs reuse the hole
    left by up and gate when they fit in it (2 x up >= outputs); otherwise they land above
    (Qwen3-30B-A3B: 3 x 6144 + 16384 = 34,816 floats/token, as measured). Weighting the input
    before the FFN (llama4) keeps one more n_embd x n_used alive. The shared expert runs
    after the routed ones as a dense FFN of its own width. Latent experts (kimi-k3) write
    outputs of their latent width (src/models/kimi-k3.cpp build_latent_moe)."""
    n_used = max(hp.n_expert_used, 1)
    up = (hp.n_ff_exp or max(hp.n_ff, default=0)) * n_used
    out = (hp.n_expert_latent or hp.n_embd) * n_used
    if hp.arch in UNGATED_FFN:
        return max(2 * up, 2 * hp.n_ff_shexp)
    if hp.graph is not None and not hp.graph.exp_gated:
        # no gate_exps: cur = up, the activation in place, then the expert outputs beside it
        return max(up + out, (3 if hp.graph.gated else 1) * hp.n_ff_shexp)
    routed = 3 * up + (out if out > 2 * up else 0) + (out if hp.weight_before_ffn else 0)
    return max(routed, 3 * hp.n_ff_shexp)


def _ffn_floats(hp: ModelHparams) -> int:
    """The largest layer's feed-forward phase beyond the base: 3 x n_ff (gate, up, product)
    for a dense layer, `_moe_floats` for an MoE one, 5 x d_inner for a Mamba-1 block (in_proj
    twice, conv, scan output, gate; within 3 %).
    An architecture read by its tensors (`hp.graph`, estimate/families/generic_graph.py) has
    the widths llama.cpp loads, its MoE layers where the experts are, 1 x n_ff for an FFN
    without a gate (bias and activation in place on the up projection) and one more n_embd
    for attention beside the FFN (falcon, phi2). llama.cpp's dry run at the conformance dims
    (n_embd 2048, ubatch 512, tools/conformance): gpt2 n_ff 1024-16384, falcon 8192, dbrx with
    2-8 experts used, each within 1 MiB."""
    moe = _moe_floats(hp) if hp.n_expert else 0
    g = hp.graph
    dense = 2 if hp.arch in UNGATED_FFN else 3
    if g is not None and not g.gated:
        dense = 1
    parallel = hp.arch in PARALLEL_RESIDUAL or (g is not None and g.parallel)
    best = 0
    for il in range(hp.n_layer - hp.n_nextn):
        is_moe = hp.n_expert and il >= hp.n_leading_dense and (il + 1) % hp.moe_layer_step == 0
        if g is not None and g.n_ff_exp:
            is_moe = hp.n_expert and g.moe_layers[il]
        f = moe if is_moe else dense * hp.n_ff[il]
        if hp.arch == kimi_k3.ARCH and not is_moe:
            f = kimi_k3.dense_ffn_floats(hp.n_ff[il], hp.n_embd, BASE_EMBD)
        if hp.arch == "gemma3n":
            f += GEMMA3N_FFN_EMBD * hp.n_embd
        elif parallel:
            f += hp.n_embd
        if hp.is_recurrent[il] and hp.arch == "mamba":
            f = max(f, 5 * hp.d_inner)
        best = max(best, f)
    return best + granite_ffn_extra_floats(hp)


def _attn_floats(hp: ModelHparams) -> int:
    """The largest layer's attention phase beyond the base, without the KQ matrix.

    GQA: Q, K, V and the output (2 x n_head x head_k + 2 x n_head_kv x head_k).
    An architecture read by its tensors (`hp.graph`): Q alone (K and V go to the cache by
    set_rows, and the output lands in a hole), or with a fused attn_qkv the whole projection,
    alive while its three views feed the attention (llama-graph.cpp build_qkv); llama.cpp's
    dry run at n_embd 2048, 16 heads, 4 KV heads (tools/conformance): 2,048 floats/token over
    the base for arcee, 3,072 for gpt2 and mpt.
    MLA (src/models/deepseek2.cpp, is_mla): q (head_k_mla per head), the roped q_pe, the
    absorbed q_nope (kv_lora) and their concatenation (kv_lora + rope) stack up, since each
    is larger than the hole the previous one leaves: DeepSeek-V3 128 x 1344 = 172,032.
    """
    attn = 0
    for il in range(hp.n_layer):
        if not hp.has_kv[il] and hp.arch != "gemma3n":  # gemma3n: shared-KV layers attend too
            continue
        if hp.is_recurrent[il]:
            continue
        if hp.is_mla:
            a = hp.n_head[il] * (hp.head_k_mla + 2 * hp.n_rot + 2 * hp.kv_lora_rank)
        elif hp.graph is not None:
            a = hp.n_head[il] * hp.head_k[il]
            if hp.graph.fused_qkv:
                a += 2 * hp.n_head_kv[il] * hp.head_k[il]
        else:
            a = 2 * hp.n_head[il] * hp.head_k[il] + 2 * hp.n_head_kv[il] * hp.head_k[il]
        attn = max(attn, a)
    return attn


def compute_bytes(
    hp: ModelHparams,
    kv_sizes: tuple[int, ...],
    n_ubatch: int,
    flash_attn: bool,
    n_seqs: int = 1,
) -> int:
    """Peak of the ubatch graph's live tensors, in bytes, for the CPU backend.

    masks     one KQ mask per cache (full, and the windowed one of an iSWA model):
              [n_kv, n_ubatch], F16 with flash attention, F32 without;
    base      `BASE_EMBD` x n_embd floats per token (qwen3vl adds its deepstack input width,
              gemma3n its AltUp streams);
    phases    the FFN phase (`_ffn_floats`) or the attention phase (`_attn_floats`, plus
              without flash attention KQ = F32[n_kv, n_ubatch, n_head]), whichever is larger.
    recurrent the recurrent layers' phase (`families/recurrent_compute.py`, per sequence
              of the ubatch for the state), whichever of the three is largest.
    The logits tensor does not set the peak (the graph is reserved with one output).
    """
    ub, n_embd = n_ubatch, hp.n_embd
    if hp.compress_ratios:  # DeepSeek-V4 (estimate/families/deepseek4.py)
        return _deepseek4_bytes(hp, kv_sizes, ub, flash_attn)
    masks = mask_bytes(kv_sizes, ub, flash_attn)
    base = (GEMMA3N_BASE_EMBD if hp.arch == "gemma3n" else BASE_EMBD) * n_embd
    base += gemma4.resident_floats(hp)
    if hp.n_embd_inp > n_embd:  # qwen3vl deepstack: wider input embeddings kept alive
        base += 4 * (hp.n_embd_inp - n_embd) + 5 * n_embd
    kq = 0
    if not flash_attn:
        max_kv = max(kv_sizes, default=0)
        kq = max(
            (4 * max_kv * ub * h for h, kv in zip(hp.n_head, hp.has_kv, strict=True) if kv),
            default=0,
        )
    g4_ffn = gemma4.ffn_phase_floats(hp)  # per-layer inputs (families/gemma4_compute.py)
    ffn_phase = 4 * ub * (base + _ffn_floats(hp) if g4_ffn is None else BASE_EMBD * n_embd + g4_ffn)
    ffn_phase = max(ffn_phase, 4 * ub * gemma4.prologue_floats(hp))
    fused = phi3.fused_qkv_attn_floats(hp) if not flash_attn else None
    attn_phase = 4 * ub * (base + (_attn_floats(hp) if fused is None else fused)) + kq
    if hp.arch == kimi_k3.ARCH:  # the residual stack (estimate/families/kimi_k3.py)
        attn_phase += 4 * ub * kimi_k3.residual_stack_floats(hp.n_layer, hp.attn_res_block, n_embd)
        res = kimi_k3.residual_phase_floats(hp.n_layer, hp.attn_res_block, n_embd)
        attn_phase = max(attn_phase, 4 * ub * res)
    rec_phase = recurrent_phase_bytes(hp, ub, n_seqs)
    if hp.arch == msa.ARCH:  # MSA's sparse layers, flash attention only (families/msa.py)
        n_kv = max(kv_sizes, default=0)
        sparse = msa.compute_bytes(n_kv, ub, n_embd, hp.n_indexer_head, n_seqs)
        return max(masks + max(ffn_phase, attn_phase), sparse if flash_attn else 0)
    attn_phase += attention_extra_bytes(  # DSA indexer (estimate/families/dsa.py)
        max(kv_sizes, default=0),
        ub,
        flash_attn,
        hp.indexer_top_k,
        tuple(i for i, kv in zip(hp.has_indexer, hp.has_kv, strict=False) if kv),
    )
    return masks + max(ffn_phase, attn_phase, rec_phase)


def _deepseek4_bytes(
    hp: ModelHparams, kv_sizes: tuple[int, ...], n_ubatch: int, flash_attn: bool
) -> int:
    n_ctx_seq = max(kv_sizes, default=0)
    return deepseek4_compute_bytes(
        max(hp.n_head, default=0),
        max(hp.head_k, default=0),
        hp.n_embd,
        out_lora=hp.out_lora,
        top_k=hp.indexer_top_k,
        cells=deepseek4_cells(n_ctx_seq, hp.n_swa, n_ubatch),
        n_ubatch=n_ubatch,
        flash_attn=flash_attn,
    )


# The largest projector dimension the figure takes as given (image size, width, heads): far above
# any vision encoder (1,472 px images, 1,280-wide); beyond it the key is taken as broken.
MAX_PROJECTOR_DIM = 1 << 16


# Projectors whose warm-up image llama.cpp sizes by tokens: 46 x 46 merged tokens "to avoid OOM
# on warmup" (tools/mtmd/clip.cpp load_hparams, set_warmup_n_tokens(46*46); clip-model.h:
# warmup_image_size = tokens per side x patch_size x n_merge): 1472 px for 16 px patches merged
# 2 x 2. Others warm up at their own image_size (load_hparams' default).
WARMUP_TOKENS_PER_SIDE = 46
_WARMUP_BY_TOKENS = frozenset({"qwen2vl_merger", "qwen2.5vl_merger", "qwen3vl_merger", "glm4v"})


def _projector_int(md: Mapping[str, object], key: str, default: int) -> int:
    """A whole, finite, non-negative value within the validator's bounds, else the default
    (a broken projector is reported by estimate.validate; this figure must not crash)."""
    v = md.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return default
    if isinstance(v, float) and not math.isfinite(v):
        return default
    return int(v) if 0 <= v <= MAX_PROJECTOR_DIM else default


def projector_warmup_image(mmproj: ModelSpec) -> int:
    """The side in pixels of the image llama.cpp's warm-up reserves the vision graph for
    (clip.cpp get_dummy_batch: "warmup with image size = 1472 x 1472" for Qwen3-VL)."""
    md = mmproj.metadata
    patch = max(_projector_int(md, "clip.vision.patch_size", 16), 1)
    if md.get("clip.projector_type") in _WARMUP_BY_TOKENS:
        merge = max(_projector_int(md, "clip.vision.spatial_merge_size", 2), 1)
        return WARMUP_TOKENS_PER_SIDE * patch * merge
    return _projector_int(md, "clip.vision.image_size", 768)


def projector_compute_bytes(mmproj: ModelSpec, flash_attn: bool = True) -> int:
    """The vision encoder's compute buffer for llama.cpp's warm-up image
    (`projector_warmup_image`; clip.cpp reserve_compute_meta), n_pos = (image / patch)^2:
    - the FFN phase of a ViT block, up, activation and product alive together: 3 x n_ff floats
      per patch (at least 4 x n_embd, gguf-parser-go's figure for a projector without n_ff);
    - without flash attention, the KQ matrix F32[n_pos, n_pos, n_head] (clip.cpp build_attn;
      flash attention is on when the backend has it, clip.cpp warmup, as for the text model).
    llama.cpp's own warm-up (xllamacpp 2026.10.11549, CPU build, Qwen3-VL-32B's projector at
    1472 px, tests/oracle): FA on 417.54 MiB (here 416.9), FA off 4,769.39 MiB (here 4,789.3).
    """
    md = mmproj.metadata
    n_embd = _projector_int(md, "clip.vision.embedding_length", 1024)
    n_ff = _projector_int(md, "clip.vision.feed_forward_length", 0)
    patch = max(_projector_int(md, "clip.vision.patch_size", 16), 1)
    n_head = _projector_int(md, "clip.vision.attention.head_count", 16)
    n_pos = (projector_warmup_image(mmproj) // patch) ** 2
    kq = 0 if flash_attn else n_pos * n_pos * n_head
    return 4 * (max(3 * n_ff, 4 * n_embd) * n_pos + kq)


def gpu_output_phase_bytes(
    hp: ModelHparams, kv_sizes: tuple[int, ...], n_ubatch: int, flash_attn: bool
) -> int:
    """The device compute peak at the output layer on a GPU backend.

    A GPU backend reserves the graph with every token of the ubatch as an output, so the
    logits F32[n_vocab, n_ubatch] live in the device compute buffer beside the last layer's
    residual stream (4 x n_embd floats per token) and the masks. Read off llama.cpp's own
    breakdown for an RPC device, which the scheduler places exactly as a GPU
    (`llama-fit-params --rpc`, tests/rpc; Qwen3-Coder-30B ub 512: 316 MiB, Llama-3.1-8B
    ub 1024: 597, Qwen3-32B ub 512: 352 — each within 1 MiB), and held against real logs
    (shared/data/gpu-compute-logs.md: Vulkan on Strix Halo 300.75 MiB, Vulkan on an RTX 4080
    613.01 MiB; tests/test_gpu_compute.py).
    """
    masks = mask_bytes(kv_sizes, n_ubatch, flash_attn)
    held = deepstack_held_floats(hp.n_embd, hp.n_embd_inp)
    return 4 * n_ubatch * (hp.n_vocab + 4 * hp.n_embd + held) + masks


def deepstack_held_floats(n_embd: int, n_embd_inp: int) -> int:
    """Floats per token a deepstack model (qwen3vl, qwen3vlmoe) holds under the output phase on
    a GPU backend.

    llama-graph.cpp build_inp_embd builds every input branch n_embd_inp wide (the padded token
    rows, the vector input, the mixed batch's copy and its set_rows) and ggml_build_forward_select
    keeps them all in the graph; src/models/qwen3vl.cpp adds views of that input to the first
    n_deepstack layers. ggml-alloc leaves those blocks as holes under the logits, which land
    above them. Fitted on llama.cpp's RPC breakdown (llama-fit-params --rpc, FA on, n_embd 1024,
    n_vocab 65,536, ubatch 512; tests/rpc): 7, 14.5, 24.5 and 44.5 x n_embd for 1, 2, 3 and 5
    deepstack layers, here 9.5 x layers - 3.5 (within 1 x n_embd); Qwen3-VL-32B (3 layers)
    ubatch 512: 590 MiB measured, 374 before (the layer phase), 586 with it.
    """
    layers = n_embd_inp // n_embd - 1 if n_embd else 0
    return (19 * layers - 7) * n_embd // 2 if layers > 0 else 0


def gpu_host_compute_range(
    hp: ModelHparams, kv_sizes: tuple[int, ...], n_ubatch: int, flash_attn: bool
) -> tuple[int, int]:
    """The host-side compute buffer of a GPU backend (CUDA_Host, Vulkan_Host), (low, high).

    ggml-backend.cpp ggml_backend_sched_split_graph assigns every graph input
    (GGML_TENSOR_FLAG_INPUT) to the last backend, the CPU, and ops on weights in host memory
    (the token embeddings' get_rows) run there too; ggml-alloc sizes that split's buffer. It
    holds, staged for upload:
    - every KQ mask the graph builds (llama-graph.cpp build_attn_inp_kq_mask: F16 with flash
      attention, F32 without), the full cache's and the windowed one's (iSWA: gemma3, gpt-oss;
      chunked: llama4), `mask_bytes`;
    - the input embeddings, 3 x F32[n_embd_inp, ubatch] (n_embd_inp: qwen3vl's deepstack width);
    - gemma3n's per-layer inputs (src/models/gemma3n.cpp get_per_layer_inputs: the get_rows of
      per_layer_token_embd, F32[n_embd_altup x n_layer, ubatch]) and one more n_embd;
    - without flash attention, each cache's V write indices (`v_idxs_bytes`);
    - DSA models' indexer mask (`families.dsa.indexer_mask_bytes`);
    DeepSeek-V4 stages its own inputs and masks (`families.deepseek4.host_input_bytes`).
    The RPC oracle (llama-fit-params --rpc, tests/rpc) keeps one more F32[n_embd, ubatch] than
    real GPU logs show (tests/data/gpu_compute_logs.toml: Llama-3.1-8B ub 1024 FA on Vulkan
    80.01 MiB = 48 + 32; Qwen3-Coder-30B ub 512 16.02 MiB = 12 + 4): low is the real GPU's
    figure, high the RPC oracle's (every tests/rpc case within 1 MiB).
    """
    if hp.compress_ratios:  # DeepSeek-V4 (estimate/families/deepseek4.py)
        cells = deepseek4_cells(max(kv_sizes, default=0), hp.n_swa, n_ubatch)
        high = deepseek4_host_bytes(hp.n_embd, cells, n_ubatch, flash_attn)
        return high - 4 * n_ubatch * hp.n_embd, high
    width = max(hp.n_embd_inp, hp.n_embd)
    floats = 3 * width
    if hp.arch == "gemma3n":
        floats += hp.n_embd + hp.n_embd_altup * hp.n_layer
    low = 4 * n_ubatch * floats + mask_bytes(kv_sizes, n_ubatch, flash_attn)
    if hp.arch != msa.ARCH:  # a DSA indexer's mask; MSA stages none at the worst-case reserve
        low += indexer_mask_bytes(max(kv_sizes, default=0), n_ubatch, hp.has_indexer)
    low += v_idxs_bytes(hp, len(kv_sizes), n_ubatch, flash_attn)
    return low, low + 4 * n_ubatch * hp.n_embd


def v_idxs_bytes(hp: ModelHparams, n_caches: int, n_ubatch: int, flash_attn: bool) -> int:
    """The V cache's write indices, a graph input per cache: without flash attention the V
    cache is transposed and llama-kv-cache.cpp build_input_v_idxs makes one I64 per element,
    [n_ubatch x n_embd_v_gqa_max] (the widest layer's KV heads x V width, llama-hparams.cpp).
    An MLA cache keeps no V. llama.cpp's RPC breakdown (tests/rpc): Llama-3.1-8B 4 MiB per 512
    tokens, Gemma-4-31B's two caches 32 MiB, beside the inputs and masks."""
    if flash_attn or not hp.has_v:
        return 0
    width = max(
        (
            kv * v
            for kv, v, rec in zip(hp.n_head_kv, hp.head_v, hp.is_recurrent, strict=True)
            if not rec
        ),
        default=0,
    )
    return 8 * n_ubatch * width * n_caches


def gpu_host_compute_bytes(
    hp: ModelHparams, kv_sizes: tuple[int, ...], n_ubatch: int, flash_attn: bool
) -> int:
    """The host-side compute buffer of a GPU backend: `gpu_host_compute_range`'s low end, the
    figure real GPU logs show."""
    return gpu_host_compute_range(hp, kv_sizes, n_ubatch, flash_attn)[0]
