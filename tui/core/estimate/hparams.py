"""Per-layer hyperparameters the memory estimate needs, read from a ModelSpec's metadata.

Mirrors what llama.cpp derives in src/llama-model.cpp `load_hparams` and src/llama-hparams.cpp:
per-layer KV head counts (scalar or array), head dims (incl. the SWA variants), which layers use
a sliding window (`set_swa_pattern`), MLA (deepseek2 family: K-only latent cache since PR
#19067), recurrent layers and their state widths (`n_embd_r` / `n_embd_s`), expert counts.
An architecture this module does not know gets the generic dense-GQA reading, marked
`known_architecture=False`, and never raises.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.core.model.spec import MetaValue, ModelSpec, vocab_size

# Sliding-window period per architecture where the GGUF carries no pattern key
# (llama.cpp src/llama-model.cpp load_hparams: hparams.set_swa_pattern(N)).
# dense_first=False: layer il is SWA iff il % p < p - 1 (the last of each period is global).
SWA_PERIODS: dict[str, int] = {
    "gemma2": 2, "gemma3": 6, "cohere2": 4, "gpt-oss": 2, "llama4": 4, "gemma3n": 5,
    "gemma-embedding": 6, "olmo2": 4, "exaone4": 4,
}  # fmt: skip

# Architectures whose tensor/KV layout the estimate knows (the rest use the generic rules).
KNOWN_ARCHITECTURES = frozenset({
    "llama", "mistral3", "qwen2", "qwen3", "qwen3vl", "qwen3moe", "qwen3vlmoe", "granite",
    "gemma2", "gemma3", "cohere2", "gpt-oss", "glm4moe", "glm4", "deepseek2", "qwen3next",
    "granitehybrid", "lfm2", "mamba", "mamba2", "phi3", "qwen2moe", "mistral", "olmo2",
})  # fmt: skip

_RECURRENT_ALL = {"mamba", "mamba2", "rwkv6", "rwkv7"}
_HYBRID_BY_ZERO_KV = {"granitehybrid", "lfm2", "jamba", "falcon-h1", "nemotron_h", "lfm2moe"}
_HYBRID_BY_INTERVAL = {"qwen3next", "qwen35", "qwen35moe"}


def _num(v: MetaValue | None, default: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return default
    return int(v)


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
    n_leading_dense: int = 0
    d_inner: int = 0  # ssm.inner_size (recurrent layers)
    n_embd_inp: int = 0  # input embedding width (qwen3vl deepstack: n_embd x (1 + layers))

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> ModelHparams:
        md = spec.metadata
        arch = spec.architecture

        def get(key: str) -> MetaValue | None:
            return md.get(f"{arch}.{key}")

        def scalar(key: str, default: int) -> int:
            v = get(key)
            if isinstance(v, tuple):
                nums = [_num(x, default) for x in v]
                return max(nums) if nums else default
            return _num(v, default)

        n_layer = max(scalar("block_count", 0), 0)

        def per_layer(key: str, default: int) -> tuple[int, ...]:
            v = get(key)
            if isinstance(v, tuple) and v:
                vals = [_num(x, default) for x in v]
                vals += [vals[-1]] * max(0, n_layer - len(vals))
                return tuple(vals[:n_layer])
            return (_num(v, default),) * n_layer

        n_embd = scalar("embedding_length", 0)
        n_head = per_layer("attention.head_count", 0)
        n_head0 = max(max(n_head, default=0), 1)
        n_head_kv = per_layer("attention.head_count_kv", n_head0)
        head_k0 = scalar("attention.key_length", n_embd // n_head0 if n_embd else 0)
        head_v0 = scalar("attention.value_length", head_k0)
        head_k_swa = scalar("attention.key_length_swa", head_k0)
        head_v_swa = scalar("attention.value_length_swa", head_v0)
        n_swa = scalar("attention.sliding_window", 0)

        # Sliding-window layers: explicit pattern key, else the per-architecture period.
        pattern = get("attention.sliding_window_pattern")
        is_swa: tuple[bool, ...]
        if n_swa <= 0:
            is_swa = (False,) * n_layer
        elif isinstance(pattern, tuple) and pattern:
            flags = [bool(x) for x in pattern] + [False] * n_layer
            is_swa = tuple(flags[:n_layer])
        else:
            period = _num(pattern, SWA_PERIODS.get(arch, 0))
            if period <= 0:  # a window but no pattern: llama.cpp keeps all layers full
                is_swa = (False,) * n_layer
            else:
                is_swa = tuple(il % period < period - 1 for il in range(n_layer))

        # Recurrent (SSM / linear attention) layers.
        interval = scalar("full_attention_interval", 0)
        if arch in _RECURRENT_ALL:
            is_rec = (True,) * n_layer
        elif arch in _HYBRID_BY_INTERVAL:
            iv = interval or 4
            is_rec = tuple((il + 1) % iv != 0 for il in range(n_layer))
        elif arch in _HYBRID_BY_ZERO_KV:
            is_rec = tuple(h == 0 for h in n_head_kv)
        else:
            is_rec = (False,) * n_layer
        d_conv = scalar("ssm.conv_kernel", 0)
        d_state = scalar("ssm.state_size", 0)
        d_inner = scalar("ssm.inner_size", 0)
        n_group = scalar("ssm.group_count", 0)
        if arch in {"lfm2", "lfm2moe"}:
            # llama-hparams.cpp n_embd_r: LFM2 short conv keeps (l_cache - 1) * n_embd
            n_embd_r = max(scalar("shortconv.l_cache", 0) - 1, 0) * n_embd
            n_embd_s = 0
        elif arch in {"rwkv6", "rwkv7"}:
            n_embd_r = max(scalar("token_shift_count", 2), 1) * n_embd
            n_embd_s = n_embd * scalar("wkv.head_size", 64)
        else:
            # Mamba-1 has no groups; Mamba-2 and gated delta nets add 2*n_group*d_state.
            n_embd_r = max(d_conv - 1, 0) * (d_inner + 2 * n_group * d_state)
            n_embd_s = d_state * d_inner
        # NextN/MTP prediction blocks at the end (glm4moe...): llama.cpp loads them with
        # TENSOR_SKIP and filters them out of the KV cache (llama-model.cpp).
        n_nextn = min(max(scalar("nextn_predict_layers", 0), 0), n_layer)
        has_kv = tuple(not r and il < n_layer - n_nextn for il, r in enumerate(is_rec))

        is_mla = arch == "deepseek2" and get("attention.kv_lora_rank") is not None
        head_k = tuple(head_k_swa if s else head_k0 for s in is_swa)
        head_v = tuple(head_v_swa if s else head_v0 for s in is_swa)
        if is_mla:
            # K-only latent of width kv_lora_rank + rope dim, one "head" (llama.cpp PR #19067).
            kv_lora = scalar("attention.kv_lora_rank", 512)
            n_rot = scalar("rope.dimension_count", 64)
            head_k = (kv_lora + n_rot,) * n_layer
            head_v = (0,) * n_layer
            n_head_kv = (1,) * n_layer

        n_ff = per_layer("feed_forward_length", 0)
        n_ctx_train = scalar("context_length", 0)
        return cls(
            arch=arch,
            known_architecture=arch in KNOWN_ARCHITECTURES,
            n_layer=n_layer,
            n_embd=n_embd,
            n_vocab=vocab_size(md),
            n_ctx_train=n_ctx_train,
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
            n_expert=scalar("expert_count", 0),
            n_expert_used=scalar("expert_used_count", 0),
            is_mla=is_mla,
            full_attention_interval=interval,
            n_nextn=n_nextn,
            n_ff_exp=scalar("expert_feed_forward_length", 0),
            n_leading_dense=scalar("leading_dense_block_count", 0),
            d_inner=d_inner,
            n_embd_inp=n_embd * (1 + scalar("n_deepstack_layers", 0)),
        )
