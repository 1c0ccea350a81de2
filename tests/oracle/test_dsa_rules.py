"""Which layers keep a DSA indexer key cache, read the way llama.cpp reads it
(src/models/glm-dsa.cpp load_arch_hparams, src/llama-model.cpp create_memory)."""

from __future__ import annotations

from vramtui.core.estimate.families.dsa import attention_extra_bytes, indexer_layers


def test_deepseek32_indexes_every_trunk_layer_and_not_the_mtp_block() -> None:
    assert indexer_layers("deepseek32", {}, 62, 61, 163840) == (True,) * 61 + (False,)


def test_glm_5_and_5_1_index_every_layer() -> None:
    assert all(indexer_layers("glm-dsa", {}, 79, 78, 202752)[:78])


def test_glm_5_2_shares_indexers_after_its_table() -> None:
    flags = indexer_layers("glm-dsa", {}, 79, 78, 1048576)
    assert [il for il, f in enumerate(flags) if f][:5] == [0, 1, 2, 6, 10]
    assert sum(flags) == 21 and not flags[78]


def test_the_files_indexer_types_win_over_the_table() -> None:
    md = {"glm-dsa.attention.indexer.types": (1, 0, 0, 1)}
    assert indexer_layers("glm-dsa", md, 5, 4, 1048576) == (True, False, False, True, False)


def test_other_architectures_have_no_indexer() -> None:
    assert indexer_layers("deepseek2", {}, 4, 4, 163840) == (False,) * 4
    assert attention_extra_bytes(8192, 512, True, 2048, (False,) * 4) == 0


def test_sparse_attention_grows_with_the_cache_and_the_layers() -> None:
    small = attention_extra_bytes(8192, 512, True, 2048, (True,) * 4)
    assert attention_extra_bytes(16384, 512, True, 2048, (True,) * 4) > small
    assert attention_extra_bytes(8192, 512, True, 2048, (True,) * 8) > small
    assert attention_extra_bytes(8192, 512, False, 2048, (True,) * 4) > small
