"""`vramtui estimate`: JSON keys, the rich table, bad input, and a Qwen3-32B-shaped file at 16K."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.support.oracle_models import MODELS
from vramtui.cli.main import main
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.gguf.writer import write_sparse_gguf

MIB = 2**20


@pytest.fixture(scope="module")
def qwen3_32b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    md, quant = MODELS["Qwen3-32B"]
    spec = synthesize_spec(md, quant, name="Qwen3-32B", source="test")
    return write_sparse_gguf(tmp_path_factory.mktemp("m") / "Qwen3-32B-Q4_K_M.gguf", spec)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_json_has_the_documented_keys(qwen3_32b: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gpu = ["--machine", "hp-zbook-ultra-g1a-64gb"]  # a GPU machine (Vulkan), not the detected one
    data = _json(capsys, ["estimate", str(qwen3_32b), "-c", "16384", *gpu, "--json"])
    for key in (
        "weights_bytes",
        "weights_device_bytes",
        "weights_host_bytes",
        "kv_bytes",
        "compute_device_bytes",
        "compute_host_bytes",
        "mmproj_bytes",
        "total_device_bytes",
        "total_host_bytes",
        "model",
        "settings",
        "machine",
        "machine_source",
    ):
        assert key in data, key
    model = data["model"]
    assert isinstance(model, dict)
    assert model["architecture"] == "qwen3"
    assert model["file_size_bytes"] == qwen3_32b.stat().st_size
    settings = data["settings"]
    assert isinstance(settings, dict) and settings["ctx_size"] == 16384
    # gpu backend, all layers: only token_embd stays on the host
    assert data["weights_host_bytes"] == 151936 * 5120 // 256 * 144  # Q4_K token_embd
    assert data["kv_bytes"] == 64 * 2 * 8 * 128 * 2 * 16384


@pytest.mark.oracle
def test_estimate_prints_llama_cpp_weights_and_kv(
    qwen3_32b: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The estimate of a sparse Qwen3-32B-shaped file at 16K context."""
    from vramtui.core.estimate.llama_dry_run import run_dry_run  # noqa: PLC0415 - lazy: keeps startup fast
    from vramtui.core.estimate.settings import RuntimeSettings  # noqa: PLC0415 - lazy: keeps startup fast

    pytest.importorskip("xllamacpp")
    ref = run_dry_run(qwen3_32b, RuntimeSettings(ctx_size=16384))
    assert not ref.error
    data = _json(
        capsys, ["estimate", str(qwen3_32b), "--ctx-size", "16384", "--backend", "cpu", "--json"]
    )
    assert math.floor(int(data["weights_bytes"]) / MIB) == ref.model_mib  # type: ignore[call-overload]
    assert math.floor(int(data["kv_bytes"]) / MIB) == ref.context_mib  # type: ignore[call-overload]
    # and the table shows the same figures
    assert main(["estimate", str(qwen3_32b), "-c", "16384", "--backend", "cpu"]) == 0
    out = capsys.readouterr().out
    assert f"{ref.model_mib:,}" in out and f"{ref.context_mib:,}" in out


def test_table_lists_buffers(qwen3_32b: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", str(qwen3_32b), "-c", "8192", "-ngl", "10"]) == 0
    out = capsys.readouterr().out
    assert "KV" in out and "compute" in out and "device" in out


def test_bad_settings_exit_2(qwen3_32b: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["estimate", str(qwen3_32b), "-ctv", "q8_0", "-fa", "off"])
    assert code == 2
    err = capsys.readouterr().err
    assert "flash-attn" in err and "Traceback" not in err


def test_missing_model_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", str(tmp_path / "nope.gguf")]) == 2
    assert capsys.readouterr().err.startswith("vramtui:")


SCENARIOS = [
    [],  # the machine the tests run on, as detected (a GPU-less CI box gets the CPU build)
    # check needs the carve-out of a machine with BIOS steps; the breakdown does not
    ["--machine", "hp-zbook-ultra-g1a-64gb", "--carve-out", "512M", "--runtime", "lmstudio"],
    ["--machine", "hp-zbook-ultra-g1a-64gb", "--carve-out", "32G"],
    ["--machine", "desktop-rtx-3060"],  # a discrete card: layers offloaded as llama.cpp --fit
    ["--machine", "framework-desktop-128gb", "--carve-out", "8G", "--backend", "cpu"],
]


@pytest.mark.parametrize("model", ["glm-4.7-flash:Q4_K_M", "qwen3-vl-32b:Q6_K"])
@pytest.mark.parametrize("machine", SCENARIOS)
def test_estimate_and_check_give_one_breakdown(
    model: str, machine: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The same scenario gives the same buffers, compute included, in estimate and check."""
    argv = [model, "-c", "16K", *machine, "--json"]
    est = _json(capsys, ["estimate", *argv])
    main(["check", *argv])
    chk = json.loads(capsys.readouterr().out)
    assert est["compute_device_bytes"] == chk["estimate"]["compute_device_bytes"]
    assert est["compute_host_bytes"] == chk["estimate"]["compute_host_bytes"]
    breakdown = {k: v for k, v in est.items() if k in chk["estimate"]}
    assert breakdown == chk["estimate"]
    assert (est["machine"], est["machine_source"]) == (chk["machine"], chk["machine_source"])
    assert est["backend"] == chk["backend"]
    assert est["machine_source"] == ("given" if machine else "detected")


def test_estimate_says_which_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "glm-4.7-flash:Q4_K_M", "--machine", "desktop-rtx-4090"]) == 0
    out = capsys.readouterr().out
    assert "machine: Desktop PC, RTX 4090 24 GB + 64 GB RAM (--machine; windows, cuda" in out
    assert main(["estimate", "glm-4.7-flash:Q4_K_M", "--machine", "apple-m4-16gb", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["machine"], data["backend"], data["os"]) == ("apple-m4-16gb", "metal", "macos")
    # A backend the machine cannot run is refused, as check refuses it.
    assert (
        main(
            ["estimate", "glm-4.7-flash:Q4_K_M", "--machine", "apple-m4-16gb", "--backend", "cuda"]
        )
        == 2
    )
    assert capsys.readouterr().err.startswith("vramtui:")
