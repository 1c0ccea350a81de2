"""Facts of llama.cpp's loader the estimate keeps in tables for architectures it otherwise
answers with the generic rules: the sliding-window period set in code, and no KV cache."""

from __future__ import annotations

from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.gguf.spec import MetaValue, ModelSpec, SkippedArray


def _spec(arch: str, n_layer: int, **kv: MetaValue) -> ModelSpec:
    md: dict[str, MetaValue] = {
        "general.architecture": arch,
        "tokenizer.ggml.tokens": SkippedArray(8, 4096),
        f"{arch}.block_count": n_layer,
        f"{arch}.embedding_length": 2048,
        f"{arch}.attention.head_count": 16,
        f"{arch}.attention.head_count_kv": 4,
        f"{arch}.feed_forward_length": 4096,
    }
    md.update({f"{arch}.{k.replace('__', '.')}": v for k, v in kv.items()})
    return ModelSpec(name=arch, source="test", metadata=md, tensors=(), file_size=0)


def test_period_four_when_the_file_has_a_window() -> None:
    hp = ModelHparams.from_spec(_spec("muse-glimmer", 8, attention__sliding_window=512))
    assert hp.is_swa == (True, True, True, False) * 2
    assert hp.n_swa == 512
    assert not hp.known_architecture  # still the generic rules otherwise


def test_no_window_in_the_file_keeps_every_layer_full() -> None:
    hp = ModelHparams.from_spec(_spec("mellum", 4))
    assert hp.is_swa == (False,) * 4


def test_period_eight_for_plamo3() -> None:
    hp = ModelHparams.from_spec(_spec("plamo3", 16, attention__sliding_window=2048))
    assert [il for il in range(16) if not hp.is_swa[il]] == [7, 15]


def test_diffusion_models_have_no_kv_cache() -> None:
    assert ModelHparams.from_spec(_spec("dream", 4)).has_kv == (False,) * 4
    assert ModelHparams.from_spec(_spec("qwen2", 4)).has_kv == (True,) * 4


def test_cohere2moe_keeps_the_first_layer_of_each_period_global() -> None:
    hp = ModelHparams.from_spec(_spec("cohere2moe", 8, attention__sliding_window=4096))
    assert [il for il in range(8) if not hp.is_swa[il]] == [0, 4]


def test_rwkv_hybrids_carry_a_recurrent_state_and_no_kv_cache() -> None:
    for arch in ("rwkv6qwen2", "arwkv7"):
        hp = ModelHparams.from_spec(_spec(arch, 4, token_shift_count=1, wkv__head_size=64))
        assert hp.is_recurrent == (True,) * 4
        assert hp.n_embd_r == 2048  # token_shift_count * n_embd
        assert hp.n_embd_s == 2048 * 64  # n_embd * wkv_head_size
