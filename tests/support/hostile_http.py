"""A hostile HTTP server on loopback, written on raw sockets so that it can misbehave in ways a
well-behaved server library would not let it: drip the response headers or the body a byte at
a time, lie in Content-Range, answer every range with one byte, redirect off-host or in a loop,
send endless headers, never answer, or answer garbage.

`hostile_server()` yields a `HostileServer`; `server.url(behaviour)` is a URL whose answers
follow that behaviour (see BEHAVIOURS). Every request is counted per behaviour. The file served
(`data`) is a real GGUF header, so a well-behaved answer would parse.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

BEHAVIOURS = (
    "ok",  # honest range answers (the control)
    "drip_headers",  # the status line and headers, one byte every `drip_s`
    "drip_body",  # honest headers, then the body one byte every `drip_s`
    "stall",  # reads the request, never answers
    "stall_body",  # honest headers, then nothing
    "one_byte_ranges",  # 206 for every range, but only its first byte (honest Content-Range)
    "empty_range",  # 206 with Content-Range bytes N-N/size and an empty body
    "lying_range",  # Content-Range claims the whole range, the body is half of it
    "no_content_range",  # 206 without Content-Range
    "star_total",  # Content-Range bytes 0-99/*
    "backwards_range",  # Content-Range bytes 100-0/size
    "changing_total",  # each answer claims a different file size
    "redirect_offhost",  # 302 to another host
    "redirect_loop",  # 302 to itself
    "redirect_bad",  # 302 to an unparsable URL
    "endless_headers",  # header lines without end
    "garbage",  # bytes that are not HTTP
    "huge_length",  # 200 with a Content-Length of 2^70 and an endless body
    "html",  # 200 text/html login page
    "ansi_reason",  # a status line whose reason phrase holds terminal escapes
)


@dataclass
class HostileServer:
    sock: socket.socket
    data: bytes
    drip_s: float = 0.05
    hits: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def url(self, behaviour: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{behaviour}/model.gguf"


_RANGE = re.compile(rb"range:\s*bytes=(\d+)-(\d*)", re.IGNORECASE)


def _request(conn: socket.socket) -> tuple[str, int, int] | None:
    """(path, range start, range end inclusive) of the request; None when the client left."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        buf += chunk
        if len(buf) > 65536:
            return None
    line = buf.split(b"\r\n", 1)[0].split(b" ")
    path = line[1].decode("latin-1") if len(line) > 1 else "/"
    match = _RANGE.search(buf)
    start = int(match.group(1)) if match else 0
    end = int(match.group(2)) if match and match.group(2) else -1
    return path, start, end


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _drip(server: HostileServer, conn: socket.socket, payload: bytes) -> None:
    for i in range(len(payload)):
        if server.stop.is_set():
            return
        conn.sendall(payload[i : i + 1])
        time.sleep(server.drip_s)


