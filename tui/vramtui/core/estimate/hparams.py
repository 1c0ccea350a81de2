"""Per-layer hyperparameters the memory estimate needs, read from a ModelSpec's metadata.

Mirrors what llama.cpp derives in src/llama-model.cpp `load_hparams` (per architecture, now in
src/models/<arch>.cpp `load_arch_hparams`) and src/llama-hparams.cpp: per-layer KV head counts
(scalar or array), head dims (incl. the SWA variants), which layers use a sliding or chunked
window (`set_swa_pattern`), which layers own a KV cache (`n_layer_kv_from_start`), MLA (deepseek2
files with `key_length_mla`: K-only latent cache since PR #19067), recurrent layers and their
state widths (`n_embd_r` / `n_embd_s`), expert counts.
An architecture this module does not know gets the generic dense-GQA reading, marked
`known_architecture=False`, and never raises.
"""

from __future__ import annotations

from dataclasses import dataclass

from vramtui.core.estimate.families import gemma4, msa
from vramtui.core.estimate.families.deepseek4 import DEEPSEEK4, read_ratios
from vramtui.core.estimate.families.dsa import indexer_layers
from vramtui.core.estimate.families.generic_graph import GenericGraph, read_generic_graph
from vramtui.core.estimate.families.layers import layer_kinds
from vramtui.core.estimate.validate import check_layers, validate_spec
from vramtui.core.gguf.spec import MetaValue, ModelSpec, vocab_size

# Sliding-window period per architecture where the GGUF carries no pattern key
# (llama.cpp src/llama-model.cpp load_hparams: hparams.set_swa_pattern(N)).
# dense_first=False: layer il is SWA iff il % p < p - 1 (the last of each period is global).
SWA_PERIODS: dict[str, int] = {
    "gemma2": 2,
    "gemma3": 6,
    "cohere2": 4,
    "gpt-oss": 2,
    "llama4": 4,
    "gemma3n": 5,
    "gemma-embedding": 6,
    "olmo2": 4,
    "exaone4": 4,
    # src/models/<arch>.cpp load_arch_hparams: load_swa_pattern(ml, 4) (exaone-moe.cpp,
    # muse-glimmer.cpp, mellum.cpp, afmoe.cpp) and load_swa_pattern(ml, 8) (plamo3.cpp), each
    # with dense_first false; a window only where the file gives attention.sliding_window > 0.
    "exaone-moe": 4,
    "muse-glimmer": 4,
    "mellum": 4,
    "afmoe": 4,
    "plamo3": 8,
    # src/models/cohere2moe.cpp load_arch_hparams: load_swa_pattern(ml, 4, true), dense first
    "cohere2moe": 4,
}

# Periods with dense_first true (llama-hparams.cpp set_swa_pattern: layer il is SWA iff
# il % p != 0, the first of each period is global).
SWA_DENSE_FIRST = frozenset({"cohere2moe"})

# Architectures llama.cpp gives no KV cache at all (src/llama-model.cpp create_memory:
# res = nullptr): encoders, the WavTokenizer decoder and the non-causal diffusion LMs.
NO_KV_CACHE = frozenset(
    {
        "bert",
        "jina-bert-v2",
        "jina-bert-v3",
        "nomic-bert",
        "nomic-bert-moe",
        "neo-bert",
        "eurobert",
        "wavtokenizer-dec",
        "modern-bert",
        "gemma-embedding",
        "dream",
        "llada",
        "llada-moe",
        "rnd1",
        "clef",
    }
)

# llama4's chunked attention: the window is set in code, not read from the file
# (src/models/llama4.cpp load_arch_hparams: n_swa = 8192, LLAMA_SWA_TYPE_CHUNKED, period 4,
# unless the file says sliding_window = 0). The KV cache sizes it like a sliding window
# (llama-kv-cache-iswa.cpp: PAD(n_swa * n_seq + n_ubatch, 256) cells).
LLAMA4_CHUNK = 8192

