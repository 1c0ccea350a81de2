"""The ZBook article's scenarios on real files: sparse GGUF files shaped like its models, read
back through the header reader (and the projector paired from the folder), give the article's
verdicts through the same command a user types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vramtui.cli.main import main
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.gguf.writer import write_sparse_gguf


def _write_model(folder: Path, ref: str, stem: str) -> Path:
    spec = open_catalog_model(ref)
    assert spec is not None
    folder.mkdir()
    path = write_sparse_gguf(folder / f"{stem}.gguf", spec)
    if spec.mmproj is not None:
        write_sparse_gguf(folder / f"mmproj-{stem}-F16.gguf", spec.mmproj)
    return path


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(
        [
            "check",
            *args,
            "--machine",
            "hp-zbook-ultra-g1a-64gb",
            "--os",
            "windows",
            "--runtime",
            "lmstudio",
            "-c",
            "16384",
            "--json",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_qwen3_vl_q6_file_hits_the_48_plus_16_pitfall(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_model(tmp_path / "qwen", "qwen3-vl-32b:Q6_K", "Qwen3-VL-32B-Instruct-Q6_K")
    assert main(["inspect", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["mmproj"] is not None  # the projector beside it was paired
    total = info["file_size_bytes"] + info["mmproj"]["file_size_bytes"]
    assert abs(total - 28.08e9) / 28.08e9 < 0.03  # the ZBook article's 28.08 GB
    code, at_48 = _check(capsys, str(path), "--carve-out", "48G")
    assert code == 3
    assert at_48["verdict"] == "will_not_fit"
    assert "load_exceeds_system_ram" in at_48["reasons"]  # type: ignore[operator]
    code, at_32 = _check(capsys, str(path), "--carve-out", "32G")
    assert code == 1 and at_32["verdict"] == "fits_with_warnings"  # loads, but spills
    assert "spills_to_shared" in at_32["reasons"]  # type: ignore[operator]


def test_glm_flash_file_spills_at_512m_and_fits_at_32g(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_model(tmp_path / "glm", "glm-4.7-flash:Q4_K_M", "GLM-4.7-Flash-Q4_K_M")
    code, small = _check(capsys, str(path), "--carve-out", "512M")
    assert code == 1 and small["reasons"] == ["spills_to_shared"]
    code, big = _check(capsys, str(path), "--carve-out", "32G")
    assert code == 0 and big["verdict"] == "fits"
    assert big["shared_used_bytes"] == 0
