"""Exact mode answers for the verdict's backend: llama.cpp's RPC backend stands in for the GPU
where its build is here, else the CPU build says so and names the figures that differ; a model
with a projector gets mtmd's own warm-up figures for it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.rpc.oracle import oracle_bin_dir
from vramtui.cli.main import main
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.estimate.compute import projector_compute_bytes, projector_warmup_image
from vramtui.core.estimate.dry_runs.projector import STUB_BLOCKS, text_stub

MIB = 2**20
needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None,
    reason="exact mode needs llama.cpp's Python package: pip install 'vramtui[exact]'",
)
ZBOOK = ["--machine", "hp-zbook-ultra-g1a-64gb", "--carve-out", "32G"]  # Vulkan


def _check_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    code = main(["check", *argv, "--exact", "--json"])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    exact = json.loads(out)["exact"]
    assert isinstance(exact, dict)
    return exact


def test_catalog_projector_keeps_position_embd_in_f32() -> None:
    """ggml_interpolate (clip.cpp resize_position_embeddings) asserts an F32 source: with an
    F16 table llama.cpp aborts in the projector's warm-up."""
    spec = open_catalog_model("qwen3-vl-32b:Q4_K_M")
    assert spec is not None and spec.mmproj is not None
    types = {t.name: t.type_name for t in spec.mmproj.tensors}
    assert types["v.position_embd.weight"] == "F32"
    assert types["v.blk.0.attn_qkv.weight"] == "F16"


def test_projector_compute_is_sized_at_the_warm_up_image() -> None:
    spec = open_catalog_model("qwen3-vl-32b:Q4_K_M")
    assert spec is not None and spec.mmproj is not None
    assert projector_warmup_image(spec.mmproj) == 46 * 16 * 2  # clip.cpp set_warmup_n_tokens
    on, off = projector_compute_bytes(spec.mmproj), projector_compute_bytes(spec.mmproj, False)
    n_pos = (1472 // 16) ** 2
    assert off - on == 4 * n_pos * n_pos * 16  # the KQ matrix flash attention never builds


def test_text_stub_keeps_the_widths_and_cuts_the_blocks() -> None:
    spec = open_catalog_model("qwen3-vl-32b:Q4_K_M")
    assert spec is not None
    stub = text_stub(spec)
    assert stub.metadata["qwen3vl.block_count"] == STUB_BLOCKS
    assert stub.metadata["qwen3vl.embedding_length"] == spec.metadata["qwen3vl.embedding_length"]
    assert not any(t.name.startswith(f"blk.{STUB_BLOCKS}.") for t in stub.tensors)
    assert stub.mmproj is None and len(stub.tensors) < len(spec.tensors)


@needs_llama
@pytest.mark.oracle
def test_cpu_build_for_a_gpu_verdict_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VRAMTUI_RPC_ORACLE_BIN", str(tmp_path))  # no RPC build there
    exact = _check_json(capsys, "glm-4.7-flash:Q4_K_M", *ZBOOK, "-c", "8192")
    assert exact["build"] == "cpu" and exact["verdict_backend"] == "vulkan"
    assert exact["differs_from_verdict"] == ["compute_bytes"]
    main(["check", "glm-4.7-flash:Q4_K_M", *ZBOOK, "-c", "8192", "--exact"])
    out = capsys.readouterr().out
    assert "CPU build, not the vulkan GPU" in out and "compute" in out


@needs_llama
@pytest.mark.oracle
@pytest.mark.rpc_oracle
def test_gpu_verdict_is_checked_on_the_rpc_stand_in(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GLM-4.7-Flash at 128K: the CPU build's compute (5.4 GiB, no flash attention on its graph
    shape) said nothing about the GPU's; the RPC stand-in sizes the GPU graph."""
    monkeypatch.setenv("VRAMTUI_RPC_ORACLE_BIN", str(oracle_bin_dir()))
    exact = _check_json(capsys, "glm-4.7-flash:Q4_K_M", *ZBOOK, "-c", "131072")
    assert exact["build"] == "rpc" and exact["differs_from_verdict"] == []
    diff = exact["difference"]
    assert isinstance(diff, dict)
    assert diff["model_bytes"] == 0 and diff["context_bytes"] == 0
    assert abs(diff["compute_percent"]) <= 10


@needs_llama
@pytest.mark.oracle
def test_projector_is_in_the_exact_answer(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """mtmd's warm-up of the catalog's Qwen3-VL projector: it loads (no abort on the position
    table) and the estimate's projector (weights + compute at 1472 px) is within 1 %."""
    monkeypatch.setenv("VRAMTUI_RPC_ORACLE_BIN", str(tmp_path))
    exact = _check_json(capsys, "qwen3-vl-32b:Q4_K_M", *ZBOOK, "-c", "4096")
    assert exact["projector_image_px"] == 1472
    diff = exact["difference"]
    assert isinstance(diff, dict)
    assert abs(diff["projector_percent"]) <= 1
