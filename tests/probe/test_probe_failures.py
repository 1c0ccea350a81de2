"""Misbehaving loopback servers: every failure is one line naming the URL, and nothing hangs
(timeouts are small here; the hang guard in conftest fails a test that would block)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest

from tests.support.probe_doubles import (
    Conn,
    Double,
    Request,
    free_port,
    ollama_double,
    openai_double,
    serve,
)
from tests.support.waiting import WAIT_S, wait_for
from vramtui.cli.main import main
from vramtui.core.errors import ProbeError
from vramtui.core.probe.http import MAX_LINE_BYTES, normalize_url
from vramtui.core.probe.results import ProbeTimeouts
from vramtui.core.probe.run import run_probe
from vramtui.core.probe.servers import detect_servers, server_info

T = ProbeTimeouts(connect=0.5, first_token=0.6, total=1.2, request=0.6)
CHUNK = {"choices": [{"index": 0, "delta": {"content": "tok"}, "finish_reason": None}]}


def _double(handler: object) -> Double:
    d = Double()
    d.routes[("GET", "/v1/models")] = openai_double().routes[("GET", "/v1/models")]
    d.routes[("POST", "/v1/chat/completions")] = handler  # type: ignore[assignment]
    return d


async def _fail(d: Double, **kw: object) -> str:
    with serve(d), pytest.raises(ProbeError) as err:
        await run_probe(d.url, "openai", "local-model", timeouts=T, **kw)  # type: ignore[arg-type]
    msg = str(err.value)
    assert "\n" not in msg
    assert d.url in msg  # names the URL
    return msg


async def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ProbeError) as err:
        await run_probe(url, "openai", "m", timeouts=T)
    assert "connection refused" in str(err.value) and url in str(err.value)


async def test_stall_before_headers() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.wait(30)

    assert "no first token within 0.6 s" in await _fail(_double(handler))


async def test_stall_after_headers_before_first_token() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.head(200, "text/event-stream")
        conn.wait(30)

    assert "no first token within 0.6 s" in await _fail(_double(handler))


async def test_stall_mid_stream_hits_total_deadline() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.head(200, "text/event-stream")
        conn.raw(b"data: " + json.dumps(CHUNK).encode() + b"\n\n")
        conn.wait(30)

    msg = await _fail(_double(handler))
    assert "total time limit of 1.2 s" in msg and "1 tokens so far" in msg


def _drip(conn: Conn, payload: bytes) -> None:
    """One byte every 50 ms, forever (until the client hangs up or the double stops)."""
    while True:
        for byte in payload:
            if not conn.raw(bytes([byte])) or conn.wait(0.05):
                return


async def test_slow_drip_before_first_token() -> None:
    """Each read succeeds, so no read timeout fires: the first-token deadline still ends it."""

    def handler(req: Request, conn: Conn) -> None:
        conn.head(200, "text/event-stream")
        _drip(conn, b"data: " + json.dumps(CHUNK).encode() + b"\n\n")

    assert "no first token within 0.6 s" in await _fail(_double(handler))


async def test_slow_drip_after_first_token() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.head(200, "text/event-stream")
        line = b"data: " + json.dumps(CHUNK).encode() + b"\n\n"
        conn.raw(line)
        _drip(conn, line)

    assert "total time limit of 1.2 s" in await _fail(_double(handler))


async def test_garbage_is_a_malformed_stream() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.head(200, "text/html")
        conn.raw(b"<html><body>It works!</body></html>\n")

    assert "malformed stream" in await _fail(_double(handler))


async def test_non_json_data_line() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.head(200, "text/event-stream")
        conn.raw(b"data: {not json\n\n")

    assert "malformed stream (not JSON)" in await _fail(_double(handler))


async def test_disconnect_mid_stream() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.head(200, "text/event-stream")
        conn.raw(b"data: " + json.dumps(CHUNK).encode() + b"\n\n")
        # ... and hang up without a finish reason or [DONE].

    assert "stream cut mid-way" in await _fail(_double(handler))


async def test_disconnect_inside_a_chunked_body() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.raw(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        line = b"data: " + json.dumps(CHUNK).encode() + b"\n\n"
        conn.raw(f"{len(line) + 50:x}\r\n".encode() + line)  # promises 50 bytes more
        conn.sock.shutdown(socket.SHUT_RDWR)

    assert "stream cut mid-way" in await _fail(_double(handler))


async def test_unauthorized() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.send_json({"error": {"message": "Invalid API key"}}, status=401)

    msg = await _fail(_double(handler))
    assert "authentication required (401)" in msg and "Invalid API key" in msg


async def test_api_key_is_sent_as_bearer() -> None:
    d = openai_double()
    with serve(d):
        await run_probe(d.url, "openai", "local-model", timeouts=T, api_key="sk-local")
    chat = next(r for r in d.requests if r.path == "/v1/chat/completions")
    assert chat.headers["authorization"] == "Bearer sk-local"


async def test_unknown_model_404_lists_available() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.send_json({"error": {"message": "model not found"}}, status=404)

    msg = await _fail(_double(handler))
    assert "'local-model' not found" in msg and "available: local-model" in msg


async def test_redirect_elsewhere_is_not_followed() -> None:
    other = openai_double()
    with serve(other):

        def handler(req: Request, conn: Conn) -> None:
            conn.send_json({}, status=302, extra=f"Location: {other.url}/v1/chat/completions\r\n")

        msg = await _fail(_double(handler))
        assert "redirect" in msg and "not followed" in msg
        assert other.requests == []  # the other host never heard from the probe


async def test_error_inside_the_stream() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.sse([{"error": {"message": "context size exceeded"}}], done=False)

    assert "server error in stream: context size exceeded" in await _fail(_double(handler))


async def test_endless_line_is_refused() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.head(200, "text/event-stream")
        block = b"x" * 65536
        for _ in range(MAX_LINE_BYTES // len(block) + 4):
            if not conn.raw(block):
                return

    assert "longer than" in await _fail(_double(handler))


async def test_bad_arguments() -> None:
    with pytest.raises(ProbeError):
        await run_probe("http://127.0.0.1:1", "openai", "m", max_tokens=0)
    with pytest.raises(ProbeError):
        await run_probe("ftp://127.0.0.1:1", "openai", "m")
    with pytest.raises(ProbeError):
        ProbeTimeouts(total=0)
    assert normalize_url("localhost:1234/v1/") == "http://localhost:1234"


def test_cli_refused_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code = main(
        [
            "probe",
            "--url",
            url,
            "--server",
            "openai",
            "--model",
            "m",
            "--connect-timeout",
            "0.5",
            "--timeout",
            "2",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and url in err and "connection refused" in err


def test_cli_auto_with_nothing_listening(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["probe", "--url", url, "--connect-timeout", "0.5", "--timeout", "2"]) == 2
    assert "connection refused" in capsys.readouterr().err


async def test_detect_skips_stalled_and_refused_ports() -> None:
    stalled = Double()
    for path in ("/props", "/api/tags", "/api/v0/models", "/v1/models"):
        stalled.routes[("GET", path)] = lambda req, conn: conn.wait(30)  # type: ignore[misc]
    with serve(stalled), serve(ollama_double()) as o:
        found = await detect_servers(
            timeout=0.5, ports={"llamacpp": stalled.port, "lmstudio": free_port(), "ollama": o.port}
        )
    assert [(s.kind, s.url) for s in found] == [("ollama", o.url)]
    # A stalled server is asked once, not once per path.
    assert len(stalled.requests) == 1


async def test_identify_behind_auth_says_so() -> None:
    d = Double()
    for path in ("/props", "/api/tags", "/api/v0/models", "/v1/models"):
        d.routes[("GET", path)] = lambda req, conn: conn.send_json(  # type: ignore[misc]
            {"error": "Unauthorized"}, status=401
        )
    with serve(d), pytest.raises(ProbeError) as err:
        await server_info(d.url, timeouts=T)
    assert "authentication required (401)" in str(err.value)


async def test_llamacpp_kind_stalled_everywhere_still_ends() -> None:
    d = Double()
    for method, path in (("GET", "/props"), ("GET", "/slots"), ("POST", "/completion")):
        d.routes[(method, path)] = lambda req, conn: conn.wait(30)  # type: ignore[misc]
    with serve(d), pytest.raises(ProbeError) as err:
        await run_probe(d.url, "llamacpp", "m", timeouts=T)
    assert "time limit" in str(err.value) or "no first token" in str(err.value)
    # /props got no answer, so /slots was not asked as well.
    assert [r.path for r in d.requests] == ["/props", "/completion"]


async def test_cancel_while_asking_drops_the_connection_and_sends_nothing_more() -> None:
    """Cancelled while the model list is still unanswered: the probe hangs up at once and
    never sends the streamed request."""
    hung_up = threading.Event()

    def stall(req: Request, conn: Conn) -> None:
        if conn.sock.recv(1) == b"":  # blocks until the client hangs up (or 5 s pass)
            hung_up.set()

    d = Double()
    d.routes[("GET", "/v1/models")] = stall
    patient = ProbeTimeouts(connect=1, first_token=10, total=20, request=10)
    with serve(d):
        task = asyncio.create_task(run_probe(d.url, "openai", timeouts=patient))
        await wait_for(lambda: d.requests, "the model list request")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(hung_up.wait, WAIT_S)
    assert [r.path for r in d.requests] == ["/v1/models"]


async def test_cancel_stops_a_buffered_stream_at_the_next_piece() -> None:
    """The whole answer arrives in one write, so it is all buffered when the first piece is
    handed over: a cancel asked for then still stops the probe before the second."""
    pieces = [f"piece{i} " for i in range(20)]

    def handler(req: Request, conn: Conn) -> None:
        conn.head(200, "text/event-stream")
        chunks = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
        conn.raw(b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks))
        conn.wait(30)

    seen: list[str] = []

    def on_text(text: str) -> None:
        seen.append(text)
        task.cancel()

    with serve(_double(handler)) as d:
        task = asyncio.create_task(
            run_probe(d.url, "openai", "local-model", timeouts=T, on_text=on_text)
        )
        with pytest.raises(asyncio.CancelledError):
            await task
    assert seen == pieces[:1]
