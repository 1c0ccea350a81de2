"""Small synthesized models of the 2026 architectures (gemma4 and friends) for the oracle:
real layer layouts (sliding/full mix, shared KV layers, per-layer embeddings, experts) at sizes
that keep llama.cpp's dry run quick. Shapes in the released models' pattern, scaled down."""

from __future__ import annotations

from tests.support.oracle_models import _md
from vramtui.core.gguf.spec import MetaValue


def _gemma4(
    n_layer: int, period: int, *, n_kv: tuple[int, int], shared: int = 0, **kv: MetaValue
) -> dict[str, MetaValue]:
    swa = tuple(il % period < period - 1 for il in range(n_layer))
    return _md(
        "gemma4",
        8192,
        block_count=n_layer,
        context_length=131072,
        embedding_length=512,
        attention__head_count=8,
        attention__head_count_kv=tuple(n_kv[0] if s else n_kv[1] for s in swa),
        attention__key_length=256,
        attention__value_length=256,
        attention__key_length_swa=128,
        attention__value_length_swa=128,
        attention__sliding_window=512,
        attention__sliding_window_pattern=swa,
        attention__shared_kv_layers=shared,
        attention__layer_norm_rms_epsilon=1e-6,
        rope__freq_base=1e6,
        rope__freq_base_swa=1e4,
        rope__dimension_count=256,
        rope__dimension_count_swa=128,
        final_logit_softcapping=30.0,
        **kv,
    )


GEMMA4_MODELS: dict[str, tuple[dict[str, MetaValue], str]] = {
    # E2B-like: per-layer embeddings, the last layers reuse earlier layers' KV
    "gemma4-ple": (
        _gemma4(
            12,
            4,
            n_kv=(1, 1),
            shared=4,
            feed_forward_length=1024,
            embedding_length_per_layer_input=64,
        ),
        "Q8_0",
    ),
    # 26B-A4B-like: a dense FFN beside 16 experts in every layer
    "gemma4-moe": (
        _gemma4(
            6,
            6,
            n_kv=(4, 2),
            feed_forward_length=512,
            expert_feed_forward_length=256,
            expert_count=16,
            expert_used_count=4,
            embedding_length_per_layer_input=0,
        ),
        "Q4_K_M",
    ),
    # 31B-like: full layers without V (attention_k_eq_v), 4 KV heads on full layers
    "gemma4-dense": (
        {
            **_gemma4(
                12,
                6,
                n_kv=(4, 1),
                feed_forward_length=2048,
                embedding_length_per_layer_input=0,
            ),
            "vramtui.attention_k_eq_v": True,
        },
        "Q4_K_M",
    ),
}

MODELS = GEMMA4_MODELS
