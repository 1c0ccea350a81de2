"""`vramtui inspect`: human table, --json keys and values, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gguf import LlamaFileType

from tests.support.gguf_files import (
    llama_metadata,
    llama_tensors,
    write_gguf,
    write_projector,
    write_split_gguf,
)
from vramtui.cli.inspect_cmd import format_params
from vramtui.cli.main import main
from vramtui.core.gguf.ggml_types import FILE_TYPE_NAMES

REPO = Path(__file__).resolve().parents[1]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["inspect", *args, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    return data


def q4km_model(path: Path) -> Path:
    """Q4_K attention, Q6_K ffn_down and output, F32 norms: a Q4_K_M-like mix."""
    rows = []
    for name, shape, _ in llama_tensors(
        n_layers=2, n_embd=256, n_ff=512, n_vocab=1000, head_dim=64
    ):
        if len(shape) == 1:
            rows.append((name, shape, 0))
        elif "ffn_down" in name or name == "output.weight":
            rows.append((name, shape, 14))  # Q6_K
        else:
            rows.append((name, shape, 12))  # Q4_K
    meta = llama_metadata(n_layers=2)
    meta["general.file_type"] = 15
    meta["llama.embedding_length"] = 256
    return write_gguf(path, "llama", meta, rows)


def test_json_facts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = q4km_model(tmp_path / "m-Q4_K_M.gguf")
    data = run_json(capsys, str(path), "--mmproj", "none")
    assert data["architecture"] == "llama"
    assert data["name"] == "Tiny Test"
    assert data["file_type"] == "Q4_K_M"
    assert data["n_layers"] == 2
    assert data["n_embd"] == 256
    assert data["n_head"] == 4 and data["n_head_kv"] == 4
    assert data["n_ctx_train"] == 4096
    assert data["n_vocab"] == 256  # the tokens array written, not the embedding rows
    assert data["n_expert"] is None
    assert data["file_size_bytes"] == path.stat().st_size
    assert data["shards"] == []
    assert data["mmproj"] is None
    # counted by hand: per layer 4 attn (q,k,v,o) + gate + up in Q4_K, down in Q6_K, 2 norms;
    # token_embd Q4_K, output Q6_K, output_norm F32
    q4k, q6k, f32 = (
        data["quantization"]["Q4_K"],
        data["quantization"]["Q6_K"],
        data["quantization"]["F32"],
    )
    assert (q4k["tensors"], q6k["tensors"], f32["tensors"]) == (2 * 6 + 1, 2 + 1, 2 * 2 + 1)
    q4k_bytes = 2 * (4 * 256 * 256 + 2 * 256 * 512) // 256 * 144 + 256 * 1000 // 256 * 144
    q6k_bytes = (2 * 512 * 256 + 256 * 1000) // 256 * 210
    assert q4k["bytes"] == q4k_bytes
    assert q6k["bytes"] == q6k_bytes
    assert f32["bytes"] == 5 * 256 * 4
    assert list(data["quantization"]) == ["Q4_K", "Q6_K", "F32"]  # largest first
    n_params = 2 * (4 * 256 * 256 + 3 * 256 * 512 + 2 * 256) + 256 + 2 * 256 * 1000
    assert data["n_params"] == n_params
    assert data["weights_bytes"] == q4k_bytes + q6k_bytes + 5 * 256 * 4


def test_json_moe_split_and_projector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = llama_metadata("qwen3moe", n_layers=3)
    meta["qwen3moe.expert_count"] = 128
    meta["qwen3moe.expert_used_count"] = 8
    shards = write_split_gguf(
        tmp_path / "moe.gguf", "qwen3moe", meta, llama_tensors(n_layers=3), tensors_per_shard=10
    )
    proj = write_projector(tmp_path / "mmproj-moe-F16.gguf")
    data = run_json(capsys, str(shards[0]))
    assert data["architecture"] == "qwen3moe"
    assert (data["n_expert"], data["n_expert_used"]) == (128, 8)
    assert data["shards"] == [str(s) for s in shards]
    assert data["file_size_bytes"] == sum(s.stat().st_size for s in shards)
    assert data["mmproj"]["source"] == str(proj)
    assert data["mmproj"]["projector_type"] == "qwen3vl_merger"
    assert data["mmproj"]["file_size_bytes"] == proj.stat().st_size


def test_human_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = q4km_model(tmp_path / "m.gguf")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    for text in ("llama", "Q4_K_M", "Q6_K", "training context", "4096", "quantization mix"):
        assert text in out


def test_format_params_and_file_types() -> None:
    assert format_params(32_762_123_264) == "32.8 B"
    assert format_params(596_049_920) == "596.0 M"
    assert FILE_TYPE_NAMES[15] == "Q4_K_M"
    # the table agrees with gguf-py's LlamaFileType wherever both name a value
    for member in LlamaFileType:
        if member.value in FILE_TYPE_NAMES:
            assert (
                member.name.removeprefix("MOSTLY_").removeprefix("ALL_")
                == FILE_TYPE_NAMES[member.value]
            )
        else:
            assert member.name == "GUESSED"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"NOTGGUF" + bytes(100), "not a GGUF file"),
        (b"GGUF\x01\x00\x00\x00" + bytes(32), "version 1"),
    ],
)
def test_bad_file_exit_2_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("VRAMTUI_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "vramtui", "inspect", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(bad) in lines[0] and expected in lines[0]


def test_projector_and_folder_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = write_projector(tmp_path / "mmproj-x.gguf")
    assert main(["inspect", str(proj)]) == 2
    assert "projector" in capsys.readouterr().err
    q4km_model(tmp_path / "a.gguf")
    q4km_model(tmp_path / "b.gguf")
    assert main(["inspect", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "2 models" in err and err.count("\n") == 1
