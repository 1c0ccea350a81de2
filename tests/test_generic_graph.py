"""The generic rules read an unknown architecture's graph off its tensor table
(estimate/families/generic_graph.py): the widths llama.cpp loads, a gate or none, fused QKV,
attention beside the FFN, and the compute buffer that follows, held against the llama.cpp dry
runs recorded for the conformance table (tools/conformance/results.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.conformance import seeds
from tools.conformance.__main__ import LAYOUTS, RESULTS
from tools.conformance.compare import estimate
from tools.conformance.synth import Layout, write_layout
from vramtui.core.estimate.families.generic_graph import GenericGraph, read_generic_graph
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.gguf.files import open_local_model


def _layout(arch: str) -> Layout:
    data = json.loads(LAYOUTS.read_text(encoding="utf-8"))[arch]
    layout = seeds.expand(arch, data, data.get("start", ""))
    seeds.realistic_experts(layout)
    return layout


def _hparams(arch: str, tmp_path: Path) -> tuple[Layout, ModelHparams]:
    layout = _layout(arch)
    path = write_layout(layout, tmp_path / f"{arch}.gguf")
    return layout, ModelHparams.from_spec(open_local_model(str(path), mmproj="none"))


def _graph(arch: str, tmp_path: Path) -> tuple[Layout, GenericGraph]:
    layout, hp = _hparams(arch, tmp_path)
    assert hp.graph is not None
    return layout, hp.graph


def test_ungated_ffn_is_read_from_the_tensors(tmp_path: Path) -> None:
    layout, g = _graph("gpt2", tmp_path)
    assert "blk.0.ffn_gate.weight" not in layout.tensors
    assert not g.gated and g.fused_qkv and not g.parallel
    assert g.n_ff == (layout.tensors["blk.0.ffn_up.weight"][1],) * len(g.n_ff)


def test_width_is_the_loaded_one_not_the_key(tmp_path: Path) -> None:
    # qwen loads {n_embd, n_ff/2}; dbrx sizes its experts by feed_forward_length
    layout, g = _graph("qwen", tmp_path)
    assert g.gated and g.n_ff[0] == layout.tensors["blk.0.ffn_down.weight"][0]
    assert g.n_ff[0] * 2 == layout.metadata["qwen.feed_forward_length"]
    layout, hp = _hparams("dbrx", tmp_path)
    assert hp.n_ff_exp == layout.tensors["blk.0.ffn_up_exps.weight"][1]
    assert hp.n_ff_exp != layout.metadata["dbrx.expert_feed_forward_length"]


def test_gate_fused_into_up_counts_as_gated(tmp_path: Path) -> None:
    layout, g = _graph("chatglm", tmp_path)
    assert "blk.0.ffn_gate.weight" not in layout.tensors
    assert g.gated and 2 * g.n_ff[0] == layout.tensors["blk.0.ffn_up.weight"][1]


def test_ungated_experts_and_parallel_blocks(tmp_path: Path) -> None:
    _, g = _graph("ernie4_5-moe", tmp_path)
    assert not g.exp_gated and g.n_ff_exp and all(g.moe_layers)
    _, g = _graph("falcon", tmp_path)
    assert g.parallel and not g.gated


def test_known_architectures_keep_their_own_rules(tmp_path: Path) -> None:
    _, hp = _hparams("llama", tmp_path)
    assert hp.graph is None


def test_no_blocks_keep_the_keys() -> None:
    assert read_generic_graph("x", (), 4) is None


def test_blocks_without_ffn_tensors_have_no_ffn(tmp_path: Path) -> None:
    layout, g = _graph("mimo2", tmp_path)
    assert not any(".ffn_up" in name or ".ffn_down" in name for name in layout.tensors)
    assert g.n_ff == (0,) * len(g.n_ff)


# gpt2-style (no gate, biases, fused QKV), parallel blocks, half-width FFN, MoE sized by the
# dense key, ungated experts, and grok, which llama.cpp runs without flash attention
ARCHS = [
    "gpt2",
    "bloom",
    "arcee",
    "falcon",
    "phi2",
    "qwen",
    "dbrx",
    "phimoe",
    "ernie4_5-moe",
    "grok",
]


@pytest.mark.parametrize("arch", ARCHS)
def test_compute_matches_llama_cpps_dry_run(arch: str, tmp_path: Path) -> None:
    layout = _layout(arch)
    path = write_layout(layout, tmp_path / f"{arch}.gguf")
    for m in json.loads(RESULTS.read_text(encoding="utf-8"))[arch]["measures"]:
        ref = m["ref"]["compute"]
        assert estimate(path, m["parallel"])["compute"] == pytest.approx(ref, rel=0.05)
