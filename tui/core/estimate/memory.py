"""The memory estimate: (model, runtime settings) -> every buffer llama.cpp would allocate.

Sources (llama.cpp, read for facts):
- weights: the tensor table; placement from src/llama-model.cpp load_tensors: the input layer
  (token_embd) stays on the CPU, repeating layers il >= i_gpu_start = max(n_layer + 1 - ngl, 0)
  are offloaded, and the output layer counts inside ngl (offloaded as soon as ngl >= 1).
- KV cache: src/llama-context.cpp (n_ctx_seq = n_ctx / n_seq unless kv_unified, padded to 256;
  n_ubatch = min(n_ubatch, n_batch, n_ctx)), src/llama-kv-cache.cpp (per layer
  row_size(type_k, n_embd_k_gqa(il)) x cells x streams, same for V; MLA caches K only),
  src/llama-kv-cache-iswa.cpp (SWA layers keep PAD(min(n_ctx_seq, n_swa*n_seq' + n_ubatch), 256)
  cells with n_seq' = n_seq when unified else 1; --swa-full keeps n_ctx_seq).
- recurrent state: src/llama-memory-recurrent.cpp (f32 r and s rows per sequence per layer).
- output buffer: src/llama-context.cpp output_reserve (logits n_vocab x n_seq_max f32, host).
- compute buffer: the ggml-alloc peak of the worst-case ubatch graph; the formula below was
  calibrated against llama.cpp's own dry run (tests/oracle) and is documented term by term.
Checked against llama.cpp's CPU build by tests/oracle (model and context to the MiB).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from tui.core.errors import SettingsError
from tui.core.estimate.breakdown import Buffer, MemoryBreakdown
from tui.core.estimate.hparams import ModelHparams
from tui.core.estimate.settings import RuntimeSettings
from tui.core.model.ggml_types import ggml_type_by_name
from tui.core.model.spec import ModelSpec
from tui.core.vocab import BufferKind, Place

KV_PAD = 256  # llama.cpp pads the cache (and n_ctx per sequence) to 256 cells (PR #17046)
MIB = 1024 * 1024


def _pad(n: int, a: int) -> int:
    return -(-n // a) * a


@dataclass(frozen=True, slots=True)
class _Static:
    """Per-spec data the estimate reuses on every call (computed once per ModelSpec)."""

    hp: ModelHparams
    layer_bytes: tuple[int, ...]  # weights per repeating block
    input_bytes: int  # token_embd (+ its norm): always on the host
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
    hp = ModelHparams.from_spec(spec)
    n_layer = hp.n_layer
    layer = [0] * n_layer
    input_b = output_b = other_b = 0
    active = 0
    embd_row = 0
    has_output = False
    embd_bytes = 0
    for t in spec.tensors:
        b = t.n_bytes
        name = t.name
        if name.startswith("blk."):
            parts = name.split(".", 2)
            try:
                il = int(parts[1])
            except ValueError:
                il = -1
            if 0 <= il < n_layer - hp.n_nextn:
                layer[il] += b
            elif n_layer - hp.n_nextn <= il < n_layer:
                continue  # skipped NextN block: in the file, never loaded
            else:
                other_b += b
            if "_exps" in name and hp.n_expert > 0:
                active += b * max(hp.n_expert_used, 1) // hp.n_expert
            elif ".nextn." not in name:
                active += b
        elif name.startswith("token_embd"):
            input_b += b
            if name == "token_embd.weight":
                embd_bytes = b
                embd_row = b // max(hp.n_vocab, 1)
        elif name.startswith("output"):
            output_b += b
            active += b
            if name == "output.weight":
                has_output = True
        else:
            other_b += b
            active += b
    tied = not has_output and embd_bytes > 0
    if tied:
        # Reading the tied matrix per token is what generation does.
        active += embd_bytes
    active += embd_row
    mm = spec.mmproj.weights_bytes if spec.mmproj is not None else 0
    st = _Static(
        hp=hp, layer_bytes=tuple(layer), input_bytes=input_b, output_bytes=output_b,
        other_bytes=other_b, tied_output=tied, active_bytes=active,
        max_layer_bytes=max(layer, default=0), n_tensors=len(spec.tensors), mmproj_bytes=mm,
        embd_bytes=embd_bytes,
    )  # fmt: skip
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[key] = (weakref.ref(spec), st)
    return st


def resolve_flash_attn(setting: str, backend: str, hp: ModelHparams) -> bool:
    """llama.cpp's "auto": on when the device supports the FA op for the model's head dims.

    The CPU backend supports every head size; GPU backends (CUDA, Vulkan, ROCm, Metal) support
    the common ones (64..256, plus MLA 576/512 on CUDA/Metal). Auto is resolved to on except
    where head dims differ between K and V without MLA (llama-context.cpp checks the op).
    """
    del backend, hp  # every backend llama.cpp ships supports FA for these models' head dims
    return setting != "off"


def compute_bytes(hp: ModelHparams, kv_sizes: tuple[int, ...], n_ubatch: int,
                  flash_attn: bool) -> int:  # fmt: skip
    """Peak of the ubatch graph's live tensors (ggml-alloc), in bytes, for the CPU backend.

    Calibrated against llama.cpp's dry run (tests/oracle; exact for dense, MoE and MLA at
    several ctx/ubatch settings, see bench/bench_oracle.py):
      masks     one KQ mask per distinct cache size (full, SWA): [n_kv, n_ubatch], F16 with
                flash attention, F32 without;
      base      5 x n_embd floats per token (residual stream, norms, inputs; qwen3vl adds
                its deepstack input width);
      FFN phase 3 x n_ff floats per token for a dense layer; for an MoE layer
                3 x n_ff_exp x n_used (gate, up, act) + n_embd x n_used (weighted outputs);
                the largest layer counts (leading dense blocks included);
      Mamba-1   5 x d_inner floats per token for a recurrent layer (within 3 %);
      attention phase Q, K, V and the output (2 x n_head x head_k + 2 x n_head_kv x head_k)
                per token, plus without flash attention KQ = F32[n_kv, n_ubatch, n_head].
    The peak is masks + max(base + FFN phase, base + attention phase). The logits tensor does
    not set the peak (llama.cpp reserves the graph with few outputs).
    """
    ub = n_ubatch
    n_embd = hp.n_embd
    masks = sum((2 if flash_attn else 4) * n * _pad(ub, 64) for n in kv_sizes)
    base = 5 * n_embd
    if hp.n_embd_inp > n_embd:  # qwen3vl deepstack: wider input embeddings kept alive
        base += 4 * (hp.n_embd_inp - n_embd) + 5 * n_embd
    # gpt-oss's biased expert matmuls leave no separate weighted-output tensor at the peak
    weighted = 0 if hp.arch == "gpt-oss" else n_embd
    ffn = 0
    n_used = max(hp.n_expert_used, 1)
    for il in range(hp.n_layer - hp.n_nextn):
        if hp.n_expert and il >= hp.n_leading_dense:
            f = 3 * (hp.n_ff_exp or hp.n_ff[il]) * n_used + weighted * n_used
        else:
            f = 3 * hp.n_ff[il]
        if hp.is_recurrent[il] and hp.arch == "mamba":
            f = max(f, 5 * hp.d_inner)  # in_proj (2x), conv, scan output, gate: d_inner each
        ffn = max(ffn, f)
    attn = 0
    kq = 0
    max_kv = max(kv_sizes, default=0)
    for il in range(hp.n_layer):
        if not hp.has_kv[il]:
            continue
        nq = hp.n_head[il] * hp.head_k[il]
        attn = max(attn, 2 * nq + 2 * hp.n_head_kv[il] * hp.head_k[il])
        if not flash_attn:
            kq = max(kq, 4 * max_kv * ub * hp.n_head[il])
    return masks + max(4 * ub * (base + ffn), 4 * ub * (base + attn) + kq)


def estimate_memory(
    spec: ModelSpec, settings: RuntimeSettings, *, backend: str = "gpu"
) -> MemoryBreakdown:
    """Every buffer llama.cpp allocates for `spec` at `settings` on a `backend`.

    backend "cpu" is llama.cpp's CPU build (what the oracle checks: everything on the host);
    "gpu" is a GPU backend (Vulkan, ROCm, CUDA, Metal) with layers placed per n_gpu_layers.
    Raises SettingsError for settings llama.cpp refuses (quantized V without flash attention,
    different K/V types on an MLA model).
    """
    if backend not in {"cpu", "gpu"}:
        raise SettingsError(f"backend {backend!r} is not one of cpu, gpu")
    st = _static(spec)
    hp = st.hp
    s = settings
    n_layer = hp.n_layer
    gpu = backend == "gpu"
    fa = resolve_flash_attn(s.flash_attn, backend, hp)
    tk = ggml_type_by_name(s.cache_type_k)
    tv = ggml_type_by_name(s.cache_type_v)
    if not fa and tv.block_size > 1:
        raise SettingsError(
            f"cache-type-v {s.cache_type_v} needs flash-attn on (llama.cpp refuses a quantized "
            "V cache without flash attention)"
        )

    if hp.is_mla and s.cache_type_k != s.cache_type_v:
        # The MLA cache stores V as a view of K (llama-context.cpp refuses otherwise).
        raise SettingsError(
            f"cache-type-k {s.cache_type_k} and cache-type-v {s.cache_type_v} must match for "
            f"{hp.arch} (MLA): llama.cpp refuses different K and V cache types"
        )

    # -- context sizes (llama-context.cpp)
    n_seq = s.parallel
    n_ctx = s.ctx_size or hp.n_ctx_train or 4096
    n_stream = 1 if s.kv_unified else n_seq
    n_ctx_seq = _pad(n_ctx if s.kv_unified else max(n_ctx // n_seq, 1), KV_PAD)
    n_ctx_total = n_ctx_seq * n_stream
    n_batch = min(s.batch_size, n_ctx_total)
    n_ubatch = min(s.ubatch_size, n_batch)
    swa_seq = n_seq if s.kv_unified else 1
    cells_swa = (
        n_ctx_seq if s.swa_full else min(n_ctx_seq, _pad(hp.n_swa * swa_seq + n_ubatch, KV_PAD))
    )

    # -- which layers live on the device (llama-model.cpp load_tensors)
    ngl = n_layer + 1 if s.n_gpu_layers is None else s.n_gpu_layers
    if not gpu:
        ngl = 0
    i_gpu_start = max(n_layer + 1 - ngl, 0)
    on_dev = [gpu and il >= i_gpu_start for il in range(n_layer)]
    output_on_dev = gpu and n_layer >= i_gpu_start
    n_gpu_layers = min(ngl, n_layer + 1)

    buffers: list[Buffer] = []
    dev_label = "GPU" if gpu else "CPU"

    def add(place: Place, kind: BufferKind, n: int, label: str) -> None:
        if n > 0:
            buffers.append(Buffer(place, kind, n, label))

    # -- weights
    w_dev = sum(b for b, d in zip(st.layer_bytes, on_dev, strict=True) if d)
    w_host = sum(b for b, d in zip(st.layer_bytes, on_dev, strict=True) if not d)
    w_host += st.input_bytes
    if output_on_dev:
        w_dev += st.output_bytes + st.other_bytes
    else:
        w_host += st.output_bytes + st.other_bytes
    if st.tied_output and output_on_dev:
        # llama.cpp creates the output matrix as a TENSOR_DUPLICATED copy of token_embd; in
        # the host buffer it is the same data (the oracle shows no second copy on the CPU),
        # on a GPU it is a real second copy in device memory.
        w_dev += st.embd_bytes
    add(Place.DEVICE, BufferKind.WEIGHTS, w_dev, f"{dev_label} model buffer")
    add(
        Place.HOST,
        BufferKind.WEIGHTS,
        w_host,
        "CPU model buffer" if not s.mmap else "CPU_Mapped model buffer",
    )

    # -- KV cache and recurrent state
    kv_dev = kv_host = rs_dev = rs_host = 0
    for il in range(n_layer):
        dev = on_dev[il] and s.kv_offload
        if hp.is_recurrent[il]:
            n = 4 * (hp.n_embd_r + hp.n_embd_s) * n_seq
            if dev:
                rs_dev += n
            else:
                rs_host += n
            continue
        if not hp.has_kv[il]:
            continue
        cells = (cells_swa if hp.is_swa[il] else n_ctx_seq) * n_stream
        width = hp.n_head_kv[il]
        n = tk.row_bytes(hp.head_k[il] * width) * cells
        if hp.has_v:
            n += tv.row_bytes(hp.head_v[il] * width) * cells
        if dev:
            kv_dev += n
        else:
            kv_host += n
    add(Place.DEVICE, BufferKind.KV_CACHE, kv_dev, f"{dev_label} KV buffer")
    add(Place.HOST, BufferKind.KV_CACHE, kv_host, "CPU KV buffer")
    add(Place.DEVICE, BufferKind.RECURRENT_STATE, rs_dev, f"{dev_label} RS buffer")
    add(Place.HOST, BufferKind.RECURRENT_STATE, rs_host, "CPU RS buffer")

    # -- output (logits) buffer: host, n_vocab x n_seq_max floats
    add(Place.HOST, BufferKind.OUTPUT, 4 * hp.n_vocab * n_seq, "CPU output buffer")

    # -- compute buffers
    kv_sizes = tuple(sorted({
        (cells_swa if sw else n_ctx_seq) for hk, sw in zip(hp.has_kv, hp.is_swa, strict=True) if hk
    }))  # fmt: skip
    n_kv = max(kv_sizes, default=0)
    comp = compute_bytes(hp, kv_sizes, n_ubatch, fa)
    if gpu and any(on_dev):
        # GPU backends allocate the same graph peak in device memory, plus a host-side
        # compute buffer (CUDA_Host / Vulkan_Host) for graph inputs kept on the CPU (the
        # token_embd rows, positions, the mask staging): one F32[n_embd, ubatch] + mask.
        # With layers left on the CPU, op offload (llama.cpp PR #6083, batches >= 32)
        # copies a host layer's weights into the device compute buffer: gguf-parser-go #45
        # measured 1.2-2.7x larger device compute at partial offload.
        extra = st.max_layer_bytes if not all(on_dev) else 0
        add(Place.DEVICE, BufferKind.COMPUTE, comp + extra, f"{dev_label} compute buffer")
        host_comp = 4 * hp.n_embd * n_ubatch + 4 * n_kv * _pad(n_ubatch, 64)
        add(Place.HOST, BufferKind.COMPUTE, host_comp, "CPU_Host compute buffer")
    else:
        add(Place.HOST, BufferKind.COMPUTE, comp, "CPU compute buffer")

    # -- multimodal projector
    if spec.mmproj is not None and st.mmproj_bytes:
        mm_place = Place.DEVICE if gpu and s.mmproj_offload else Place.HOST
        add(mm_place, BufferKind.PROJECTOR, st.mmproj_bytes + projector_compute_bytes(spec.mmproj),
            "mmproj")  # fmt: skip

    notes: list[str] = []
    approximate = not hp.known_architecture or spec.synthesized
    if not hp.known_architecture:
        notes.append(f"architecture {hp.arch!r} is estimated with generic rules")
    if s.ctx_size and hp.n_ctx_train and s.ctx_size > hp.n_ctx_train:
        notes.append(f"ctx-size {s.ctx_size} exceeds the training context {hp.n_ctx_train}")
    return MemoryBreakdown(
        buffers=tuple(buffers), settings=s, n_ctx=n_ctx_total, n_layers=n_layer,
        n_gpu_layers=n_gpu_layers, flash_attn=fa, approximate=approximate,
        notes=tuple(notes), active_weights_bytes=st.active_bytes,
    )  # fmt: skip


def projector_compute_bytes(mmproj: ModelSpec) -> int:
    """The vision encoder's graph for one image (gguf-parser-go estimateLLaMACppRunInProjector:
    2 x F32[n_embd, n_pos] twice + KQ F32[n_pos, n_pos, n_head])."""
    md = mmproj.metadata

    def get(key: str, default: int) -> int:
        v = md.get(key, default)
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default

    n_embd = get("clip.vision.embedding_length", 1024)
    image = get("clip.vision.image_size", 768)
    patch = max(get("clip.vision.patch_size", 16), 1)
    n_head = get("clip.vision.attention.head_count", 16)
    n_pos = (image // patch) ** 2
    return 4 * (4 * n_embd * n_pos + n_pos * n_pos * n_head)
