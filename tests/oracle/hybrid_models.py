"""Small GGUF headers of the hybrid families (qwen35, qwen35moe, nemotron_h, nemotron_h_moe,
falcon-h1, lfm2moe, kimi-linear): each keeps its family's layer layout (which layers attend,
which carry a recurrent state, MoE or dense) at a width that makes llama.cpp's dry run fast.
The widths are test shapes, not released models; the catalog holds the real ones
(tools/catalog/families/*.json)."""

from __future__ import annotations

from tests.support.oracle_models import _md
from vramtui.core.gguf.spec import MetaValue

_DELTA_NET: dict[str, MetaValue] = {
    "block_count": 8,
    "embedding_length": 1024,
    "attention__head_count": 8,
    "attention__head_count_kv": 2,
    "attention__key_length": 256,
    "attention__value_length": 256,
    "rope__dimension_count": 64,
    "rope__dimension_sections": (11, 11, 10, 0),
    "ssm__conv_kernel": 4,
    "ssm__state_size": 128,
    "ssm__group_count": 16,
    "ssm__time_step_rank": 16,
    "ssm__inner_size": 2048,
    "full_attention_interval": 4,
    "context_length": 262144,
    "attention__layer_norm_rms_epsilon": 1e-6,
    "rope__freq_base": 1e7,
}

# Nemotron-H's layer string: M a Mamba-2 layer, E a feed-forward (MoE) layer, * attention.
_NEMOTRON_PATTERN = "MEMEM*EMEMEM*EM"


def _nemotron(arch: str, **extra: MetaValue) -> dict[str, MetaValue]:
    pat = _NEMOTRON_PATTERN
    return _md(
        arch,
        131072,
        block_count=len(pat),
        embedding_length=1024,
        attention__head_count=8,
        attention__head_count_kv=tuple(2 if c == "*" else 0 for c in pat),
        attention__key_length=128,
        attention__value_length=128,
        feed_forward_length=tuple(1024 if c == "E" else 0 for c in pat),
        ssm__conv_kernel=4,
        ssm__state_size=128,
        ssm__group_count=8,
        ssm__time_step_rank=32,
        ssm__inner_size=2048,
        context_length=262144,
        attention__layer_norm_epsilon=1e-5,
        attention__layer_norm_rms_epsilon=1e-5,
        **extra,
    )


_KDA_LAYERS = "KKKAKKKA"  # K a Kimi Delta Attention layer, A an MLA layer
_LFM_LAYERS = "CCACCACCACCA"  # C a short convolution, A attention

HYBRID_MODELS: dict[str, tuple[dict[str, MetaValue], str]] = {
    "qwen35-test": (_md("qwen35", 248320, feed_forward_length=3584, **_DELTA_NET), "Q4_K_M"),
    "qwen35-recurrent-layers": (
        _md(
            "qwen35",
            248320,
            feed_forward_length=3584,
            attention__recurrent_layers=(True, False, True, True, False, True, True, False),
            **_DELTA_NET,
        ),
        "Q4_K_M",
    ),
    "qwen35moe-test": (
        _md(
            "qwen35moe",
            248320,
            expert_count=64,
            expert_used_count=8,
            expert_feed_forward_length=512,
            expert_shared_feed_forward_length=512,
            **_DELTA_NET,
        ),
        "Q4_K_M",
    ),
    "nemotron_h-test": (_nemotron("nemotron_h"), "Q4_K_M"),
    "nemotron_h_moe-test": (
        _nemotron(
            "nemotron_h_moe",
            expert_count=32,
            expert_used_count=6,
            expert_feed_forward_length=512,
            expert_shared_feed_forward_length=1024,
            expert_weights_norm=True,
            expert_weights_scale=2.5,
            expert_gating_func=2,
        ),
        "Q4_K_M",
    ),
    "falcon-h1-test": (
        _md(
            "falcon-h1",
            65536,
            block_count=8,
            embedding_length=1024,
            feed_forward_length=2048,
            attention__head_count=8,
            attention__head_count_kv=2,
            attention__key_length=128,
            attention__value_length=128,
            rope__dimension_count=128,
            ssm__conv_kernel=4,
            ssm__state_size=128,
            ssm__group_count=1,
            ssm__time_step_rank=16,
            ssm__inner_size=1024,
            context_length=131072,
            attention__layer_norm_rms_epsilon=1e-5,
        ),
        "Q4_K_M",
    ),
    "lfm2moe-test": (
        _md(
            "lfm2moe",
            65536,
            block_count=len(_LFM_LAYERS),
            embedding_length=1024,
            feed_forward_length=4096,
            attention__head_count=16,
            attention__head_count_kv=tuple(8 if c == "A" else 0 for c in _LFM_LAYERS),
            shortconv__l_cache=3,
            leading_dense_block_count=2,
            expert_count=32,
            expert_used_count=4,
            expert_feed_forward_length=768,
            expert_gating_func=2,
            context_length=128000,
            attention__layer_norm_rms_epsilon=1e-5,
            rope__freq_base=1e6,
        ),
        "Q4_K_M",
    ),
    "kimi-linear-test": (
        _md(
            "kimi-linear",
            163840,
            block_count=len(_KDA_LAYERS),
            embedding_length=1024,
            feed_forward_length=4096,
            attention__head_count=8,
            # MLA layers cache one latent "head" (kv_lora_rank + rope), as in released files
            attention__head_count_kv=tuple(1 if c == "A" else 0 for c in _KDA_LAYERS),
            attention__key_length=576,
            attention__value_length=512,
            attention__key_length_mla=192,
            attention__value_length_mla=128,
            attention__kv_lora_rank=512,
            rope__dimension_count=64,
            ssm__conv_kernel=4,
            kda__head_dim=128,
            leading_dense_block_count=1,
            expert_count=32,
            expert_used_count=4,
            expert_feed_forward_length=512,
            expert_shared_count=1,
            expert_gating_func=2,
            expert_weights_scale=2.446,
            context_length=1048576,
            attention__layer_norm_rms_epsilon=1e-5,
        ),
        "Q4_K_M",
    ),
}


