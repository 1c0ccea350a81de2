"""`vramtui models [--json] [--catalog] [--dir]`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vramtui.cli.main import main
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.gguf.writer import write_sparse_gguf


def _model(folder: Path, name: str) -> Path:
    spec = open_catalog_model("llama-3.1-8b:Q4_K_M")
    assert spec is not None
    folder.mkdir(parents=True, exist_ok=True)
    return write_sparse_gguf(folder / name, spec, tokenizer=False)


def test_models_json_lists_discovered(capsys: pytest.CaptureFixture[str]) -> None:
    home = Path(os.environ["HOME"])
    path = _model(home / ".cache" / "llama.cpp", "org_repo_M-Q4_K_M.gguf")
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["problems"] == []
    [m] = data["models"]
    assert m["source"] == "llamacpp" and m["quant"] == "Q4_K_M"
    assert m["path"] == str(path) and m["size_bytes"] == path.stat().st_size
    assert m["architecture"] == "llama"


def test_models_table_and_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _model(tmp_path / "x", "mine-Q4_K_M.gguf")
    (tmp_path / "x" / "broken.gguf").write_bytes(b"GGUF")
    assert main(["models", "--dir", str(tmp_path / "x")]) == 0
    out, err = capsys.readouterr()
    # File sizes as Hugging Face and LM Studio show them: decimal GB.
    size = f"{path.stat().st_size / 1e9:.2f} GB"
    assert "mine-Q4_K_M" in out and "user" in out and size in out
    assert "broken.gguf" in err and len(err.strip().splitlines()) == 1


def test_models_nothing_found(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    assert "--catalog" in capsys.readouterr().out


def test_models_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--catalog"]) == 0
    out = capsys.readouterr().out
    assert "glm-4.7-flash" in out and "deepseek2" in out and "MXFP4" in out
    assert main(["models", "--catalog", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    ids = [e["id"] for e in data["catalog"]]
    assert "qwen3-vl-32b" in ids
    glm = data["catalog"][ids.index("glm-4.7-flash")]
    assert any(q["name"] == "Q4_K_M" and q["file_size_bytes"] for q in glm["quants"])
