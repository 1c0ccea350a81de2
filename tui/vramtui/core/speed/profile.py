"""What the speed model needs to know about a model: bytes and FLOPs per token, by weight class.

Computed once per ModelSpec (cached like the memory estimate's static data) from the tensor
table and the hyperparameters the estimate already reads (`vramtui.core.estimate.hparams`):
- weights per repeating layer, split into dense tensors and MoE expert tensors (names with
  `_exps`, llama.cpp's `ffn_*_exps`), each by ggml type; a token reads the dense tensors whole
  and `n_expert_used / n_expert` of the expert tensors (llama.cpp's mul_mat_id reads only the
  routed experts' rows);
- the output matrix (or the tied token embedding llama.cpp duplicates as output); the input
  embedding is a row lookup per token and is not charged;
- the KV cache per cached token, full-attention and sliding-window layers apart (SWA layers
  never hold more than the window), and the recurrent state rows read and written per token;
- attention FLOPs per cached position: 2 x n_head x (head_k + head_v) per layer (QK^T and
  softmax(QK^T)V); MLA (deepseek2 family) attends over the 576-wide latent with a 512-wide value
  (kv_lora_rank), which is what llama.cpp's MLA path multiplies; the FLOPs of layers with heads
  wider than WIDE_HEAD are also counted apart;
- the weight matrices per repeating layer (every tensor of two or more dimensions: a matmul,
  mul_mat_id or convolution kernel each when a token is decoded);
- the vision projector (mmproj): ViT width, depth, patch size and spatial merge.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.gguf.spec import ModelSpec, TensorInfo, layer_index

# Attention heads wider than this (MLA's 576-wide latent, Gemma 4's 512-wide global heads) leave
# the head sizes llama.cpp's attention kernels are built around: ggml-vulkan's flash-attention
# tuning switches to smaller row blocks from 256 (get_fa_tuning_params_coopmat2, `hsk >= 256`),
# and ggml-cuda's fattn.cu handles 320, 512 and 576 as special cases beside 64..256. The speed
# model prices their FLOPs with a constant of their own (features.decode_terms "af.wide"),
# fitted on GLM 4.7 Flash's and Gemma 4's rows.
WIDE_HEAD = 256

# Weight classes: how a backend computes with a tensor of that type.
FLOAT_TYPES = frozenset({"F32", "F16"})
BF16 = "bf16"
F16 = "f16"
QUANT = "q"
MXFP4 = "mxfp4"


def weight_class(type_name: str) -> str:
    """ "bf16" (needs bf16 support to run fast), "f16" (F16/F32), "mxfp4" (its own kernels:
    FP4 values with a shared power-of-two scale) or "q" (the integer block quants)."""
    if type_name == "BF16":
        return BF16
    if type_name in FLOAT_TYPES:
        return F16
    if type_name == "MXFP4":
        return MXFP4
    return QUANT


@dataclass(frozen=True, slots=True)
class VisionProfile:
    """The vision encoder of a projector file (clip.vision.* keys)."""

    params: int
    n_layer: int
    n_embd: int
    patch_size: int
    merge: int  # spatial merge (Qwen-VL: 2x2 patches -> one token)
    image_size: int  # the encoder's native square size (used when tokens are not dynamic)
    dynamic: bool  # Qwen-VL family: token count follows the image size (8..4096 tokens)


@dataclass(frozen=True, slots=True)
class ModelProfile:
    n_layers: int  # repeating blocks that are loaded (NextN/MTP blocks excluded)
    # Repeating layers, all layers together: bytes a decoded token reads and matrix params it
    # multiplies, by (role, weight class); role "dense" or "expert" (active share only).
    active_bytes: dict[tuple[str, str], int]
    active_params: dict[tuple[str, str], int]
    dense_bytes: int  # all dense weights of the repeating layers
    expert_bytes: int  # all expert weights of the repeating layers (every expert)
    expert_bytes_by_class: dict[str, int]
    output_bytes: int
    output_params: int
    output_class: str
    q6k_bytes: int  # active bytes stored as Q6_K (layers and output)
    n_expert: int
    n_expert_used: int
    n_moe_layers: int  # repeating layers with expert tensors
    matrices_per_layer: float  # weight tensors of 2+ dimensions per repeating layer, mean
    n_recurrent_layers: int  # layers with a recurrent state (SSM, gated delta net, short conv)
    # KV cache elements per cached token (summed over layers); K and V apart for cache types
    kv_full_k: int
    kv_full_v: int
    kv_swa_k: int
    kv_swa_v: int
    n_swa: int
    recurrent_floats: int  # recurrent state floats per sequence (all recurrent layers)
    attn_full: int  # attention FLOPs per token per cached position, full-attention layers
    attn_swa: int  # the same for sliding-window layers (positions capped at n_swa)
    attn_wide: int  # the share of attn_full in layers whose heads are wider than WIDE_HEAD
    heads_full: int  # attention scores per token per cached position, full-attention layers
    heads_swa: int  # the same for sliding-window layers
    vision: VisionProfile | None

    @property
    def layer_bytes(self) -> int:
        """Bytes of the repeating layers a decoded token reads."""
        return sum(self.active_bytes.values())

    def params_of(self, cls: str) -> int:
        """Matrix params a token multiplies in weight class `cls` (dense and routed experts)."""
        return self.active_params.get(("dense", cls), 0) + self.active_params.get(
            ("expert", cls), 0
        )

    @property
    def is_moe(self) -> bool:
        return self.n_expert > 0 and self.expert_bytes > 0

    @property
    def active_param_count(self) -> int:
        return sum(self.active_params.values()) + self.output_params


_CACHE: dict[int, tuple[weakref.ref[ModelSpec], ModelProfile]] = {}


def model_profile(spec: ModelSpec) -> ModelProfile:
    """The profile of `spec`, computed once per spec object."""
    hit = _CACHE.get(id(spec))
    if hit is not None and hit[0]() is spec:
        return hit[1]
    prof = _build(spec)
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[id(spec)] = (weakref.ref(spec), prof)
    return prof


@dataclass(slots=True)
class _Weights:
    """The tensor table summed by role and weight class (module doc: weights, output)."""

    share: float  # the routed experts' share of the expert tensors a token reads
    act_b: dict[tuple[str, str], int] = field(default_factory=dict)
    act_p: dict[tuple[str, str], int] = field(default_factory=dict)
    exp_by_class: dict[str, int] = field(default_factory=dict)
    moe_layers: set[int] = field(default_factory=set)
    dense_total: int = 0
    expert_total: int = 0
    out_b: int = 0
    out_p: int = 0
    out_class: str = F16
    q6k: int = 0
    n_matrices: int = 0  # weight tensors of 2+ dimensions in the loaded repeating layers

    def add_layer_tensor(self, t: TensorInfo, il: int, expert: bool) -> None:
        cls = weight_class(t.type_name)
        if expert:
            key, frac = ("expert", cls), self.share
            self.moe_layers.add(il)
            self.expert_total += t.n_bytes
            self.exp_by_class[cls] = self.exp_by_class.get(cls, 0) + t.n_bytes
        else:
            key, frac = ("dense", cls), 1.0
            self.dense_total += t.n_bytes
        self.act_b[key] = self.act_b.get(key, 0) + round(t.n_bytes * frac)
        if t.type_name == "Q6_K":
            self.q6k += round(t.n_bytes * frac)
        if len(t.shape) >= 2:  # matrices multiply; norms, biases and sinks do not
            self.act_p[key] = self.act_p.get(key, 0) + round(t.n_elements * frac)
            self.n_matrices += 1

    def set_output(self, t: TensorInfo) -> None:
        """The output matrix (or the tied token embedding read as the output)."""
        self.out_p = t.n_elements
        self.out_class = weight_class(t.type_name)
        self.q6k += t.n_bytes if t.type_name == "Q6_K" else 0


def _weights(spec: ModelSpec, hp: ModelHparams) -> _Weights:
    n_loaded = hp.n_layer - hp.n_nextn
    w = _Weights(share=max(hp.n_expert_used, 1) / hp.n_expert if hp.n_expert > 0 else 1.0)
    embd = None
    for t in spec.tensors:
        name = t.name
        if name.startswith("blk."):
            il = layer_index(name)
            if il >= n_loaded or ".nextn." in name:
                continue
            w.add_layer_tensor(t, il, "_exps" in name and hp.n_expert > 0)
        elif name.startswith("output"):
            w.out_b += t.n_bytes
            if name == "output.weight":
                w.set_output(t)
        elif name == "token_embd.weight":
            embd = t
    if w.out_p == 0 and embd is not None:  # tied: llama.cpp reads token_embd as the output
        w.out_b += embd.n_bytes
        w.set_output(embd)
    return w


@dataclass(slots=True)
class _Attention:
    """KV elements, attention FLOPs and scores per cached position, full and SWA apart."""

    k_full: int = 0
    v_full: int = 0
    k_swa: int = 0
    v_swa: int = 0
    a_full: int = 0
    a_swa: int = 0
    a_wide: int = 0
    h_full: int = 0
    h_swa: int = 0
    n_rec: int = 0


def _attention(spec: ModelSpec, hp: ModelHparams) -> _Attention:
    a = _Attention()
    kv_lora = _meta_int(spec, "attention.kv_lora_rank", 512)
    for il in range(hp.n_layer):
        if hp.is_recurrent[il]:
            a.n_rec += 1
        if not hp.has_kv[il]:
            continue
        k = hp.head_k[il] * hp.n_head_kv[il]
        v = hp.head_v[il] * hp.n_head_kv[il] if hp.has_v else 0
        head_v = hp.head_v[il] if hp.has_v else kv_lora
        flops = 2 * hp.n_head[il] * (hp.head_k[il] + head_v)
        if hp.is_swa[il]:
            a.k_swa, a.v_swa, a.a_swa = a.k_swa + k, a.v_swa + v, a.a_swa + flops
            a.h_swa += hp.n_head[il]
        else:
            a.k_full, a.v_full, a.a_full = a.k_full + k, a.v_full + v, a.a_full + flops
            a.h_full += hp.n_head[il]
            if hp.head_k[il] > WIDE_HEAD:
                a.a_wide += flops
    return a


def _build(spec: ModelSpec) -> ModelProfile:
    hp = ModelHparams.from_spec(spec)
    w = _weights(spec, hp)
    a = _attention(spec, hp)
    return ModelProfile(
        n_layers=hp.n_layer - hp.n_nextn,
        active_bytes=w.act_b,
        active_params=w.act_p,
        dense_bytes=w.dense_total,
        expert_bytes=w.expert_total,
        expert_bytes_by_class=w.exp_by_class,
        output_bytes=w.out_b,
        output_params=w.out_p,
        output_class=w.out_class,
        q6k_bytes=w.q6k,
        n_expert=hp.n_expert,
        n_expert_used=max(hp.n_expert_used, 1) if hp.n_expert else 0,
        n_moe_layers=len(w.moe_layers),
        matrices_per_layer=w.n_matrices / max(hp.n_layer - hp.n_nextn, 1),
        n_recurrent_layers=a.n_rec,
        kv_full_k=a.k_full,
        kv_full_v=a.v_full,
        kv_swa_k=a.k_swa,
        kv_swa_v=a.v_swa,
        n_swa=hp.n_swa,
        recurrent_floats=a.n_rec * (hp.n_embd_r + hp.n_embd_s),
        attn_full=a.a_full,
        attn_swa=a.a_swa,
        attn_wide=a.a_wide,
        heads_full=a.h_full,
        heads_swa=a.h_swa,
        vision=_vision(spec.mmproj) if spec.mmproj is not None else None,
    )


def _meta_int(spec: ModelSpec, key: str, default: int) -> int:
    v = spec.meta(key)
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else default


def _vision(mmproj: ModelSpec) -> VisionProfile:
    md = mmproj.metadata

    def get(key: str, default: int) -> int:
        v = md.get(key, default)
        return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else default

    proj = md.get("clip.projector_type", "")
    return VisionProfile(
        params=mmproj.n_params,
        n_layer=get("clip.vision.block_count", 24),
        n_embd=get("clip.vision.embedding_length", 1024),
        patch_size=max(get("clip.vision.patch_size", 14), 1),
        merge=max(get("clip.vision.spatial_merge_size", 1), 1),
        image_size=get("clip.vision.image_size", 336),
        dynamic=isinstance(proj, str) and proj.startswith("qwen"),
    )