def _mamba2(
    arch: str,
    pattern: str,
    n_embd: int,
    d_inner: int,
    *,
    groups: int,
    state: int,
    n_ff: int = 512,
) -> dict[str, MetaValue]:
    """A small Mamba-2 hybrid: M a Mamba-2 layer, A attention, E a feed-forward layer
    (nemotron_h); granitehybrid gives every layer a feed-forward of its own."""
    extra: dict[str, MetaValue] = (
        {
            "attention__scale": 0.0078125,
            "embedding_scale": 12.0,
            "logit_scale": 8.0,
            "residual_scale": 0.246,
            "feed_forward_length": n_ff,
        }
        if arch == "granitehybrid"
        else {
            "attention__key_length": 128,
            "attention__value_length": 128,
            "attention__layer_norm_epsilon": 1e-5,
            "feed_forward_length": tuple(1024 if c == "E" else 0 for c in pattern),
        }
    )
    return _md(
        arch,
        4096,
        block_count=len(pattern),
        context_length=131072,
        embedding_length=n_embd,
        attention__head_count=16,
        attention__head_count_kv=tuple(4 if c == "A" else 0 for c in pattern),
        attention__layer_norm_rms_epsilon=1e-5,
        ssm__conv_kernel=4,
        ssm__state_size=state,
        ssm__group_count=groups,
        ssm__time_step_rank=d_inner // 64,
        ssm__inner_size=d_inner,
        rope__freq_base=1e4,
        **extra,
    )


# Mamba-2 layers where the recurrent phase sets the compute peak (small feed-forwards), for
# estimate/families/recurrent_compute.py mamba2_graph_floats: the scan output above conv_x's
# hole or inside it, the extra gathered states covered by conv_x or not.
MAMBA2_SHAPES: dict[str, tuple[dict[str, MetaValue], str]] = {
    "granitehybrid-2048": (
        _mamba2("granitehybrid", "MMMA", 2048, 4096, groups=1, state=128),
        "F16",
    ),
    "granitehybrid-2048-g8": (
        _mamba2("granitehybrid", "MMMA", 2048, 4096, groups=8, state=128),
        "F16",
    ),
    # the feed-forward phase of an attention layer after A, M (recurrent_compute.py
    # granite_ffn_extra_floats)
    "granitehybrid-2048-ama": (
        _mamba2("granitehybrid", "AMMA", 2048, 4096, groups=1, state=128, n_ff=8192),
        "F16",
    ),
    "nemotron_h-2048": (_mamba2("nemotron_h", "MEMA", 2048, 4096, groups=8, state=128), "F16"),
    "nemotron_h-1536-n64": (_mamba2("nemotron_h", "MEMA", 1536, 2048, groups=2, state=64), "F16"),
}
