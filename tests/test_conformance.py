"""The conformance table (docs/conformance.md, `python -m tools.conformance`): it covers every
architecture of the checked-in list, the list is the pinned llama.cpp's, and the synthesizer
answers llama.cpp's loader errors as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.conformance import archlist, catalog, seeds
from tools.conformance.__main__ import DOC, pinned_source
from tools.conformance.archlist import KINDS
from tools.conformance.oracle import parse as oracle_parse
from tools.conformance.synth import N_VOCAB, PLACEHOLDER, Layout, seed, step
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


@pytest.mark.rpc_oracle  # the pinned source comes with the oracle's build (make rpc-oracle)
def test_list_matches_the_pinned_source() -> None:
    arch_cpp = pinned_source() / "src" / "llama-arch.cpp"
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


def test_step_gives_an_moe_realistic_experts() -> None:
    lay = seed("olmoe")
    assert step(lay, "llama_model_load: error loading model: n_expert must be > 0")
    assert lay.metadata["olmoe.expert_count"] == seeds.EXPERTS[0]
    assert lay.metadata["olmoe.expert_used_count"] == seeds.EXPERTS[1]


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


def test_a_supported_architecture_starts_from_the_catalog_table() -> None:
    origin, lay = seeds.start("qwen35moe")
    assert origin.startswith(seeds.CATALOG_ORIGIN)
    assert lay.metadata["qwen35moe.block_count"] == len(
        {n.split(".")[1] for n in lay.tensors if n.startswith("blk.")}
    )
    assert lay.tensors["token_embd.weight"][1] == N_VOCAB
    # layouts.json keeps only what the catalog table does not write again
    lay.tensors["blk.0.extra.weight"] = [7]
    kept = seeds.compact(lay, origin)
    assert kept["tensors"] == {"blk.0.extra.weight": [7]}
    assert seeds.expand("qwen35moe", kept, origin).tensors == lay.tensors


def test_an_unsupported_architecture_starts_from_generic_dims_and_its_hints() -> None:
    origin, lay = seeds.start("hrm_text")
    assert origin == "generic dims + hints.json"
    assert lay.metadata["hrm_text.hrm.h_cycles"] == 2
    _, rwkv = seeds.start("rwkv6")
    assert [n for n in rwkv.tensors if "lerp_fused" in n] == [
        f"blk.{il}.time_mix_lerp_fused.weight" for il in range(4)
    ]
    assert seeds.start("falcon")[0] == "generic dims"


def test_old_generic_experts_become_realistic() -> None:
    lay = Layout("x", {"x.expert_count": 4, "x.expert_used_count": 2})
    lay.tensors = {"blk.0.ffn_up_exps.weight": [2048, 512, 4], "blk.0.attn_q.weight": [4, 4]}
    assert seeds.realistic_experts(lay)
    assert lay.metadata == {"x.expert_count": 64, "x.expert_used_count": 8}
    assert lay.tensors == {
        "blk.0.ffn_up_exps.weight": [2048, 512, 64],
        "blk.0.attn_q.weight": [4, 4],
    }
    real = Layout("x", {"x.expert_count": 32, "x.expert_used_count": 4})
    assert not seeds.realistic_experts(real)  # a set's own count is kept


def _cell(ref: int, est: int, pct: float | None) -> dict[str, object]:
    return {"ref": ref, "est": est, "percent": pct}


def test_catalog_rows_are_exact_within_the_bars() -> None:
    ok = {"weights": _cell(10, 10, 0.0), "context": _cell(0, 0, None), "compute": _cell(9, 9, 4.9)}
    off = dict(ok, compute=_cell(9, 10, 11.0))
    rows = {
        "a": {"quant": "Q4_K_M", "architecture": "llama", "build": "b1", **ok},
        "b": {"quant": "Q4_K_M", "architecture": "qwen3", "build": "b1", **off},
        "c": {"quant": "Q4_K_M", "architecture": "x", "error": "exit 2: no | such"},
    }
    lines = catalog.render(rows)
    assert "**1 of 3 catalog models exact** (same bars as above); 1 not measured." in lines
    assert "| a | Q4_K_M | llama | exact | +0.0 % | 0 vs 0 | +4.9 % |" in lines
    assert "| b | Q4_K_M | qwen3 | differs | +0.0 % | 0 vs 0 | +11.0 % |" in lines
    # the catalog table is not read back as architecture rows
    assert parse_rows("\n".join(["| llama | x |", *lines])) == {"llama": ["x"]}


def test_deepseek4_compressor_states_count_in_the_context() -> None:
    """llama.cpp's context holds the DSV4 compressor states beside the caches (kv and score,
    F32, per layer and stream): the oracle reads their size off the shape line."""
    table = "CPU 245 8 66\n"
    log = "\n".join(
        [
            "0.1 D llama_kv_cache: size =    4.50 MiB (   768 cells,   6 layers,  1/1 seqs)",
            "0.2 D llama_dsv4_comp_state: csa ratio = 4, state = 8 x 1024, streams = 1, "
            "rs_seq = 0, layers = 2, size =    0.12 MiB",
            "0.3 D llama_dsv4_comp_state: hca ratio = 128, state = 128 x 512, streams = 2, "
            "rs_seq = 1, layers = 2, size =    4.00 MiB",
        ]
    )
    got = oracle_parse(table, log, 0)
    assert got.kv_mib == 4.5
    assert got.recurrent_mib * (1 << 20) == 2 * 4 * (8 * 1024 * 2 + 128 * 512 * 2 * 2 * 2)
    assert got.context_mib == got.kv_mib + got.recurrent_mib
