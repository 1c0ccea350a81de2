"""The memory estimate: (model, runtime settings) -> every buffer llama.cpp would allocate.

Sources (llama.cpp, read for facts):
- weights: the tensor table; placement from src/llama-model.cpp load_tensors: input-layer
  tensors (token_embd, gemma3n's per_layer_token_embd: LLM_TENSOR_LAYER_INPUT in
  src/llama-arch.cpp) stay on the CPU, repeating layers il >= i_gpu_start = max(n_layer + 1 -
  ngl, 0) are offloaded, and the output layer counts inside ngl (offloaded as soon as ngl >= 1).
- KV cache: src/llama-context.cpp (n_ctx_seq = n_ctx / n_seq unless kv_unified, padded to 256;
  n_ubatch = min(n_ubatch, n_batch, n_ctx)), src/llama-kv-cache.cpp (per layer
  row_size(type_k, n_embd_k_gqa(il)) x cells x streams, same for V; MLA caches K only),
  src/llama-kv-cache-iswa.cpp (SWA and chunked layers keep PAD(min(n_ctx_seq, n_swa*n_seq' +
  n_ubatch), 256) cells with n_seq' = n_seq when unified else 1; --swa-full keeps n_ctx_seq).
- recurrent state: src/llama-memory-recurrent.cpp (f32 r and s rows per sequence per layer).
- output buffer: src/llama-context.cpp output_reserve (logits n_vocab x n_seq_max f32, host).
- compute buffer: the ggml-alloc peak of the worst-case ubatch graph (`compute.py`).
Checked against llama.cpp's CPU build by tests/oracle (model and context to the MiB).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from vramtui.core.errors import SettingsError
from vramtui.core.estimate.breakdown import Buffer, MemoryBreakdown
from vramtui.core.estimate.compute import (
    compute_bytes,
    projector_compute_bytes,
)
from vramtui.core.estimate.draft import draft_buffers, draft_settings
from vramtui.core.estimate.families import gemma4, msa
from vramtui.core.estimate.families.deepseek4 import layer_cache_bytes, raw_cells
from vramtui.core.estimate.gpu_compute import GPU_BACKENDS, projector_buffer
from vramtui.core.estimate.gpu_compute import compute_buffers as gpu_compute_buffers
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.estimate.placement import apply_overrides, layers_on_device
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.ggml_types import GGMLType, ggml_type_by_name
from vramtui.core.gguf.spec import ModelSpec, layer_index
from vramtui.core.sizes import round_up
from vramtui.core.vocab import BufferKind, Place

KV_PAD = 256  # llama.cpp pads the cache (and n_ctx per sequence) to 256 cells (PR #17046)
MIB = 1024 * 1024

# Input-layer tensors besides token_embd (src/llama-arch.cpp LLM_TENSOR_LAYER_INPUT): kept on
# the CPU like the token embeddings.
_INPUT_TENSORS = ("token_embd", "per_layer_token_embd")

# Architectures that create the tied output (a TENSOR_DUPLICATED token_embd) before token_embd
# itself (src/models/gemma3n.cpp load_arch_tensors). llama.cpp reuses an existing tensor of the
# same buffer type only when the original was created first, so here the CPU holds two copies.
_OUTPUT_BEFORE_EMBD = frozenset({"gemma3n", "gemma4"})

__all__ = [
    "KV_PAD",
    "CacheLayout",
    "cache_layout",
    "compute_bytes",
    "estimate_memory",
    "kv_cells",
    "mask_sizes",
    "projector_compute_bytes",
    "resolve_flash_attn",
]


@dataclass(frozen=True, slots=True)
class _Static:
    """Per-spec data the estimate reuses on every call (computed once per ModelSpec)."""

    hp: ModelHparams
    layer_bytes: tuple[int, ...]  # weights per repeating block
    input_bytes: int  # token_embd (+ its norm, per-layer embeddings): always on the host
    output_bytes: int  # output layer: output.weight (or the tied copy) + output_norm
    other_bytes: int  # tensors outside blocks that are neither input nor output
    tied_output: bool
    active_bytes: int  # weights read per generated token
    max_layer_bytes: int
    n_tensors: int
    mmproj_bytes: int
    embd_bytes: int


_CACHE: dict[int, tuple[weakref.ref[ModelSpec], _Static]] = {}


def _static(spec: ModelSpec) -> _Static:
    key = id(spec)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is spec:
        return hit[1]
    st = _build_static(spec, ModelHparams.from_spec(spec))
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[key] = (weakref.ref(spec), st)
    return st


def _block_of(name: str) -> int:
    return layer_index(name)


def _build_static(spec: ModelSpec, hp: ModelHparams) -> _Static:
    n_loaded = hp.n_layer - hp.n_nextn
    layer = [0] * hp.n_layer
    input_b = output_b = other_b = active = embd_row = embd_bytes = 0
    has_output = False
    for t in spec.tensors:
        b, name = t.n_bytes, t.name
        if name.startswith("blk."):
            il = _block_of(name)
            if n_loaded <= il < hp.n_layer:
                continue  # skipped NextN block: in the file, never loaded
            if 0 <= il < n_loaded:
                layer[il] += b
            else:
                other_b += b
            if "_exps" in name and hp.n_expert > 0:
                active += b * max(hp.n_expert_used, 1) // hp.n_expert
            elif ".nextn." not in name:
                active += b
        elif name.split(".", 1)[0] in _INPUT_TENSORS:
            input_b += b
            if name == "token_embd.weight":
                embd_bytes, embd_row = b, b // max(hp.n_vocab, 1)
        elif name.startswith("output"):
            output_b += b
            active += b
            has_output = has_output or name == "output.weight"
        else:
            other_b += b
            active += b
    tied = not has_output and embd_bytes > 0
    # Reading the tied matrix per token is what generation does; one embedding row per token.
    active += (embd_bytes if tied else 0) + embd_row
    return _Static(
        hp=hp,
        layer_bytes=tuple(layer),
        input_bytes=input_b,
        output_bytes=output_b,
        other_bytes=other_b,
        tied_output=tied,
        active_bytes=active,
        max_layer_bytes=max(layer, default=0),
        n_tensors=len(spec.tensors),
        mmproj_bytes=spec.mmproj.weights_bytes if spec.mmproj is not None else 0,
        embd_bytes=embd_bytes,
    )


# Architectures llama.cpp never runs with flash attention (llama-context.cpp
# llama_init_from_model sets flash_attn_type to disabled for LLM_ARCH_GROK).
NO_FLASH_ATTN = frozenset({"grok"})


def resolve_flash_attn(setting: str, backend: str, hp: ModelHparams) -> bool:
    """llama.cpp's "auto": on when the device supports the FA op for the model's head dims.

    The CPU backend supports every head size; GPU backends (CUDA, Vulkan, ROCm, Metal) support
    the common ones (64..256, plus MLA 576/512 on CUDA/Metal). Auto resolves to on; the CPU
    oracle confirms it for K/V head dims that differ (deepseek2 without MLA: 192/128).
    Grok is the exception: llama.cpp forces it off whatever the setting (llama-context.cpp
    llama_init_from_model: "flash_attn is not compatible with Grok - forcing off").
    """
    del backend  # every backend llama.cpp ships supports FA for these models' head dims
    return setting != "off" and hp.arch not in NO_FLASH_ATTN


def _check_settings(hp: ModelHparams, s: RuntimeSettings, fa: bool) -> None:
    """Raise SettingsError for what llama.cpp refuses (llama-context.cpp)."""
    if not fa and ggml_type_by_name(s.cache_type_v).block_size > 1:
        raise SettingsError(
            f"cache-type-v {s.cache_type_v} needs flash-attn on (llama.cpp refuses a quantized "
            "V cache without flash attention)"
        )
    if (hp.is_mla or hp.compress_ratios) and s.cache_type_k != s.cache_type_v:
        # The MLA cache stores V as a view of K, DeepSeek-V4's caches are K-only
        # (llama-context.cpp refuses otherwise).
        raise SettingsError(
            f"cache-type-k {s.cache_type_k} and cache-type-v {s.cache_type_v} must match for "
            f"{hp.arch} ({'MLA' if hp.is_mla else 'K-only cache'}): llama.cpp refuses different "
            "K and V cache types"
        )


@dataclass(frozen=True, slots=True)
class CacheLayout:
    """Cache sizes (llama-context.cpp, llama-kv-cache-iswa.cpp) and layer placement
    (llama-model.cpp load_tensors) for one estimate."""

    n_seq: int
    n_stream: int
    n_ctx_seq: int
    n_ubatch: int
    cells_swa: int
    on_dev: tuple[bool, ...]
    output_on_dev: bool
    n_gpu_layers: int

    @property
    def n_ctx_total(self) -> int:
        return self.n_ctx_seq * self.n_stream


def kv_cells(n_tokens: int) -> int:
    """Cells the KV cache keeps (and a KQ mask spans) for `n_tokens` tokens: padded to 256."""
    return round_up(n_tokens, KV_PAD)


def cache_layout(hp: ModelHparams, s: RuntimeSettings, gpu: bool) -> CacheLayout:
    """Cells per sequence (full and sliding-window), ubatch and layer placement (module doc)."""
    n_seq, n_layer = s.parallel, hp.n_layer
    n_ctx = s.ctx_size or hp.n_ctx_train or 4096
    n_stream = 1 if s.kv_unified else n_seq
    n_ctx_seq = kv_cells(n_ctx if s.kv_unified else max(n_ctx // n_seq, 1))
    n_batch = min(s.batch_size, n_ctx_seq * n_stream)
    n_ubatch = min(s.ubatch_size, n_batch)
    swa_seq = n_seq if s.kv_unified else 1
    cells_swa = n_ctx_seq if s.swa_full else min(n_ctx_seq, kv_cells(hp.n_swa * swa_seq + n_ubatch))
    ngl = (n_layer + 1 if s.n_gpu_layers is None else s.n_gpu_layers) if gpu else 0
    on_dev, output_on_dev = layers_on_device(n_layer, ngl)
    return CacheLayout(
        n_seq=n_seq,
        n_stream=n_stream,
        n_ctx_seq=n_ctx_seq,
        n_ubatch=n_ubatch,
        cells_swa=cells_swa,
        on_dev=on_dev,
        output_on_dev=output_on_dev,
        n_gpu_layers=min(ngl, n_layer + 1),
    )


def _weight_buffers(st: _Static, lay: CacheLayout, s: RuntimeSettings, dev: str) -> list[Buffer]:
    w_dev = sum(b for b, d in zip(st.layer_bytes, lay.on_dev, strict=True) if d)
    w_host = sum(b for b, d in zip(st.layer_bytes, lay.on_dev, strict=True) if not d)
    w_host += st.input_bytes
    if lay.output_on_dev:
        w_dev += st.output_bytes + st.other_bytes
    else:
        w_host += st.output_bytes + st.other_bytes
    if st.tied_output and lay.output_on_dev:
        # llama.cpp creates the output matrix as a TENSOR_DUPLICATED copy of token_embd; on a
        # GPU it is a real second copy in device memory.
        w_dev += st.embd_bytes
    elif st.tied_output and st.hp.arch in _OUTPUT_BEFORE_EMBD:
        # In the host buffer the duplicate is the same tensor, unless the architecture makes
        # the output first (then llama.cpp allocates both; the CPU oracle shows the copy).
        w_host += st.embd_bytes
    host_label = "CPU_Mapped model buffer" if s.mmap else "CPU model buffer"
    return [
        Buffer(Place.DEVICE, BufferKind.WEIGHTS, w_dev, f"{dev} model buffer"),
        Buffer(Place.HOST, BufferKind.WEIGHTS, w_host, host_label),
    ]


def _deepseek4_layer(
    hp: ModelHparams, lay: CacheLayout, s: RuntimeSettings, tk: GGMLType, il: int
) -> tuple[int, int]:
    cells = raw_cells(lay.n_ctx_seq, hp.n_swa, lay.n_ubatch, s.swa_full)
    return layer_cache_bytes(
        hp.compress_ratios[il],
        hp.head_k[il],
        hp.n_embd_indexer,
        tk=tk,
        n_ctx_seq=lay.n_ctx_seq,
        raw_cells=cells,
        n_seq=lay.n_seq,
    )


def _cache_buffers(
    hp: ModelHparams, lay: CacheLayout, s: RuntimeSettings, dev: str, fa: bool
) -> list[Buffer]:
    tk, tv = ggml_type_by_name(s.cache_type_k), ggml_type_by_name(s.cache_type_v)
    kv_dev = kv_host = rs_dev = rs_host = 0
    # Without flash attention V is stored transposed, every layer's rows as wide as the widest
    # layer's (llama-kv-cache.cpp: v_trans ? n_embd_v_gqa_max() : n_embd_v_gqa(il), over all
    # layers): gemma4's sliding and full layers differ in width.
    v_max = max((v * h for v, h in zip(hp.head_v, hp.n_head_kv, strict=True)), default=0)
    for il in range(hp.n_layer):
        on_dev = lay.on_dev[il] and s.kv_offload
        if hp.compress_ratios:  # DeepSeek-V4's windowed + compressed caches (families/deepseek4)
            n, st = _deepseek4_layer(hp, lay, s, tk, il)
            kv_dev, kv_host = (kv_dev + n, kv_host) if on_dev else (kv_dev, kv_host + n)
            rs_dev, rs_host = (rs_dev + st, rs_host) if on_dev else (rs_dev, rs_host + st)
            continue
        if hp.is_recurrent[il]:
            n = 4 * (hp.n_embd_r + hp.n_embd_s) * lay.n_seq
            rs_dev, rs_host = (rs_dev + n, rs_host) if on_dev else (rs_dev, rs_host + n)
        # falcon-h1 layers are recurrent and cached both; gemma4-assistant reads the target's
        if not hp.has_kv[il] or not gemma4.owns_kv_cache(hp.arch):
            continue
        cells = (lay.cells_swa if hp.is_swa[il] else lay.n_ctx_seq) * lay.n_stream
        width = hp.n_head_kv[il]
        n = tk.row_bytes(hp.head_k[il] * width) * cells
        if hp.has_v:
            n += tv.row_bytes(hp.head_v[il] * width if fa else v_max) * cells
        if il < len(hp.has_indexer) and hp.has_indexer[il]:  # DSA indexer keys (families/dsa.py)
            n += tk.row_bytes(hp.n_embd_indexer) * cells
            # MSA's indexer cache also allocates one head of V (families/msa.py)
            n += tv.row_bytes(msa.indexer_v_width(hp.arch, hp.head_v[il])) * cells
        kv_dev, kv_host = (kv_dev + n, kv_host) if on_dev else (kv_dev, kv_host + n)
    return [
        Buffer(Place.DEVICE, BufferKind.KV_CACHE, kv_dev, f"{dev} KV buffer"),
        Buffer(Place.HOST, BufferKind.KV_CACHE, kv_host, "CPU KV buffer"),
        Buffer(Place.DEVICE, BufferKind.RECURRENT_STATE, rs_dev, f"{dev} RS buffer"),
        Buffer(Place.HOST, BufferKind.RECURRENT_STATE, rs_host, "CPU RS buffer"),
        # the output (logits) buffer: host, n_vocab x n_seq_max floats
        Buffer(Place.HOST, BufferKind.OUTPUT, 4 * hp.n_vocab * lay.n_seq, "CPU output buffer"),
    ]


def mask_sizes(hp: ModelHparams, lay: CacheLayout) -> tuple[int, ...]:
    """The cells each KQ mask of the graph spans: the full cache's, and the windowed cache's
    of an iSWA model (both masks are built even when their sizes agree).
    llama-graph.cpp build_attn_inp_kv_iswa makes both masks, but a mask no layer reads is no
    ancestor of the graph's output, so ggml_build_forward_expand leaves it out and ggml-alloc
    never places it: a model whose every attention layer is windowed keeps only the windowed
    mask (llama.cpp's dry run, tools/conformance: granite_swa and spark2_5 with a window on
    every layer, 44.77 MiB at -np 1 and -np 4)."""
    full = any(kv and not sw for kv, sw in zip(hp.has_kv, hp.is_swa, strict=True))
    sizes = [lay.n_ctx_seq] if full else []
    if hp.has_swa_cache:
        sizes.append(lay.cells_swa)
    return tuple(sizes)


def _compute_buffers(st: _Static, lay: CacheLayout, fa: bool, backend: str) -> list[Buffer]:
    """Compute buffers per backend (estimate/gpu_compute.py)."""
    return gpu_compute_buffers(
        st.hp,
        mask_sizes(st.hp, lay),
        lay.n_ubatch,
        fa,
        backend=backend,
        on_dev=lay.on_dev,
        output_on_dev=lay.output_on_dev,
        max_layer_bytes=st.max_layer_bytes,
        n_seqs=lay.n_seq,
    )


@dataclass(frozen=True)
class ProjectorSize:
    """The vision projector (mmproj) in memory: its weights, and the compute graph it
    allocates for one image. `loaded_bytes` is the breakdown's projector buffer (what `check`
    and the app's bars call "projector"); `weights_bytes` is the tensors alone."""

    weights_bytes: int
    compute_bytes: int

    @property
    def loaded_bytes(self) -> int:
        return self.weights_bytes + self.compute_bytes


