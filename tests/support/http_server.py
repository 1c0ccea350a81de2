"""A real HTTP server on loopback for tests and benchmarks of remote header reads.

`serve()` starts a threaded `http.server` on 127.0.0.1 with routes that honour Range requests,
or misbehave on purpose: ignore Range, mangle it, stall, answer HTML, demand auth, redirect,
or 404. Every request lands in `server.requests_log` (method, path, range, status, bytes sent,
whether an Authorization header came), so tests can assert request counts and bytes.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass
class Route:
    """What the server does for one path."""

    file: Path | None = None  # served with Range support unless `mode` says otherwise
    body: bytes | None = None  # a fixed body (JSON listings)
    content_type: str = "application/octet-stream"
    # range | ignore_range | mangle | short | stall | html | auth | redirect | 404 | 500
    mode: str = "range"
    etag: str = '"v1"'
    token: str = ""  # for mode "auth": the bearer token expected
    redirect_to: str = ""  # for mode "redirect": absolute URL or path
    stall_s: float = 2.0  # for mode "stall"
    linked_etag: bool = False  # send X-Linked-Etag (as Hugging Face does on its redirects)
    headers: dict[str, str] = field(default_factory=dict)  # extra headers of a `body` answer


@dataclass
class LoggedRequest:
    method: str
    path: str
    range: str | None
    status: int
    bytes_sent: int
    authorization: str | None
    host: str
    arrived: int = 0  # the request's place in arrival order (handler threads log out of order)


@dataclass
class LoopbackServer:
    httpd: ThreadingHTTPServer
    routes: dict[str, Route] = field(default_factory=dict)
    requests_log: list[LoggedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0  # requests being answered; their log entry is written at the end
    arrivals: int = 0  # requests received so far: each logs its place, the log is in that order

    def log(self, timeout: float = 2.0) -> list[LoggedRequest]:
        """The requests so far, once those still being answered have been logged.

        A client can finish with a response before the handler thread logs it (the log entry is
        written after the body), so a test reading the log right away must wait for that."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.in_flight == 0:
                    return sorted(self.requests_log, key=lambda r: r.arrived)
            time.sleep(0.005)
        with self.lock:
            return sorted(self.requests_log, key=lambda r: r.arrived)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def add_file(self, path: str, file: Path, **kw: Any) -> str:
        self.routes[path] = Route(file=file, **kw)
        return self.url(path)

    def gets(self) -> list[LoggedRequest]:
        return [r for r in self.log() if r.method == "GET"]

    def bytes_sent(self) -> int:
        return sum(r.bytes_sent for r in self.log())

    def clear_log(self) -> None:
        """Forget the requests so far, once those still being answered have been logged."""
        self.log()
        with self.lock:
            self.requests_log.clear()


class _Server(ThreadingHTTPServer):
    owner: LoopbackServer


class _Handler(BaseHTTPRequestHandler):
    """Answers a request from the routes of the LoopbackServer that owns the http server."""

    protocol_version = "HTTP/1.1"
    server: _Server

    @property
    def owner(self) -> LoopbackServer:
        return self.server.owner

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    arrived = 0

    def _log(self, status: int, sent: int) -> None:
        with self.owner.lock:
            self.owner.requests_log.append(
                LoggedRequest(
                    self.command,
                    self.path,
                    self.headers.get("Range"),
                    status,
                    sent,
                    self.headers.get("Authorization"),
                    self.headers.get("Host", ""),
                    self.arrived,
                )
            )

    def _simple(
        self,
        status: int,
        body: bytes = b"",
        ctype: str = "text/plain",
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        sent = 0
        if self.command != "HEAD":
            with contextlib.suppress(OSError):
                self.wfile.write(body)
                sent = len(body)
        self._log(status, sent)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        with self.owner.lock:
            self.owner.in_flight += 1
            self.owner.arrivals += 1
            self.arrived = self.owner.arrivals
        try:
            self._answer()
        finally:
            with self.owner.lock:
                self.owner.in_flight -= 1

    def _answer(self) -> None:
        routes = self.owner.routes
        route = routes.get(self.path.split("?", 1)[0]) or routes.get(self.path)
        if route is None or route.mode == "404":
            self._simple(404, b"not found")
            return
        if route.mode == "500":
            self._simple(500, b"oops")
            return
        if route.mode == "auth" and self.headers.get("Authorization") != f"Bearer {route.token}":
            self._simple(401, b"unauthorized")
            return
        if route.mode == "redirect":
            target = route.redirect_to
            extra = {"Location": target}
            if route.linked_etag:
                extra["X-Linked-Etag"] = route.etag
            self._simple(302, b"", extra=extra)
            return
        if route.mode == "html":
            self._simple(200, b"<html><body>Sign in</body></html>", "text/html; charset=utf-8")
            return
        if route.body is not None:
            self._simple(200, route.body, route.content_type, {"ETag": route.etag, **route.headers})
            return
        assert route.file is not None
        size = route.file.stat().st_size
        rng = self.headers.get("Range")
        match = _RANGE.fullmatch(rng.strip()) if rng else None
        if route.mode == "ignore_range" or match is None:
            self._send_file(route, 200, 0, size, size)
            return
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        if start >= size:
            self._simple(416, b"", extra={"Content-Range": f"bytes */{size}"})
            return
        if route.mode == "mangle":  # claims (and sends) a different range than asked
            start = max(0, start - 100) if start else 7
        self._send_file(route, 206, start, end, size)

    def _send_file(self, route: Route, status: int, start: int, end: int, size: int) -> None:
        length = (end - start + 1) if status == 206 else size
        self.send_response(status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("ETag", route.etag)
        self.send_header("Accept-Ranges", "bytes" if route.mode == "range" else "none")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        claimed = length
        if route.mode == "short":
            length = max(0, length // 2)
        self.send_header("Content-Length", str(claimed))
        self.end_headers()
        sent = 0
        if self.command == "HEAD":
            self._log(status, 0)
            return
        if route.mode == "stall":
            time.sleep(route.stall_s)
        assert route.file is not None
        try:
            with route.file.open("rb") as fh:
                fh.seek(start)
                left = length
                while left > 0:
                    chunk = fh.read(min(left, 256 * 1024))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    left -= len(chunk)
        except OSError:
            pass  # the client hung up (as it should on a server that ignores Range)
        if route.mode == "short":
            self.close_connection = True
        self._log(status, sent)


@contextlib.contextmanager
def serve() -> Iterator[LoopbackServer]:
    """Start a loopback server in a thread; stopped (and its threads abandoned) on exit."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    server = LoopbackServer(httpd)
    httpd.owner = server
    httpd.daemon_threads = True
    # Clients that drop a stream mid-body (as the header reader does) are normal here.
    httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
