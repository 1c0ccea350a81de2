"""Hostile model files after the parser: values inside a valid header that the estimate, the fit
and the recommendation must refuse with one line naming the key, never a traceback, an
allocation sized by a value, or a verdict built on nonsense; tensor tables llama.cpp refuses;
names that try to be markup or terminal escapes."""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.gguf_files import llama_metadata, llama_tensors, write_gguf
from tests.support.hostile import Tally, base_specs, mutations, pipeline, run_case, traced_peak
from tests.support.raw_gguf import pack_kv, pack_tensor, raw_gguf
from vramtui.cli.main import main
from vramtui.core.errors import ModelFileError
from vramtui.core.gguf.reader import MAX_KV, read_gguf_header
from vramtui.core.gguf.spec import MetaValue, ModelSpec, SkippedArray
from vramtui.core.model.source import open_model

FUZZ_SEED = 20240611
FUZZ_COUNT = 300
HANG_S = 10.0  # far above any one input (a few ms); only a hang or a blow-up gets near it


def test_metadata_fuzz_through_estimate_check_and_recommend() -> None:
    """Seeded mutations of seven real architectures' metadata: every input is answered or
    refused with one line; none is an internal error, none near a hang."""
    tally = Tally()
    for what, spec in mutations(FUZZ_SEED, FUZZ_COUNT):
        run_case(tally, what, lambda spec=spec: pipeline(spec), HANG_S)  # type: ignore[misc]
    assert tally.internal == [], "\n".join(tally.internal or [])
    assert tally.slow == []
    assert tally.tried == FUZZ_COUNT
    assert tally.answered > 20 and tally.refused > 100  # both paths are exercised


def _llama(**changes: MetaValue) -> ModelSpec:
    spec = base_specs()[0]
    return replace(spec, metadata={**spec.metadata, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"llama.block_count": 2**31}, "llama.block_count: 2147483648 is over the limit of 512"),
        ({"llama.block_count": math.nan}, "llama.block_count: nan where a whole number"),
        ({"llama.block_count": 0}, "llama.block_count: 0 is below 1"),
        ({"llama.attention.head_count_kv": -8}, "head_count_kv: -8 is below 0"),
        ({"llama.attention.head_count_kv": 0}, "head_count_kv: 0 for layer 0, which keeps a KV"),
        ({"llama.embedding_length": math.inf}, "embedding_length: inf where a whole number"),
        ({"llama.embedding_length": 0}, "embedding_length: 0 is below 1"),
        ({"llama.context_length": "lots"}, "context_length: the text 'lots'"),
        ({"llama.context_length": 1e300}, "context_length: 1e+300 where a whole number"),
        ({"llama.feed_forward_length": (14336,) * 31}, "31 items, expected 32 (one per layer)"),
        ({"llama.attention.head_count": SkippedArray(5, 10**6)}, "an array of 1000000 items"),
        ({"llama.attention.head_count": (32,) * 31 + (math.nan,)}, "head_count[31]: nan"),
        ({"llama.expert_count": 8, "llama.expert_used_count": 9}, "9 is more than expert_count"),
        ({"llama.expert_count": 8}, "expert_used_count: missing or 0 with 8 experts"),
        ({"llama.rope.dimension_count": (1, 2)}, "where one whole number belongs"),
        ({"llama.attention.key_length": True}, "the boolean True where a whole number"),
        ({"general.architecture": 7}, "general.architecture: 7 where a name belongs"),
        ({"llama.block_count": 16}, "the file holds tensor 'blk.16."),
        ({"llama.embedding_length": 2048}, "token_embd.weight is 4096 wide"),
    ],
)
def test_each_bad_value_names_its_key(changes: dict[str, MetaValue], message: str) -> None:
    spec = _llama(**changes)
    with pytest.raises(ModelFileError) as err:
        pipeline(spec)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_projector_with_bad_values_is_refused() -> None:
    vl = base_specs()[-1]
    assert vl.mmproj is not None
    for key, value in (("clip.vision.patch_size", 0), ("clip.vision.image_size", math.nan)):
        bad = replace(vl, mmproj=replace(vl.mmproj, metadata={**vl.mmproj.metadata, key: value}))
        with pytest.raises(ModelFileError, match=key.replace(".", r"\.")):
            pipeline(bad)


def _model(path: Path, **meta: MetaValue) -> Path:
    metadata = {**llama_metadata(), **meta}
    return write_gguf(path, "llama", metadata, llama_tensors())


def test_a_huge_block_count_costs_nothing_per_layer(tmp_path: Path) -> None:
    """block_count 2^31 in a small file: refused before anything is built per layer."""
    path = _model(tmp_path / "m.gguf", **{"llama.block_count": 2**31})

    def run() -> None:
        with pytest.raises(ModelFileError, match="block_count: 2147483648 is over the limit"):
            pipeline(open_model(str(path), mmproj="none"))

    assert traced_peak(run) < 32 << 20


