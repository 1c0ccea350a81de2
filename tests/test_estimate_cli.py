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
    data = _json(capsys, ["estimate", str(qwen3_32b), "-c", "16384", "--json"])
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
