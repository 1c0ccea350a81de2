"""The synthesizer: tensor tables and quant mixes that reproduce real files' sizes, and sparse
GGUF files that gguf-py reads back as written."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf import GGUFReader

from tests.support.oracle_models import MODELS
from vramtui.core.catalog.synth import synthesize_projector, synthesize_spec
from vramtui.core.errors import VramtuiError
from vramtui.core.gguf.spec import SkippedArray
from vramtui.core.gguf.writer import write_sparse_gguf

GIB = 2**30

# Sizes of real files as llama.cpp reports them (GiB; print_info "file size" / llama-bench
# "size" = tensor bytes) or as the HF README lists them (GB), collected in
# shared/research/models.json with their sources (ARCB70, LOG02, LOG04, LOG06, LOG07, BART_*).
KNOWN_SIZES = [
    ("Qwen3-32B", "Q4_K_M", 18.40, "GiB"),
    ("Qwen3-32B", "Q8_0", 34.82, "GB"),
    ("Qwen3-32B", "BF16", 65.53, "GB"),
    ("Llama-3.1-8B", "Q4_K_M", 4.58, "GiB"),
    ("Llama-3.1-8B", "Q5_K_M", 5.33, "GiB"),
    ("Llama-3.1-8B", "Q8_0", 7.95, "GiB"),
    ("Llama-3.1-8B", "Q4_0", 4.33, "GiB"),
    ("Qwen3-30B-A3B", "Q4_K_M", 17.28, "GiB"),
    ("Qwen3-30B-A3B", "Q5_K_M", 20.23, "GiB"),
    ("Qwen3-30B-A3B", "Q6_K", 25.10, "GB"),
    ("Qwen3-30B-A3B", "Q8_0", 32.48, "GB"),
    ("gpt-oss-20b", "MXFP4", 11.27, "GiB"),
    ("GLM-4.7-Flash", "Q4_K_M", 17.05, "GiB"),
    ("Gemma-3-27B", "Q4_K_M", 15.40, "GiB"),
    ("GLM-4.5-Air", "Q4_K_M", 67.96, "GiB"),
    ("Mistral-Small-24B", "Q4_K_M", 13.34, "GiB"),
]


@pytest.mark.parametrize(("name", "quant", "size", "unit"), KNOWN_SIZES)
def test_size_within_3_percent_of_the_real_file(
    name: str, quant: str, size: float, unit: str
) -> None:
    spec = synthesize_spec(MODELS[name][0], quant, name=name, source="test")
    assert spec.synthesized
    ours = spec.weights_bytes / GIB if unit == "GiB" else spec.file_size / 1e9
    assert abs(ours - size) <= 0.03 * size, (ours, size)


def test_q4_k_m_mix_follows_llama_quant() -> None:
    spec = synthesize_spec(MODELS["Llama-3.1-8B"][0], "Q4_K_M", name="l", source="t")
    types = {t.name: t.type_name for t in spec.tensors}
    assert types["output.weight"] == "Q6_K"
    assert types["token_embd.weight"] == "Q4_K"
    assert types["blk.0.attn_norm.weight"] == "F32"
    assert types["blk.0.attn_q.weight"] == "Q4_K"
    # use_more_bits: first eighth (layers 0-3 of 32), then every third, last eighth
    assert types["blk.0.attn_v.weight"] == "Q6_K" and types["blk.0.ffn_down.weight"] == "Q6_K"
    assert types["blk.4.ffn_down.weight"] == "Q4_K"
    assert types["blk.6.ffn_down.weight"] == "Q6_K"
    assert types["blk.31.ffn_down.weight"] == "Q6_K"
    assert spec.metadata["general.file_type"] == 15


def test_moe_router_stays_f32_and_odd_rows_fall_back() -> None:
    spec = synthesize_spec(MODELS["gpt-oss-20b"][0], "Q4_K_M", name="g", source="t")
    types = {t.name: t.type_name for t in spec.tensors}
    assert types["blk.0.ffn_gate_inp.weight"] == "F32"
    # 2880 is not a multiple of 256: K-quants fall back to the 32-blocks
    assert types["blk.0.attn_q.weight"] == "Q5_0"
    # experts stay MXFP4 at every file type (unsloth's gpt-oss-20b Q4_K_M is 11.6 GB, F16 13.8)
    assert types["blk.0.ffn_up_exps.weight"] == "MXFP4"
    assert 11.0e9 < spec.file_size < 12.2e9
    mx = synthesize_spec(MODELS["gpt-oss-20b"][0], "MXFP4", name="g", source="t")
    assert {t.type_name for t in mx.tensors if "_exps.weight" in t.name} == {"MXFP4"}


def test_sparse_file_reads_back(tmp_path: Path) -> None:
    spec = synthesize_spec(MODELS["Qwen3-30B-A3B"][0], "Q4_K_M", name="q", source="t")
    path = write_sparse_gguf(tmp_path / "q.gguf", spec)
    st = path.stat()
    assert st.st_size >= spec.weights_bytes
    assert abs(st.st_size - spec.file_size) < 0.01 * spec.file_size
    assert st.st_blocks * 512 < 32 * 2**20  # sparse: the data section is a hole
    reader = GGUFReader(path)
    got = {t.name: (tuple(int(x) for x in t.shape), int(t.tensor_type)) for t in reader.tensors}
    want = {t.name: (t.shape, t.ggml_type) for t in spec.tensors}
    assert got == want
    fields = reader.fields
    assert int(fields["qwen3moe.expert_count"].parts[-1][0]) == 128
    assert len(fields["tokenizer.ggml.tokens"].data) == 151936


def test_per_layer_arrays_are_written(tmp_path: Path) -> None:
    spec = synthesize_spec(MODELS["LFM2-1.2B"][0], "Q8_0", name="lfm", source="t")
    names = {t.name for t in spec.tensors}
    assert "blk.2.attn_k.weight" in names and "blk.0.shortconv.in_proj.weight" in names
    assert "blk.0.attn_k.weight" not in names
    path = write_sparse_gguf(tmp_path / "lfm.gguf", spec)
    field = GGUFReader(path).fields["lfm2.attention.head_count_kv"]
    assert [int(field.parts[i][0]) for i in field.data] == list(
        MODELS["LFM2-1.2B"][0]["lfm2.attention.head_count_kv"]  # type: ignore[arg-type]
    )


def test_unknown_architecture_and_bad_input_are_one_line_errors() -> None:
    md = {
        "general.architecture": "nosucharch",
        "nosucharch.block_count": 2,
        "nosucharch.embedding_length": 64,
        "tokenizer.ggml.tokens": SkippedArray(8, 100),
    }
    with pytest.raises(VramtuiError, match="nosucharch"):
        synthesize_spec(md, "Q4_K_M", name="x", source="t")
    with pytest.raises(VramtuiError, match="quantization"):
        synthesize_spec(MODELS["Qwen3-32B"][0], "Q9_Z", name="x", source="t")
    with pytest.raises(VramtuiError, match="block_count"):
        synthesize_spec({"general.architecture": "llama"}, "Q4_K_M", name="x", source="t")


def test_projector() -> None:
    mm = synthesize_projector(
        {
            "clip.vision.embedding_length": 1152,
            "clip.vision.block_count": 27,
            "clip.vision.projection_dim": 5120,
        },
        "F16",
    )
    assert mm.architecture == "clip"
    assert 0.5 * GIB < mm.weights_bytes < 1.5 * GIB  # Qwen3-VL mmproj F16 files are ~1.1 GB
