"""The conformance table (docs/conformance.md, `python -m tools.conformance`): it covers every
architecture of the checked-in list, the list is the pinned llama.cpp's, and the synthesizer
answers llama.cpp's loader errors as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.conformance import archlist
from tools.conformance.__main__ import DOC, pinned_source
from tools.conformance.archlist import KINDS
from tools.conformance.synth import PLACEHOLDER, Layout, seed, step
from tools.conformance.table import parse_rows


def test_table_covers_every_listed_architecture() -> None:
    archs = archlist.load()
    rows = parse_rows(DOC.read_text(encoding="utf-8"))
    assert [a["name"] for a in archs] == list(rows)
    for a in archs:
        kind, knows = rows[a["name"]][:2]
        assert kind == KINDS[a["kind"]]
        if a["kind"] not in ("text", "diffusion"):
            assert knows == "not a text model"


def test_every_kind_but_text_says_why() -> None:
    for a in archlist.load():
        assert a["kind"] in KINDS
        assert (a["kind"] == "text") == (a["reason"] == ""), a


def test_list_matches_the_pinned_source() -> None:
    arch_cpp = pinned_source() / "src" / "llama-arch.cpp"
    if not arch_cpp.exists():
        pytest.skip(f"the pinned llama.cpp source is not here ({arch_cpp.name}): `make rpc-oracle`")
    names = archlist.read_source_names(arch_cpp)
    assert [a["name"] for a in archlist.load()] == names
    assert archlist.classify(names) == archlist.load()


def test_read_source_names_reads_the_table(tmp_path: Path) -> None:
    src = tmp_path / "llama-arch.cpp"
    src.write_text(
        "static const std::map<llm_arch, const char *> LLM_ARCH_NAMES = {\n"
        '    { LLM_ARCH_CLIP,  "clip"  }, // dummy\n'
        '    { LLM_ARCH_LLAMA, "llama" },\n'
        '    { LLM_ARCH_UNKNOWN, "(unknown)" },\n'
        "};\n"
        'static const std::map<llm_kv, const char *> LLM_KV_NAMES = { { LLM_KV_X, "x" } };\n'
    )
    assert archlist.read_source_names(src) == ["clip", "llama"]


def test_step_adds_a_missing_key_with_its_default() -> None:
    lay = seed("falcon")
    err = "key not found in model: falcon.attention.layer_norm_epsilon"
    assert step(lay, err)
    assert lay.metadata["falcon.attention.layer_norm_epsilon"] == 1e-5
    assert not step(lay, err)  # the same error twice: no rule answers it


def test_step_retypes_a_key() -> None:
    lay = Layout("x", {"x.attention.sliding_window": 256, "x.xielu.alpha_n": 1})
    assert step(lay, "key x.attention.sliding_window has wrong type i32 but expected type arr")
    assert lay.metadata["x.attention.sliding_window"] == {"type": 5, "value": [256] * 4}
    # some messages name the key without the architecture
    assert step(lay, "key xielu.alpha_n has wrong type u32 but expected type f32")
    assert lay.metadata["x.xielu.alpha_n"] == 1.0
    assert not step(lay, "key xielu.alpha_n has wrong type u32 but expected type f32")


def test_step_gives_an_moe_its_experts() -> None:
    lay = seed("olmoe")
    assert step(lay, "llama_model_load: error loading model: n_expert must be > 0")
    assert lay.metadata["olmoe.expert_count"] == 4
    assert lay.metadata["olmoe.expert_used_count"] == 2


def test_step_learns_a_tensor_shape_and_copies_it_to_later_layers() -> None:
    lay = Layout("x")
    assert step(lay, "llama_model_load: error loading model: missing tensor 'blk.0.attn_q.weight'")
    assert lay.tensors["blk.0.attn_q.weight"] == list(PLACEHOLDER)
    err = (
        "check_tensor_dims: tensor 'blk.0.attn_q.weight' has wrong shape; "
        "expected   2048,   2048, got      7,      1,      1,      1"
    )
    assert step(lay, err)
    assert lay.tensors["blk.0.attn_q.weight"] == [2048, 2048]
    assert step(lay, "create_tensor: tensor 'blk.1.attn_q.weight' not found")
    assert lay.tensors["blk.1.attn_q.weight"] == [2048, 2048]
    assert not step(lay, "ggml.c:4014: GGML_ASSERT(a->ne[0] == b->ne[0]) failed")
