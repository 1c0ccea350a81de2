"""The hybrid families' layer rules, without llama.cpp: which layers are recurrent, which own a
KV cache, how wide the state is (tests/oracle/test_hybrid_oracle.py holds the sizes to
llama.cpp itself)."""

from __future__ import annotations

from tests.oracle.hybrid_models import HYBRID_MODELS
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.vocab import BufferKind


def _spec(name: str) -> ModelSpec:
    md, quant = HYBRID_MODELS[name]
    return synthesize_spec(md, quant, name=name, source="test")


def test_falcon_h1_keeps_kv_and_state_on_every_layer() -> None:
    hp = ModelHparams.from_spec(_spec("falcon-h1-test"))
    assert all(hp.is_recurrent) and all(hp.has_kv)
    bd = estimate_memory(_spec("falcon-h1-test"), RuntimeSettings(ctx_size=4096, parallel=4))
    # 8 layers x 4096 cells x (K + V) of 2 heads x 128, F16
    assert bd.total(kind=BufferKind.KV_CACHE) == 8 * 4096 * 2 * 2 * 128 * 2
    per_seq = (3 * (1024 + 2 * 128) + 128 * 1024) * 4
    assert bd.total(kind=BufferKind.RECURRENT_STATE) == 8 * 4 * per_seq


def test_nemotron_h_feed_forward_layers_hold_no_cache() -> None:
    hp = ModelHparams.from_spec(_spec("nemotron_h_moe-test"))
    pattern = "MEMEM*EMEMEM*EM"
    assert hp.is_recurrent == tuple(c == "M" for c in pattern)
    assert hp.has_kv == tuple(c == "*" for c in pattern)


def test_qwen35_reads_the_recurrent_layers_array_before_the_interval() -> None:
    by_array = ModelHparams.from_spec(_spec("qwen35-recurrent-layers"))
    assert [il for il, kv in enumerate(by_array.has_kv) if kv] == [1, 4, 7]
    by_interval = ModelHparams.from_spec(_spec("qwen35-test"))
    assert [il for il, kv in enumerate(by_interval.has_kv) if kv] == [3, 7]


def test_kimi_linear_state_follows_the_kda_heads() -> None:
    hp = ModelHparams.from_spec(_spec("kimi-linear-test"))
    assert hp.is_mla and sum(hp.has_kv) == 2 and sum(hp.is_recurrent) == 6
    # conv state for q, k and v: 3 x (d_conv - 1) x 8 heads x 128; state 8 x 128 x 128
    assert (hp.n_embd_r, hp.n_embd_s) == (3 * 3 * 8 * 128, 8 * 128 * 128)


def test_recurrent_phase_grows_with_the_sequences() -> None:
    spec = _spec("qwen35-test")
    one = estimate_memory(spec, RuntimeSettings(ctx_size=4096), backend="cpu")
    eight = estimate_memory(spec, RuntimeSettings(ctx_size=4096, parallel=8), backend="cpu")
    assert eight.total(kind=BufferKind.COMPUTE) > one.total(kind=BufferKind.COMPUTE)


def test_a_trailing_mtp_block_holds_no_state_and_no_cache() -> None:
    md, quant = HYBRID_MODELS["qwen35-test"]
    md = {**md, "qwen35.block_count": 9, "qwen35.nextn_predict_layers": 1}
    hp = ModelHparams.from_spec(synthesize_spec(md, quant, name="mtp", source="test"))
    # 9 blocks, the last one MTP: layer 8 would be recurrent by the interval rule
    assert not hp.is_recurrent[8] and not hp.has_kv[8]
    assert sum(hp.is_recurrent) == 6 and sum(hp.has_kv) == 2