# Layers that own a KV cache; the rest reuse an earlier layer's K/V
# (src/models/gemma3n.cpp load_arch_hparams: hparams.n_layer_kv_from_start = 20; the file's
# attention.shared_kv_layers is not read).
KV_LAYERS_FROM_START: dict[str, int] = {"gemma3n": 20}

# MoE graphs that scale the expert input by the router weights before the up/gate matmuls
# (llama-graph.cpp build_moe_ffn weight_before_ffn; src/models/llama4.cpp passes true).
WEIGHT_BEFORE_FFN = frozenset({"llama4"})

# Architectures whose tensor/KV layout the estimate knows (the rest use the generic rules).
KNOWN_ARCHITECTURES = frozenset(
    {
        "llama",
        "mistral3",
        "qwen2",
        "qwen3",
        "qwen3vl",
        "qwen3moe",
        "granite",
        "gemma2",
        "gemma3",
        "cohere2",
        "gpt-oss",
        "glm4moe",
        "glm4",
        "deepseek2",
        "qwen3next",
        "granitehybrid",
        "lfm2",
        "mamba",
        "mamba2",
        "phi3",
        "qwen2moe",
        "mistral",
        "olmo2",
        "llama4",
        "gemma3n",
        # the hybrid families of estimate/families/layers.py
        "qwen35",
        "qwen35moe",
        "falcon-h1",
        "nemotron_h",
        "nemotron_h_moe",
        "lfm2moe",
        "kimi-linear",
        "kimi-k3",
        # estimate/families: MLA with a sparse-attention indexer, deepseek2's loader, GQA MoE
        "deepseek32",
        "glm-dsa",
        "mistral4",
        "minimax-m2",
        msa.ARCH,
        "deepseek4",
        # estimate/families/gemma4.py
        gemma4.ARCH,
    }
)

# llama-arch.cpp llm_arch_is_recurrent: a recurrent state and no KV cache
_RECURRENT_ALL = {"mamba", "mamba2", "rwkv6", "rwkv7", "rwkv6qwen2", "arwkv7"}
# llama-hparams.cpp n_embd_r / n_embd_s with wkv_head_size != 0 (every RWKV loader reads it)
_RWKV = {"rwkv6", "rwkv7", "rwkv6qwen2", "arwkv7"}
_HYBRID_BY_ZERO_KV = {"granitehybrid", "lfm2", "jamba", "falcon-h1", "nemotron_h", "lfm2moe"}
_HYBRID_BY_INTERVAL = {"qwen3next", "qwen35", "qwen35moe"}


