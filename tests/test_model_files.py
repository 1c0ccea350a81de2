"""Local model files: single files, folders, split models, projector pairing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.gguf_files import (
    llama_metadata,
    llama_tensors,
    write_gguf,
    write_projector,
    write_split_gguf,
    write_tiny_model,
)
from vramtui.core.errors import ModelFileError, ModelReferenceError
from vramtui.core.gguf.files import (
    find_split_shards,
    is_projector,
    open_local_model,
    split_info,
)
from vramtui.core.gguf.reader import read_gguf_header
from vramtui.core.model.source import open_model


def test_single_file(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "tiny-F32.gguf")
    spec = open_local_model(str(path))
    assert spec.name == "Tiny Test"
    assert spec.architecture == "llama"
    assert spec.file_size == path.stat().st_size
    assert spec.source == str(path)
    assert spec.shards == ()
    assert spec.mmproj is None
    assert len(spec.tensors) == 21
    assert all(t.shard == 0 for t in spec.tensors)
    assert spec.tensors == read_gguf_header(path).tensors
    # 2 layers of 64x64 q/k/v/o + 3 x 64x128 ffn + norms, and 2 x 64x256 embeddings/output
    assert spec.n_params == 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64 + 2 * 64 * 256


def test_name_falls_back_to_stem(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "My-Model-Q4_K_M.gguf", name=None)
    assert open_local_model(str(path)).name == "My-Model-Q4_K_M"


def test_through_open_model_dispatcher(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "m.gguf")
    assert open_model(str(path)).name == "Tiny Test"


def test_folder_with_one_model_and_projector(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "Qwen3-VL-2B-Q4_K_M.gguf")
    proj = write_projector(tmp_path / "mmproj-Qwen3-VL-2B-F16.gguf")
    spec = open_local_model(str(tmp_path))
    assert spec.source == str(model)
    assert spec.mmproj is not None
    assert spec.mmproj.source == str(proj)
    assert spec.mmproj.architecture == "clip"
    assert spec.mmproj.name == "Tiny Projector"
    assert spec.mmproj.file_size == proj.stat().st_size
    assert spec.notes == ()
    # the same pairing when the file is named
    assert open_local_model(str(model)).mmproj == spec.mmproj


def test_mmproj_none_and_path(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "m.gguf")
    write_projector(tmp_path / "mmproj-a.gguf")
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    chosen = write_projector(elsewhere / "vision-proj.gguf", name="Chosen")
    assert open_local_model(str(model), mmproj="none").mmproj is None
    spec = open_local_model(str(model), mmproj=str(chosen))
    assert spec.mmproj is not None and spec.mmproj.name == "Chosen"


def test_mmproj_path_errors(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "m.gguf")
    (tmp_path / "sub").mkdir()
    other = write_tiny_model(tmp_path / "sub" / "other.gguf")
    with pytest.raises(ModelFileError, match="not a multimodal projector"):
        open_local_model(str(model), mmproj=str(other))
    with pytest.raises(ModelReferenceError, match="no such projector"):
        open_local_model(str(model), mmproj=str(tmp_path / "nope.gguf"))


def test_projector_named_for_another_model_is_left_out(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "gemma-3-4b-it-Q4_K_M.gguf")
    write_projector(tmp_path / "mmproj-aaa-other-F16.gguf", name="Other")
    write_projector(tmp_path / "mmproj-gemma-3-4b-it-F16.gguf", name="Gemma")
    spec = open_local_model(str(model))
    assert spec.mmproj is not None and spec.mmproj.name == "Gemma"
    assert spec.notes == (
        "projector mmproj-aaa-other-F16.gguf left out: its name names another model (aaa, other)",
    )


def test_projector_of_another_width_is_left_out(tmp_path: Path) -> None:
    """A Qwen3-VL-32B projector (width 5120) beside a model of another width is not paired,
    whatever its name says."""
    model = write_tiny_model(tmp_path / "glm-4.7-flash-Q4_K_M.gguf")
    n_embd = open_local_model(str(model), mmproj="none").meta("embedding_length")
    assert isinstance(n_embd, int)
    write_projector(tmp_path / "mmproj-F16.gguf", projection_dim=n_embd + 1)
    spec = open_local_model(str(model))
    assert spec.mmproj is None
    assert spec.notes == (
        f"projector mmproj-F16.gguf left out: projects to width {n_embd + 1}, the model's "
        f"embedding width is {n_embd}",
    )
    write_projector(tmp_path / "mmproj-model-f16.gguf", projection_dim=n_embd)
    assert open_local_model(str(model)).mmproj is not None  # the one that fits is paired


def test_ambiguous_projectors_pair_none(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "x.gguf")
    n_embd = open_local_model(str(model), mmproj="none").meta("embedding_length")
    assert isinstance(n_embd, int)
    write_projector(tmp_path / "mmproj-x-f16.gguf", projection_dim=n_embd)
    write_projector(tmp_path / "mmproj-x-bf16.gguf", projection_dim=n_embd)
    write_projector(tmp_path / "mmproj-b.gguf", name="B")
    spec = open_local_model(str(model))
    assert spec.mmproj is None
    assert spec.notes[0] == "projector mmproj-b.gguf left out: its name names another model (b)"
    assert spec.notes[1].startswith("2 projectors could belong to this model")
    assert "--mmproj PATH" in spec.notes[1]


def test_file_named_mmproj_that_is_not_a_projector_is_not_paired(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "x.gguf")
    write_tiny_model(tmp_path / "mmproj-fake.gguf")
    assert open_local_model(str(model)).mmproj is None


def test_projector_opened_as_model(tmp_path: Path) -> None:
    proj = write_projector(tmp_path / "mmproj-x.gguf")
    with pytest.raises(ModelFileError, match="projector") as info:
        open_local_model(str(proj))
    assert str(proj) in str(info.value)
    # also when its name does not say so (architecture clip in the header)
    renamed = tmp_path / "vision.gguf"
    proj.rename(renamed)
    with pytest.raises(ModelFileError, match="projector"):
        open_local_model(str(renamed))
    only = tmp_path / "p"
    only.mkdir()
    write_projector(only / "mmproj.gguf")
    with pytest.raises(ModelReferenceError, match="only a projector"):
        open_local_model(str(only))


def test_folder_with_several_models(tmp_path: Path) -> None:
    write_tiny_model(tmp_path / "a-Q4_K_M.gguf")
    write_tiny_model(tmp_path / "b-Q8_0.gguf")
    write_projector(tmp_path / "mmproj-a.gguf")
    with pytest.raises(ModelReferenceError) as info:
        open_local_model(str(tmp_path))
    message = str(info.value)
    assert "2 models" in message
    assert "a-Q4_K_M.gguf" in message and "b-Q8_0.gguf" in message
    assert "mmproj" not in message
    assert "\n" not in message


def test_empty_folder_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ModelReferenceError, match=r"no \.gguf model"):
        open_local_model(str(tmp_path))
    with pytest.raises(ModelReferenceError, match="no such file"):
        open_local_model(str(tmp_path / "missing.gguf"))


def _split_model(tmp_path: Path) -> list[Path]:
    meta = llama_metadata(n_layers=3)
    return write_split_gguf(
        tmp_path / "Big-Model-Q4_0.gguf",
        "llama",
        meta,
        llama_tensors(n_layers=3),
        tensors_per_shard=12,
    )


def test_split_model_read_as_one(tmp_path: Path) -> None:
    shards = _split_model(tmp_path)
    assert [s.name for s in shards] == [f"Big-Model-Q4_0-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    spec = open_local_model(str(shards[0]))
    assert spec.shards == tuple(str(s) for s in shards)
    assert spec.file_size == sum(s.stat().st_size for s in shards)
    assert len(spec.tensors) == 3 + 9 * 3
    assert [t.shard for t in spec.tensors] == [0] * 12 + [1] * 12 + [2] * 6
    assert spec.tensors[12].name == read_gguf_header(shards[1]).tensors[0].name
    assert spec.metadata["llama.block_count"] == 3
    assert spec.name == "Tiny Test"
    # a later shard opens the same model, and so does the folder
    assert open_local_model(str(shards[2])) == spec
    assert open_local_model(str(tmp_path)) == spec
    assert find_split_shards(shards[1]) == shards
    assert split_info(shards[1]) == (2, 3)


def test_split_model_missing_shard(tmp_path: Path) -> None:
    shards = _split_model(tmp_path)
    shards[1].unlink()
    with pytest.raises(ModelFileError, match="shard 2 of 3 is missing") as info:
        open_local_model(str(shards[0]))
    assert str(shards[1]) in str(info.value)


def test_split_shard_renamed_alone(tmp_path: Path) -> None:
    shards = _split_model(tmp_path)
    lone = tmp_path / "renamed.gguf"
    os.rename(shards[0], lone)
    with pytest.raises(ModelFileError, match="split model"):
        open_local_model(str(lone))


def test_truncated_model_names_file(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "cut.gguf", "llama", llama_metadata(), llama_tensors())
    os.truncate(path, path.stat().st_size - 100)
    with pytest.raises(ModelFileError, match="past the end of the file") as info:
        open_local_model(str(path))
    assert str(info.value).startswith(str(path))


def test_is_projector(tmp_path: Path) -> None:
    assert is_projector(read_gguf_header(write_projector(tmp_path / "p.gguf")))
    assert not is_projector(read_gguf_header(write_tiny_model(tmp_path / "m.gguf")))
