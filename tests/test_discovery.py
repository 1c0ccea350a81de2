"""Local discovery over fake LM Studio / Ollama / HF cache / llama.cpp trees in the test HOME."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.discovery.scan import discover_models
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf
from vramtui.core.paths import config_dir


def _spec(ref: str) -> ModelSpec:
    spec = open_catalog_model(ref)
    assert spec is not None
    return spec


@pytest.fixture(scope="module")
def llama_q4() -> ModelSpec:
    return _spec("llama-3.1-8b:Q4_K_M")


def _write(path: Path, spec: ModelSpec) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_sparse_gguf(path, spec, tokenizer=False)


def _home() -> Path:
    return Path(os.environ["HOME"])


def _ollama_model(root: Path, name: str, tag: str, spec: ModelSpec, proj: ModelSpec | None) -> None:
    layers = []
    for media, s, fill in (
        ("application/vnd.ollama.image.model", spec, "a" * 64),
        ("application/vnd.ollama.image.projector", proj, "b" * 64),
    ):
        if s is None:
            continue
        digest = hashlib.sha256((name + fill).encode()).hexdigest()  # as Ollama names blobs
        _write(root / "blobs" / f"sha256-{digest}", s)
        layers.append({"mediaType": media, "digest": f"sha256:{digest}", "size": 1})
    layers.append({"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:00"})
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / name / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))


def test_finds_every_kind(llama_q4: ModelSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home()
    vl = _spec("qwen3-vl-32b:Q4_K_M")
    assert vl.mmproj is not None
    # LM Studio: PUBLISHER/REPO/FILE, with a projector beside the vision model.
    lms = home / ".lmstudio" / "models" / "lmstudio-community"
    _write(
        lms / "Meta-Llama-3.1-8B-Instruct-GGUF" / "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", llama_q4
    )
    _write(lms / "Qwen3-VL-32B-GGUF" / "Qwen3-VL-32B-Instruct-Q4_K_M.gguf", vl)
    _write(lms / "Qwen3-VL-32B-GGUF" / "mmproj-Qwen3-VL-32B-F16.gguf", vl.mmproj)
    # Ollama under OLLAMA_MODELS.
    oll = home / "ollama-store"
    monkeypatch.setenv("OLLAMA_MODELS", str(oll))
    _ollama_model(oll, "llama3.1", "8b", llama_q4, None)
    _ollama_model(oll, "qwen3-vl", "32b", vl, vl.mmproj)
    # HF cache: snapshot symlinks into blobs, a split model in two shards.
    repo = home / ".cache" / "huggingface" / "hub" / "models--unsloth--Llama-GGUF"
    blob1, blob2 = repo / "blobs" / "x1", repo / "blobs" / "x2"
    _write(blob1, llama_q4)
    _write(blob2, llama_q4)
    snap = repo / "snapshots" / ("c" * 40)
    snap.mkdir(parents=True)
    (snap / "L-Q4_K_M-00001-of-00002.gguf").symlink_to(blob1)
    (snap / "L-Q4_K_M-00002-of-00002.gguf").symlink_to(blob2)
    # llama.cpp cache via LLAMA_CACHE, and a user folder from config.toml.
    cache = home / "llcache"
    monkeypatch.setenv("LLAMA_CACHE", str(cache))
    _write(cache / "ggml-org_gpt-oss-20b-GGUF_gpt-oss-20b-mxfp4.gguf", _spec("gpt-oss-20b"))
    user = home / "my models"
    _write(user / "tiny-Q8_0.gguf", _spec("llama-3.1-8b:Q8_0"))
    config_dir().joinpath("config.toml").write_text(f"model_dirs = [{json.dumps(str(user))}]\n")

    result = discover_models()
    assert result.problems == []
    by_name = {m.name: m for m in result.models}
    assert set(by_name) == {
        "lmstudio-community/Meta-Llama-3.1-8B-Instruct-GGUF/Meta-Llama-3.1-8B-Instruct-Q4_K_M",
        "lmstudio-community/Qwen3-VL-32B-GGUF/Qwen3-VL-32B-Instruct-Q4_K_M",
        "llama3.1:8b",
        "qwen3-vl:32b",
        "unsloth/Llama-GGUF/L-Q4_K_M",
        "ggml-org_gpt-oss-20b-GGUF_gpt-oss-20b-mxfp4",
        "tiny-Q8_0",
    }
    sources = {m.name: m.source for m in result.models}
    assert sources["llama3.1:8b"] == "ollama"
    assert sources["unsloth/Llama-GGUF/L-Q4_K_M"] == "huggingface"
    assert sources["ggml-org_gpt-oss-20b-GGUF_gpt-oss-20b-mxfp4"] == "llamacpp"
    assert sources["tiny-Q8_0"] == "user"
    vl_lms = by_name["lmstudio-community/Qwen3-VL-32B-GGUF/Qwen3-VL-32B-Instruct-Q4_K_M"]
    assert vl_lms.mmproj_path is not None and vl_lms.mmproj_path.endswith("F16.gguf")
    assert vl_lms.architecture == "qwen3vl" and vl_lms.quant == "Q4_K_M"
    assert by_name["qwen3-vl:32b"].mmproj_path is not None
    assert by_name["llama3.1:8b"].quant == "Q4_K_M"  # from the header: blobs have no names
    ollama_blob = by_name["llama3.1:8b"].path
    assert "blobs" in ollama_blob
    assert by_name["llama3.1:8b"].size_bytes == os.path.getsize(ollama_blob)
    split = by_name["unsloth/Llama-GGUF/L-Q4_K_M"]
    assert len(split.shards) == 2
    assert split.size_bytes == os.path.getsize(blob1) + os.path.getsize(blob2)
    assert by_name["ggml-org_gpt-oss-20b-GGUF_gpt-oss-20b-mxfp4"].quant == "MXFP4"
    assert by_name["tiny-Q8_0"].quant == "Q8_0"
    # No projector is listed as a model of its own.
    assert not any("mmproj" in m.path for m in result.models)


def test_lmstudio_configured_folder(llama_q4: ModelSpec, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    _write(moved / "pub" / "repo" / "m-Q4_K_M.gguf", llama_q4)
    settings = _home() / ".lmstudio" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"downloadsFolder": str(moved)}))
    result = discover_models()
    assert [(m.name, m.source) for m in result.models] == [("pub/repo/m-Q4_K_M", "lmstudio")]


def test_second_listing_uses_the_cache(
    llama_q4: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _home() / "models"
    for i in range(5):
        _write(folder / f"m{i}-Q4_K_M.gguf", llama_q4)
    first = discover_models([folder])
    calls: list[Path] = []
    import vramtui.core.discovery.scan as disc  # noqa: PLC0415 - patched below

    real = disc.read_header_facts
    monkeypatch.setattr(disc, "read_header_facts", lambda p: calls.append(p) or real(p))
    second = discover_models([folder])
    assert second.models == first.models and calls == []
    # A changed file (size/mtime) is read again, and only that one.
    _write(folder / "m3-Q4_K_M.gguf", _spec("llama-3.1-8b:Q8_0"))
    third = discover_models([folder])
    assert [p.name for p in calls] == ["m3-Q4_K_M.gguf"]
    assert {m.architecture for m in third.models} == {"llama"}


def test_broken_file_and_unreadable_folder_are_problems(
    llama_q4: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _home() / "models"
    _write(folder / "good-Q4_K_M.gguf", llama_q4)
    (folder / "junk.gguf").write_bytes(b"not a gguf at all, just text")
    locked = folder / "locked"
    _write(locked / "hidden-Q4_K_M.gguf", llama_q4)
    real_scandir = os.scandir

    def scandir(path: str) -> object:  # the tests may run as root: deny like chmod 000 would
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = discover_models([folder, folder])
    assert [m.name for m in result.models] == ["good-Q4_K_M"]
    assert len([p for p in result.problems if "locked" in p]) == 1
    assert any("junk.gguf" in p and "GGUF" in p for p in result.problems)


def test_missing_ollama_blob_is_reported(
    llama_q4: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    oll = _home() / ".ollama" / "models"
    _ollama_model(oll, "gone", "latest", llama_q4, None)
    for blob in (oll / "blobs").iterdir():
        blob.unlink()
    result = discover_models()
    assert result.models == []
    assert any("gone:latest" in p for p in result.problems)


def test_nothing_found_is_empty() -> None:
    result = discover_models()
    assert result.models == [] and result.problems == []


def test_progress_reports_header_reads(llama_q4: ModelSpec) -> None:
    folder = _home() / "models"
    for i in range(3):
        _write(folder / f"m{i}.gguf", llama_q4)
    seen: list[tuple[int, int]] = []
    discover_models([folder], progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