def _num(v: MetaValue | None, default: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return default
    return int(v)


class _Reader:
    """`<arch>.<key>` reads: scalars (an array reads as its maximum) and per-layer arrays."""

    def __init__(self, spec: ModelSpec) -> None:
        self.md = spec.metadata
        self.arch = spec.architecture
        self.n_layer = 0

    def get(self, key: str) -> MetaValue | None:
        return self.md.get(f"{self.arch}.{key}")

    def scalar(self, key: str, default: int) -> int:
        v = self.get(key)
        if isinstance(v, tuple):
            nums = [_num(x, default) for x in v]
            return max(nums) if nums else default
        return _num(v, default)

    def per_layer(self, key: str, default: int) -> tuple[int, ...]:
        v = self.get(key)
        if isinstance(v, tuple) and v:
            vals = [_num(x, default) for x in v]
            vals += [vals[-1]] * max(0, self.n_layer - len(vals))
            return tuple(vals[: self.n_layer])
        return (_num(v, default),) * self.n_layer


def _swa_layers(r: _Reader) -> tuple[tuple[bool, ...], int]:
    """(is_swa per layer, window): the explicit pattern key, else the architecture's period."""
    n_layer, arch = r.n_layer, r.arch
    n_swa = r.scalar("attention.sliding_window", 0)
    if arch == "llama4" and not (r.get("attention.sliding_window") is not None and n_swa == 0):
        n_swa = LLAMA4_CHUNK
    pattern = r.get("attention.sliding_window_pattern")
    if n_swa <= 0:
        return (False,) * n_layer, 0
    if isinstance(pattern, tuple) and pattern:
        flags = [bool(x) for x in pattern] + [False] * n_layer
        return tuple(flags[:n_layer]), n_swa
    period = _num(pattern, SWA_PERIODS.get(arch, 0))
    if period <= 0:  # a window but no pattern: llama.cpp keeps all layers full
        return (False,) * n_layer, n_swa
    if arch in SWA_DENSE_FIRST:
        return tuple(il % period != 0 for il in range(n_layer)), n_swa
    return tuple(il % period < period - 1 for il in range(n_layer)), n_swa


def _recurrent(r: _Reader, n_head_kv: tuple[int, ...]) -> tuple[tuple[bool, ...], int, int]:
    """(is_recurrent per layer, n_embd_r, n_embd_s) after llama-hparams.cpp n_embd_r/n_embd_s."""
    arch, n_layer = r.arch, r.n_layer
    n_embd = r.scalar("embedding_length", 0)
    if arch in _RECURRENT_ALL:
        is_rec = (True,) * n_layer
    elif arch in _HYBRID_BY_INTERVAL:
        iv = r.scalar("full_attention_interval", 0) or 4
        is_rec = tuple((il + 1) % iv != 0 for il in range(n_layer))
    elif arch in _HYBRID_BY_ZERO_KV:
        is_rec = tuple(h == 0 for h in n_head_kv)
    else:
        is_rec = (False,) * n_layer
    d_conv = r.scalar("ssm.conv_kernel", 0)
    d_state = r.scalar("ssm.state_size", 0)
    d_inner = r.scalar("ssm.inner_size", 0)
    n_group = r.scalar("ssm.group_count", 0)
    if arch in {"lfm2", "lfm2moe"}:
        # LFM2 short conv keeps (l_cache - 1) * n_embd
        return is_rec, max(r.scalar("shortconv.l_cache", 0) - 1, 0) * n_embd, 0
    if arch in _RWKV:
        shift = max(r.scalar("token_shift_count", 2), 1) * n_embd
        return is_rec, shift, n_embd * r.scalar("wkv.head_size", 64)
    # Mamba-1 has no groups; Mamba-2 and gated delta nets add 2*n_group*d_state.
    return is_rec, max(d_conv - 1, 0) * (d_inner + 2 * n_group * d_state), d_state * d_inner


def _layer_kinds(
    r: _Reader, n_head_kv: tuple[int, ...], n_ff: tuple[int, ...]
) -> tuple[tuple[bool, ...], int, int, tuple[bool, ...] | None]:
    """(is_recurrent, n_embd_r, n_embd_s, layers with a KV cache or None for "every
    non-recurrent one"): the family rules of estimate/families/layers.py where they apply
    (falcon-h1, nemotron_h, qwen35, kimi-linear, kimi-k3), else the common ones above."""
    is_rec, n_embd_r, n_embd_s = _recurrent(r, n_head_kv)
    kinds = layer_kinds(r.arch, r.get, n_head_kv, n_ff)
    if kinds is None:
        return is_rec, n_embd_r, n_embd_s, None
    n_embd_r = n_embd_r if kinds.n_embd_r is None else kinds.n_embd_r
    n_embd_s = n_embd_s if kinds.n_embd_s is None else kinds.n_embd_s
    return kinds.is_recurrent, n_embd_r, n_embd_s, kinds.has_kv


@dataclass(frozen=True, slots=True)
class ModelHparams:
    """What the estimate reads per layer. Tuples are indexed by layer (0..n_layer-1)."""

    arch: str
    known_architecture: bool
    n_layer: int
    n_embd: int
    n_vocab: int
    n_ctx_train: int
    n_ff: tuple[int, ...]
    n_head: tuple[int, ...]
    n_head_kv: tuple[int, ...]
    head_k: tuple[int, ...]  # K width per head (MLA: kv_lora_rank + rope dim)
    head_v: tuple[int, ...]
    has_kv: tuple[bool, ...]
    has_v: bool  # False for MLA (K-only latent cache)
    is_swa: tuple[bool, ...]
    n_swa: int
    is_recurrent: tuple[bool, ...]
    n_embd_r: int  # recurrent conv/shift state floats per layer per sequence
    n_embd_s: int  # recurrent ssm state floats per layer per sequence
    n_expert: int
    n_expert_used: int
    is_mla: bool
    full_attention_interval: int = 0
    n_nextn: int = 0  # trailing MTP/NextN blocks llama.cpp skips (no weights loaded, no KV)
    n_ff_exp: int = 0
    n_ff_shexp: int = 0  # shared-expert width (0: none, or the same as n_ff_exp)
    n_leading_dense: int = 0
    d_inner: int = 0  # ssm.inner_size (recurrent layers)
    ssm_d_state: int = 0  # ssm.state_size
    ssm_n_group: int = 0  # ssm.group_count (delta nets: key heads)
    ssm_dt_rank: int = 0  # ssm.time_step_rank (Mamba-2: the SSM heads)
    n_embd_inp: int = 0  # input embedding width (qwen3vl deepstack: n_embd x (1 + layers))
    kv_lora_rank: int = 0  # MLA latent width
    n_rot: int = 0  # rope dims (MLA: the decoupled rope part of K)
    head_k_mla: int = 0  # MLA: Q/K width per head after decompression (qk_nope + rope)
    weight_before_ffn: bool = False
    moe_layer_step: int = 1  # llama4 interleave_moe_layer_step: MoE where (il + 1) % step == 0
    n_embd_altup: int = 0  # gemma3n per-layer input width
    # DSA lightning indexer (estimate/families/dsa.py): layers with an indexer key cache, its
    # key width (one head) and how many cached tokens each query attends to
    has_indexer: tuple[bool, ...] = ()
    n_embd_indexer: int = 0
    indexer_top_k: int = 0
    # DeepSeek-V4 compression ratio per block (estimate/families/deepseek4.py); () elsewhere
    compress_ratios: tuple[int, ...] = ()
    out_lora: int = 0  # DeepSeek-V4 output LoRA rank x groups
    attn_res_block: int = 0  # kimi-k3 cross-layer residual attention (estimate/families/kimi_k3)
    n_expert_latent: int = 0  # kimi-k3 latent MoE: the routed experts' width (0: n_embd)
    n_indexer_head: int = 0  # MSA indexer heads (estimate/families/msa.py)
    # The graph structure of an architecture without rules of its own, read off its tensors
    # (estimate/families/generic_graph.py); None for the architectures the estimate knows
    graph: GenericGraph | None = None

    @property
    def has_swa_cache(self) -> bool:
        """Some layer with a KV cache attends through a sliding window: the graph then builds
        a second, windowed KQ mask and the cache a second, windowed set of cells."""
        return any(sw for sw, kv in zip(self.is_swa, self.has_kv, strict=True) if kv)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> ModelHparams:
        validate_spec(spec)  # one line naming the key for any value the estimate cannot use
        r = _Reader(spec)
        arch = r.arch
        n_layer = r.n_layer = max(r.scalar("block_count", 0), 0)
        n_embd = r.scalar("embedding_length", 0)
        n_head, n_head_kv, head_k0 = _heads(r, n_embd)
        is_swa, n_swa = _swa_layers(r)
        head_k, head_v = _head_widths(r, head_k0, is_swa)
        n_ff = r.per_layer("feed_forward_length", 0)
        is_rec, n_embd_r, n_embd_s, kv_layers = _layer_kinds(r, n_head_kv, n_ff)
        n_nextn, has_kv = _kv_layers(r, is_rec, kv_layers)
        # MLA only with both MLA head sizes (llama-hparams.cpp is_mla): older files cache K, V
        hk_mla = r.scalar("attention.key_length_mla", 0)
        is_mla = hk_mla > 0 and r.scalar("attention.value_length_mla", 0) > 0
        kv_lora = r.scalar("attention.kv_lora_rank", 512 if is_mla else 0)
        n_rot = r.scalar("rope.dimension_count", 64 if is_mla else head_k0)
        if is_mla:
            # K-only latent of width kv_lora_rank + rope dim, one "head" (llama.cpp PR #19067).
            head_k, head_v = (kv_lora + n_rot,) * n_layer, (0,) * n_layer
            n_head_kv = (1,) * n_layer
        n_ff, n_ff_exp, n_ff_shexp, graph = _ffn_widths(r, spec, n_ff)
        has_indexer, ratios, out_lora = _family_fields(r, n_nextn)
        return check_layers(
            spec.source or spec.name,
            cls(
                arch=arch,
                known_architecture=arch in KNOWN_ARCHITECTURES,
                n_layer=n_layer,
                n_embd=n_embd,
                n_vocab=vocab_size(spec.metadata),
                n_ctx_train=r.scalar("context_length", 0),
                n_ff=n_ff,
                n_head=n_head,
                n_head_kv=n_head_kv,
                head_k=head_k,
                head_v=head_v,
                has_kv=has_kv,
                has_v=not is_mla,
                is_swa=is_swa,
                n_swa=n_swa,
                is_recurrent=is_rec,
                n_embd_r=n_embd_r,
                n_embd_s=n_embd_s,
                n_expert=r.scalar("expert_count", 0),
                n_expert_used=r.scalar("expert_used_count", 0),
                is_mla=is_mla,
                full_attention_interval=r.scalar("full_attention_interval", 0),
                n_nextn=n_nextn,
                n_ff_exp=n_ff_exp,
                n_ff_shexp=n_ff_shexp,
                n_leading_dense=r.scalar("leading_dense_block_count", 0),
                d_inner=r.scalar("ssm.inner_size", 0),
                ssm_d_state=r.scalar("ssm.state_size", 0),
                ssm_n_group=r.scalar("ssm.group_count", 0),
                ssm_dt_rank=r.scalar("ssm.time_step_rank", 0),
                n_embd_inp=n_embd * (1 + r.scalar("n_deepstack_layers", 0)),
                kv_lora_rank=kv_lora,
                n_rot=n_rot,
                head_k_mla=hk_mla,
                weight_before_ffn=arch in WEIGHT_BEFORE_FFN,
                moe_layer_step=max(r.scalar("interleave_moe_layer_step", 1), 1),
                n_embd_altup=r.scalar("embedding_length_per_layer_input", 0),
                has_indexer=has_indexer,
                n_embd_indexer=r.scalar("attention.indexer.key_length", 0),
                indexer_top_k=r.scalar("attention.indexer.top_k", 0),
                compress_ratios=ratios,
                out_lora=out_lora,
                attn_res_block=r.scalar("attn_res.block_size", 0),
                n_expert_latent=r.scalar("expert_latent_length", 0),
                n_indexer_head=r.scalar("attention.indexer.head_count", 0),
                graph=graph,
            ),
        )


def _heads(r: _Reader, n_embd: int) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """(query heads per layer, KV heads per layer, the K head width of a full layer)."""
    n_head = r.per_layer("attention.head_count", 0)
    n_head0 = max(max(n_head, default=0), 1)
    n_head_kv = r.per_layer("attention.head_count_kv", n_head0)
    return n_head, n_head_kv, r.scalar("attention.key_length", n_embd // n_head0 if n_embd else 0)


def _head_widths(
    r: _Reader, head_k0: int, is_swa: tuple[bool, ...]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """K and V head widths per layer: a sliding-window layer's own where the file gives them."""
    head_v0 = r.scalar("attention.value_length", head_k0)
    head_k = tuple(r.scalar("attention.key_length_swa", head_k0) if s else head_k0 for s in is_swa)
    head_v = tuple(
        r.scalar("attention.value_length_swa", head_v0) if s else head_v0 for s in is_swa
    )
    return head_k, head_v


def _kv_layers(
    r: _Reader, is_rec: tuple[bool, ...], kv_layers: tuple[bool, ...] | None
) -> tuple[int, tuple[bool, ...]]:
    """(trailing NextN/MTP blocks, which layers own a KV cache)."""
    arch, n_layer = r.arch, r.n_layer
    # NextN/MTP prediction blocks at the end (glm4moe...): llama.cpp loads them with
    # TENSOR_SKIP and filters them out of the KV cache (llama-model.cpp).
    n_nextn = min(max(r.scalar("nextn_predict_layers", 0), 0), n_layer)
    if arch == gemma4.ASSISTANT:
        n_nextn = 0  # the drafter's blocks are its model, loaded and run
    kv_end = min(KV_LAYERS_FROM_START.get(arch, n_layer), n_layer - n_nextn)
    kv_end = 0 if arch in NO_KV_CACHE else kv_end
    if arch == gemma4.ARCH:
        kv_end = min(kv_end, gemma4.kv_layers_from_start(r.md, n_layer))
    has_kv = tuple(not rec and il < kv_end for il, rec in enumerate(is_rec))
    if kv_layers is not None:  # falcon-h1: every layer; nemotron_h: attention layers only
        has_kv = tuple(kv and il < kv_end for il, kv in enumerate(kv_layers))
    return n_nextn, has_kv


def _family_fields(r: _Reader, n_nextn: int) -> tuple[tuple[bool, ...], tuple[int, ...], int]:
    """(layers with a DSA indexer cache, DeepSeek-V4's compression ratio per block, its output
    LoRA width = rank x groups); see estimate/families/dsa.py and deepseek4.py."""
    n_layer = r.n_layer
    n_ctx_train = r.scalar("context_length", 0)
    has_indexer = indexer_layers(r.arch, r.md, n_layer, n_layer - n_nextn, n_ctx_train)
    if r.arch == msa.ARCH:
        has_indexer = msa.indexer_layers(r.arch, r.md, n_layer)
    if r.arch != DEEPSEEK4:
        return has_indexer, (), 0
    lora = r.scalar("attention.output_lora_rank", 0) * r.scalar("attention.output_group_count", 0)
    return has_indexer, read_ratios(r.get("attention.compress_ratios"), n_layer), lora


def _ffn_widths(
    r: _Reader, spec: ModelSpec, n_ff: tuple[int, ...]
) -> tuple[tuple[int, ...], int, int, GenericGraph | None]:
    """(FFN width per layer, expert width, shared-expert width, the graph read off the tensors):
    an architecture without rules of its own takes the widths llama.cpp loads, not the keys
    (estimate/families/generic_graph.py)."""
    n_ff_exp = r.scalar("expert_feed_forward_length", 0)
    graph = None
    if r.arch not in KNOWN_ARCHITECTURES:
        graph = read_generic_graph(r.arch, spec.tensors, r.n_layer)
    if graph is None:
        return n_ff, n_ff_exp, _shared_expert_width(r, n_ff_exp), None
    return graph.n_ff, graph.n_ff_exp or n_ff_exp, graph.n_ff_shexp, graph


def _shared_expert_width(r: _Reader, n_ff_exp: int) -> int:
    """Width of the shared-expert FFN: its own key (qwen2moe, qwen3next), else the expert
    width times expert_shared_count (deepseek2, glm4moe), or one expert-wide (llama4)."""
    own = r.scalar("expert_shared_feed_forward_length", 0)
    if own:
        return own
    if r.arch == "llama4":  # src/models/llama4.cpp: n_ff_shexp = n_ff_exp
        return n_ff_exp
    return n_ff_exp * r.scalar("expert_shared_count", 0)
