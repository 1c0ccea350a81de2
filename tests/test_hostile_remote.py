"""Hostile HTTP servers on loopback: whatever a server does, a remote open ends within its
total deadline (plus a small grace) with one line naming the URL, after a bounded number of
requests; redirects leave the host only where allowed; a broken cache is read again."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gguf_files import Q8_0, Typed, V, write_gguf, write_test_gguf
from tests.support.hostile_http import BEHAVIOURS, HostileServer, hostile_server
from tests.support.http_server import LoopbackServer, Route, serve
from vramtui.cli.main import main
from vramtui.core.errors import ModelReferenceError, RemoteError
from vramtui.core.gguf.header_cache import cache_path
from vramtui.core.remote.header import RemoteStats, open_remote_model
from vramtui.core.remote.http import Http, RemoteOptions

TOTAL = 1.5
OPTIONS = RemoteOptions(connect_timeout=0.5, read_timeout=0.5, total_timeout=TOTAL, use_cache=False)
# The watchdog waits 0.2 s past the deadline; the rest is room for a loaded CI machine.
SLACK = 1.5


@pytest.fixture(scope="module")
def header(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real GGUF header (a 3 MiB prefix of a model with a 32K vocabulary)."""
    path = write_test_gguf(
        tmp_path_factory.mktemp("hostile") / "m.gguf", n_vocab=32000, file_size=64 << 20
    )
    with path.open("rb") as fh:
        return fh.read(3 << 20)


@pytest.fixture(scope="module")
def hostile(header: bytes) -> Iterator[HostileServer]:
    with hostile_server(header, drip_s=0.05) as server:
        yield server


def test_the_control_answer_parses(hostile: HostileServer) -> None:
    spec = open_remote_model(hostile.url("ok"), mmproj="none", options=OPTIONS)
    assert spec.meta("block_count") == 2


@pytest.mark.parametrize("behaviour", [b for b in BEHAVIOURS if b != "ok"])
def test_every_misbehaviour_is_one_line_within_the_deadline(
    hostile: HostileServer, behaviour: str
) -> None:
    url = hostile.url(behaviour)
    stats = RemoteStats()
    started = time.monotonic()
    with pytest.raises(RemoteError) as err:
        open_remote_model(url, mmproj="none", options=OPTIONS, stats=stats)
    elapsed = time.monotonic() - started
    text = str(err.value)
    assert text.startswith(url) and "\n" not in text
    assert "\x1b" not in text and "\x07" not in text  # server text shown with escapes visible
    assert elapsed < TOTAL + SLACK, f"{behaviour} took {elapsed:.1f} s"
    assert stats.requests <= OPTIONS.max_requests_per_file + OPTIONS.max_redirects


def test_a_dripping_server_is_cut_at_the_deadline_not_per_read(hostile: HostileServer) -> None:
    """A byte every 50 ms never trips a 0.5 s read timeout: only the total deadline stops it."""
    for behaviour in ("drip_headers", "drip_body"):
        with pytest.raises(RemoteError, match=r"gave up after 1\.5 s in total"):
            open_remote_model(hostile.url(behaviour), mmproj="none", options=OPTIONS)


def test_endless_small_ranges_hit_the_request_cap(hostile: HostileServer) -> None:
    stats = RemoteStats()
    with pytest.raises(RemoteError, match="range requests for one header"):
        open_remote_model(
            hostile.url("one_byte_ranges"), mmproj="none", options=OPTIONS, stats=stats
        )
    assert stats.requests == OPTIONS.max_requests_per_file


def test_redirect_to_another_host_only_when_allowed(hostile: HostileServer) -> None:
    url = hostile.url("redirect_offhost")  # to localhost: another host name than 127.0.0.1
    with pytest.raises(RemoteError, match=r"another host \(localhost\).*--allow-redirects"):
        open_remote_model(url, mmproj="none", options=OPTIONS)
    allowed = dataclasses.replace(OPTIONS, allow_redirects=True)
    assert open_remote_model(url, mmproj="none", options=allowed).meta("block_count") == 2


def test_redirect_rules_without_a_network() -> None:
    http = Http(RemoteOptions())
    try:
        hf = "https://huggingface.co/org/repo/resolve/main/m.gguf"
        cdn = http._redirect_target(hf, hf, "https://cas-bridge.xethub.hf.co/xet/abc")
        assert cdn.startswith("https://cas-bridge.xethub.hf.co/")
        with pytest.raises(RemoteError, match="https to plain http"):
            http._redirect_target(hf, hf, "http://huggingface.co/other")
        with pytest.raises(RemoteError, match="another host"):
            http._redirect_target(hf, hf, "https://evil.example/m.gguf")
        plain = "https://example.org/m.gguf"
        with pytest.raises(RemoteError, match="another host"):  # the CDN only from HF itself
            http._redirect_target(plain, plain, "https://cdn-lfs.hf.co/m.gguf")
        with pytest.raises(RemoteError, match="unusable URL"):
            http._redirect_target(plain, plain, "http://[::1/x")
    finally:
        http.close()


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://[::1]:99999/m.gguf", "https://", "http://h:x/"]
)
def test_unparsable_urls_are_refused(url: str) -> None:
    with pytest.raises(ModelReferenceError, match="URL"):
        open_remote_model(url, mmproj="none", options=OPTIONS)


