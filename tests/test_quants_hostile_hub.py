"""`quants hf:ORG/REPO` against a hostile Hub: a listing too long to page through, too many
quants, and one total deadline (--timeout) for the listing and every quant's header."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.http_server import LoopbackServer, Route, serve
from vramtui.cli.main import main
from vramtui.core.advice import quants as quants_module
from vramtui.core.errors import RemoteError
from vramtui.core.remote import header as header_module
from vramtui.core.remote.hf_listing import MAX_FILES, MAX_QUANTS
from vramtui.core.remote.http import Http, RemoteOptions

TREE = "/api/models/org/big/tree/main"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    with serve() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url(""))
        yield server


def _list(server: LoopbackServer, names: list[str]) -> None:
    entries = [{"type": "file", "path": n, "oid": "x", "size": 1000} for n in names]
    server.routes[TREE] = Route(body=json.dumps(entries).encode(), content_type="application/json")


def _quants(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["quants", "hf:org/big", "--machine", "framework-desktop-128gb", "--timeout", "5"])
    return code, capsys.readouterr().err


def test_listing_with_too_many_files_is_refused(
    hub: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _list(hub, [f"docs/page-{i}.md" for i in range(MAX_FILES + 1)])
    code, err = _quants(capsys)
    assert code == 2 and err.count("\n") == 1 and f"more than {MAX_FILES:,} files" in err


def test_too_many_quants_are_refused_before_any_header_is_read(
    hub: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _list(hub, [f"m-Q{i}_K.gguf" for i in range(MAX_QUANTS + 1)])
    code, err = _quants(capsys)
    assert code == 2 and err.count("\n") == 1 and f"more than {MAX_QUANTS} quants" in err
    assert [r.path for r in hub.gets()] == [TREE + "?recursive=true"]


def test_listing_and_every_header_share_one_deadline(
    hub: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _list(hub, ["m-Q4_K_M.gguf", "m-Q8_0.gguf", "m-F16.gguf"])
    seen: list[float | None] = []

    def fake_open(ref: str, **kw: Any) -> object:
        options = kw["options"]
        assert isinstance(options, RemoteOptions)
        seen.append(options.deadline)
        raise RemoteError(ref, "not served here")

    monkeypatch.setattr(header_module, "open_remote_model", fake_open)
    before = time.monotonic()
    sources = quants_module.hf_sources("hf:org/big", "none", RemoteOptions(total_timeout=10))
    for source in sources:
        with pytest.raises(RemoteError):
            source.open()
    assert len(seen) == 3 and len(set(seen)) == 1
    deadline = seen[0]
    after = time.monotonic()
    assert deadline is not None and before + 10 <= deadline <= after + 10


def test_an_open_stops_at_the_commands_deadline() -> None:
    http = Http(RemoteOptions(total_timeout=100, deadline=time.monotonic() - 1))
    try:
        with pytest.raises(RemoteError, match="in total"):
            http.check_deadline("https://example.invalid/x")
    finally:
        http.close()