def _answer(
    server: HostileServer, conn: socket.socket, behaviour: str, start: int, end: int
) -> None:
    data, size = server.data, len(server.data)
    end = size - 1 if end < 0 else min(end, size - 1)
    body = data[start : end + 1]
    honest = {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(len(body)),
        "Content-Range": f"bytes {start}-{end}/{size}",
        "ETag": '"h"',
    }
    if behaviour == "ok":
        conn.sendall(_head("206 Partial Content", honest) + body)
    elif behaviour == "drip_headers":
        _drip(server, conn, _head("206 Partial Content", honest))
    elif behaviour == "drip_body":
        conn.sendall(_head("206 Partial Content", honest))
        _drip(server, conn, body)
    elif behaviour in ("stall", "stall_body"):
        if behaviour == "stall_body":
            conn.sendall(_head("206 Partial Content", honest))
        server.stop.wait(60)
    elif behaviour == "one_byte_ranges":
        one = {**honest, "Content-Length": "1", "Content-Range": f"bytes {start}-{start}/{size}"}
        conn.sendall(_head("206 Partial Content", one) + data[start : start + 1])
    elif behaviour == "empty_range":
        empty = {**honest, "Content-Length": "0", "Content-Range": f"bytes {start}-{start}/{size}"}
        conn.sendall(_head("206 Partial Content", empty))
    elif behaviour == "lying_range":
        conn.sendall(_head("206 Partial Content", {**honest, "Connection": "close"}))
        conn.sendall(body[: len(body) // 2])
    else:
        _misbehave(server, conn, behaviour, honest, body)


def _misbehave(
    server: HostileServer, conn: socket.socket, behaviour: str, honest: dict[str, str], body: bytes
) -> None:
    start = int(honest["Content-Range"].split()[1].split("-")[0])
    if behaviour == "no_content_range":
        conn.sendall(
            _head("206 Partial Content", {k: v for k, v in honest.items() if k != "Content-Range"})
            + body
        )
    elif behaviour == "star_total":
        conn.sendall(_head("206 Partial Content", {**honest, "Content-Range": "bytes 0-99/*"}))
    elif behaviour == "backwards_range":
        bad = {**honest, "Content-Range": f"bytes {start}-0/{len(server.data)}"}
        conn.sendall(_head("206 Partial Content", bad) + body)
    elif behaviour == "changing_total":
        total = len(server.data) + server.hits["changing_total"] * 1000
        end = start + len(body) - 1
        changed = {**honest, "Content-Range": f"bytes {start}-{end}/{total}"}
        conn.sendall(_head("206 Partial Content", changed) + body)
    elif behaviour in ("redirect_offhost", "redirect_loop", "redirect_bad"):
        target = {
            "redirect_offhost": f"http://localhost:{server.port}/ok/model.gguf",
            "redirect_loop": f"http://127.0.0.1:{server.port}/redirect_loop/model.gguf",
            "redirect_bad": "http://[::1/x",
        }[behaviour]
        conn.sendall(_head("302 Found", {"Location": target, "Content-Length": "0"}))
    elif behaviour == "endless_headers":
        conn.sendall(b"HTTP/1.1 206 Partial Content\r\n")
        while not server.stop.is_set():
            conn.sendall(b"X-Padding: " + b"a" * 1000 + b"\r\n")
    elif behaviour == "garbage":
        conn.sendall(b"\x00\xffGARBAGE\r\n\r\n" * 100)
    elif behaviour == "huge_length":
        conn.sendall(
            _head(
                "200 OK", {"Content-Type": "application/octet-stream", "Content-Length": str(2**70)}
            )
        )
        while not server.stop.is_set():
            conn.sendall(b"GGUF" + b"\xff" * 65532)
    elif behaviour == "html":
        page = b"<html>sign in</html>"
        kind = {"Content-Type": "text/html", "Content-Length": str(len(page))}
        conn.sendall(_head("200 OK", kind) + page)
    elif behaviour == "ansi_reason":
        conn.sendall(b"HTTP/1.1 500 \x1b[31mOops\x1b]52;c;aGk=\x07\r\nContent-Length: 0\r\n\r\n")


def _serve_one(server: HostileServer, conn: socket.socket) -> None:
    with contextlib.suppress(OSError), conn:
        conn.settimeout(30)
        while not server.stop.is_set():
            request = _request(conn)
            if request is None:
                return
            path, start, end = request
            behaviour = path.strip("/").split("/", 1)[0]
            server.hits[behaviour] += 1
            _answer(server, conn, behaviour, start, end)
            if behaviour not in (
                "ok",
                "one_byte_ranges",
                "empty_range",
                "changing_total",
                "redirect_loop",
                "no_content_range",
            ):
                return


@contextlib.contextmanager
def hostile_server(data: bytes, drip_s: float = 0.05) -> Iterator[HostileServer]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.2)
    server = HostileServer(sock, data, drip_s)

    def loop() -> None:
        while not server.stop.is_set():
            with contextlib.suppress(TimeoutError):
                _accept_once(server)

    threading.Thread(target=loop, daemon=True).start()
    try:
        yield server
    finally:
        server.stop.set()
        sock.close()


def _accept_once(server: HostileServer) -> None:
    try:
        conn, _ = server.sock.accept()
    except TimeoutError:
        raise
    except OSError:
        server.stop.wait(0.05)
        return
    conn.settimeout(None)
    threading.Thread(target=_serve_one, args=(server, conn), daemon=True).start()