def test_cli_timeout_flag_bounds_inspect(
    hostile: HostileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code = main(["inspect", hostile.url("drip_headers"), "--timeout", "1"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "gave up after 1 s" in err
    assert elapsed < 1 + SLACK
    assert main(["inspect", "http://[::1"]) == 2
    assert "not a usable URL" in capsys.readouterr().err
    for bad in ("0", "nan", "inf", "1e999", "-5"):
        with pytest.raises(SystemExit) as exit_:
            main(["inspect", hostile.url("ok"), "--timeout", bad])
        assert exit_.value.code == 2 and "--timeout" in capsys.readouterr().err


# -- Hugging Face listing and shards ---------------------------------------------------------


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as s:
        yield s


def test_hostile_listing(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", server.url(""))
    deep = b"[" * 100_000 + b"]" * 100_000
    server.routes["/api/models/org/deep/tree/main"] = Route(body=deep)
    with pytest.raises(RemoteError, match="not the JSON"):
        open_remote_model("hf:org/deep:Q4_K_M", options=OPTIONS)
    huge = json.dumps([{"type": "file", "path": "x" * 1000}] * 17_000).encode()
    server.routes["/api/models/org/huge/tree/main"] = Route(body=huge)
    with pytest.raises(RemoteError, match="over 16 MiB"):
        open_remote_model("hf:org/huge:Q4_K_M", options=OPTIONS)
    odd = json.dumps([{"type": "file", "path": 7}, "x", None]).encode()
    server.routes["/api/models/org/odd/tree/main"] = Route(body=odd)
    with pytest.raises(ModelReferenceError, match="no Q4_K_M file"):
        open_remote_model("hf:org/odd:Q4_K_M", options=OPTIONS)


def test_remote_split_refusals(server: LoopbackServer, tmp_path: Path) -> None:
    s1 = write_test_gguf(tmp_path / "M-00001-of-00002.gguf", n_vocab=100, split=(1, 2))
    same = write_gguf(  # shard 2 repeats a tensor of shard 1: counted twice, it doubles weights
        tmp_path / "M-00002-of-00002.gguf",
        metadata={"split.no": Typed(1, V.UINT16), "split.count": Typed(2, V.UINT16)},
        tensors=[("blk.0.attn_q.weight", (64, 64), Q8_0)],
    )
    url = server.add_file("/M-00001-of-00002.gguf", s1)
    server.add_file("/M-00002-of-00002.gguf", same)
    with pytest.raises(RemoteError, match="also in shard 1"):
        open_remote_model(url, mmproj="none", options=OPTIONS)
    many = write_test_gguf(tmp_path / "N-00001-of-00999.gguf", n_vocab=10, split=(1, 999))
    url = server.add_file("/N-00001-of-00999.gguf", many)
    with pytest.raises(RemoteError, match=r"split\.count 999 is over the limit"):
        open_remote_model(url, mmproj="none", options=OPTIONS)


def _cached_open(server: LoopbackServer, file: Path) -> tuple[str, Path]:
    url = server.add_file("/c.gguf", file)
    options = RemoteOptions(connect_timeout=0.5, read_timeout=0.5, total_timeout=5)
    open_remote_model(url, mmproj="none", options=options)
    return url, cache_path("remote", url)


@pytest.mark.parametrize(
    "damage",
    ["wrong shape", "not json", "deep", "bad tensor", "fifo", "folder", "nested projector"],
)
def test_a_damaged_cache_entry_is_read_again_and_rewritten(
    server: LoopbackServer, tmp_path: Path, damage: str
) -> None:
    url, path = _cached_open(server, write_test_gguf(tmp_path / "c.gguf", n_vocab=100))
    entry = json.loads(path.read_text())
    if damage == "wrong shape":
        entry["spec"] = {"name": 1, "tensors": "x"}
        path.write_text(json.dumps(entry))
    elif damage == "not json":
        path.write_text("{nope")
    elif damage == "deep":
        path.write_text('{"spec": ' + "[" * 50_000 + "]" * 50_000 + "}")
    elif damage == "bad tensor":
        entry["spec"]["tensors"][0] = ["w", [1, "x"], 999, -1, 0]
        path.write_text(json.dumps(entry))
    elif damage == "nested projector":
        inner = dict(entry["spec"])
        entry["spec"]["mmproj"] = {**inner, "mmproj": inner}
        path.write_text(json.dumps(entry))
    else:
        path.unlink()
        if damage == "fifo":
            os.mkfifo(path)
        else:
            path.mkdir()
    server.clear_log()
    options = RemoteOptions(connect_timeout=0.5, read_timeout=0.5, total_timeout=5)
    spec = open_remote_model(url, mmproj="none", options=options)
    assert spec.meta("block_count") == 2
    assert any(r.method == "GET" for r in server.log())  # read again
    assert path.is_file() and json.loads(path.read_text())["spec"]["name"] == spec.name