def _within(seconds: float, work: Callable[[], object]) -> object:
    """Run `work` in a thread; fail (instead of hanging the suite) when it does not end."""
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(_outcome(work)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "hung"
    return box[0]


def _outcome(work: Callable[[], object]) -> object:
    try:
        return work()
    except Exception as err:
        return err


def test_not_regular_files_are_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "trap.gguf"
    os.mkfifo(fifo)
    for target in (str(fifo), "/dev/zero"):
        err = _within(20, lambda target=target: open_model(target, mmproj="none"))  # type: ignore[misc]
        assert isinstance(err, ModelFileError) and "not a regular file" in str(err)
    assert _within(20, lambda: main(["inspect", str(fifo)])) == 2
    assert "FIFO" in capsys.readouterr().err
    folder = tmp_path / "models"
    folder.mkdir()
    os.mkfifo(folder / "a.gguf")
    _model(folder / "real-Q8_0.gguf")
    assert _within(20, lambda: main(["models", "--dir", str(folder)])) == 0
    out, err_text = capsys.readouterr()
    assert "real-Q8_0" in out and "a.gguf" in err_text


def test_tensor_tables_llama_cpp_refuses(tmp_path: Path) -> None:
    kvs = [pack_kv("general.architecture", 8, "llama")]
    overlap = raw_gguf(
        kvs, [pack_tensor("a", (32,), 0, 0), pack_tensor("b", (32,), 0, 0)], data=256
    )
    (tmp_path / "overlap.gguf").write_bytes(overlap)
    with pytest.raises(ModelFileError, match="'b' has data offset 0, expected 128"):
        read_gguf_header(tmp_path / "overlap.gguf")
    long_name = raw_gguf(kvs, [pack_tensor("x" * 64, (32,), 0, 0)], data=128)
    (tmp_path / "long.gguf").write_bytes(long_name)
    with pytest.raises(ModelFileError, match="64 bytes long"):
        read_gguf_header(tmp_path / "long.gguf")
    many = raw_gguf([pack_kv(f"k{i}", 0, 1) for i in range(MAX_KV + 1)])
    (tmp_path / "many.gguf").write_bytes(many)
    with pytest.raises(ModelFileError, match="over the limit of 65536 keys"):
        read_gguf_header(tmp_path / "many.gguf")


def test_a_tensor_in_two_shards_is_refused(tmp_path: Path) -> None:
    rows = llama_tensors()
    for index, shard_rows in enumerate((rows, rows[:3]), start=1):
        meta = {**llama_metadata(), "split.no": index - 1, "split.count": 2}
        write_gguf(tmp_path / f"M-0000{index}-of-00002.gguf", "llama", meta, shard_rows)
    with pytest.raises(ModelFileError, match=r"'token_embd\.weight' is also in shard 1"):
        open_model(str(tmp_path / "M-00001-of-00002.gguf"), mmproj="none")


HOSTILE_NAME = "[/]\x1b]52;c;aGk=\x07\x1b[31mred[bold]\nfits\n" + "y" * 65536


@pytest.mark.parametrize(
    "command",
    [
        ["inspect"],
        ["estimate"],
        ["check", "--machine", "desktop-rtx-4090"],
        ["recommend", "--machine", "framework-desktop-128gb"],
    ],
)
def test_names_are_text_in_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path = _model(
        tmp_path / "evil.gguf", **{"general.name": HOSTILE_NAME, "general.architecture": "llama"}
    )
    verb, *rest = command
    for extra in ([], ["--json"]):
        code = main([verb, str(path), "--mmproj", "none", *rest, *extra])
        out, err = capsys.readouterr()
        assert code in (0, 1, 3), err
        assert "\x1b" not in out + err and "\x07" not in out + err
        if extra:
            data = json.loads(out)  # JSON escapes as JSON does: the name survives exactly
            name = (
                data["model"]["name"] if verb == "estimate" else data.get("name", data.get("model"))
            )
            assert name == HOSTILE_NAME
        else:
            assert [line for line in out.splitlines() if line.strip() == "fits"] in ([], ["fits"])
            assert "[/]" in out and "\\x1b" in out
            assert max(len(line) for line in out.splitlines()) < 2000  # long names shortened


async def test_the_app_shows_hostile_names_as_text(tmp_path: Path) -> None:
    from tests.app.conftest import make_app, settle  # noqa: PLC0415 - the app loads textual
    from tests.app.test_no_repr_on_screen import _screen_text  # noqa: PLC0415

    path = _model(tmp_path / "evil.gguf", **{"general.name": HOSTILE_NAME[:200]})
    app = make_app(model=str(path))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        text = _screen_text(app)
    assert "[/]" in text and "\\x1b" in text and "red[bold]" in text
    assert "\x1b" not in text
    assert re.search(r"^\s*fits\b", text, re.MULTILINE) is None  # no forged verdict line


def test_errors_never_escape_to_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = tmp_path / "\x1b[2J\x1b]52;c;aGk=\x07.gguf"
    evil.write_bytes(b"NOPE" * 10)
    assert main(["inspect", str(evil)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b" in err and err.count("\n") == 1