def projector_size(mmproj: ModelSpec) -> ProjectorSize:
    return ProjectorSize(mmproj.weights_bytes, projector_compute_bytes(mmproj))


def estimate_memory(
    spec: ModelSpec, settings: RuntimeSettings, *, backend: str = "gpu"
) -> MemoryBreakdown:
    """Every buffer llama.cpp allocates for `spec` at `settings` on a `backend`.

    backend "cpu" is llama.cpp's CPU build (what the oracle checks: everything on the host);
    "gpu" is a GPU backend (Vulkan, ROCm, CUDA, Metal) with layers placed per n_gpu_layers;
    naming the backend ("vulkan", "metal", ...) adds its own compute-buffer ranges.
    Raises SettingsError for settings llama.cpp refuses (quantized V without flash attention,
    different K/V types on an MLA model).
    """
    if backend != "cpu" and backend not in GPU_BACKENDS:
        known = ", ".join(sorted(GPU_BACKENDS))
        raise SettingsError(f"backend {backend!r} is not one of cpu, {known}")
    st = _static(spec)
    hp, s, gpu = st.hp, settings, backend != "cpu"
    fa = resolve_flash_attn(s.flash_attn, backend, hp)
    _check_settings(hp, s, fa)
    lay = cache_layout(hp, s, gpu)
    dev = "GPU" if gpu else "CPU"
    buffers = _weight_buffers(st, lay, s, dev) + _cache_buffers(hp, lay, s, dev, fa)
    buffers += _compute_buffers(st, lay, fa, backend)
    buffers = apply_overrides(  # -ot, --cpu-moe, --n-cpu-moe (estimate/placement.py)
        spec,
        hp,
        s,
        buffers,
        on_dev=lay.on_dev,
        output_on_dev=lay.output_on_dev,
        gpu=gpu,
        n_ubatch=lay.n_ubatch,
    )
    if spec.draft is not None:  # --model-draft: the draft's own buffers (estimate/draft.py)
        buffers += draft_buffers(estimate_memory(spec.draft, draft_settings(s), backend=backend))
    if spec.mmproj is not None and st.mmproj_bytes:
        mm_place = Place.DEVICE if gpu and s.mmproj_offload else Place.HOST
        buffers.append(projector_buffer(spec.mmproj, st.mmproj_bytes, mm_place, fa))
    notes: list[str] = []
    if not hp.known_architecture:
        notes.append(f"architecture {hp.arch!r} is estimated with generic rules")
    if s.ctx_size and hp.n_ctx_train and s.ctx_size > hp.n_ctx_train:
        notes.append(f"ctx-size {s.ctx_size} exceeds the training context {hp.n_ctx_train}")
    return MemoryBreakdown(
        buffers=tuple(b for b in buffers if b.n_bytes > 0),
        settings=s,
        n_ctx=lay.n_ctx_total,
        n_layers=hp.n_layer,
        n_gpu_layers=lay.n_gpu_layers,
        flash_attn=fa,
        approximate=not hp.known_architecture or spec.synthesized,
        notes=tuple(notes),
        active_weights_bytes=st.active_bytes,
    )
