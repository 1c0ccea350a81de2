"""HTTP plumbing of remote header reads: one client per open, bounded whatever the server does.

- A hard total deadline (`RemoteOptions.total_timeout`, `--timeout`): every request's connect
  and read timeouts are cut to the time left, a body is read piece by piece as it arrives (never
  waiting for a full buffer) with the deadline checked between pieces, and `Http.watched` runs
  the whole open under a watchdog that gives up at the deadline even while a server drips its
  response headers a byte at a time.
- A cap on requests per open and per file, so a server answering with endless tiny ranges
  (or lying Content-Ranges) cannot keep the reader busy.
- Redirects are followed by hand: to the same host, or from Hugging Face to its CDN hosts
  (cdn-lfs*.hf.co, cas-bridge.xethub.hf.co: all under hf.co / huggingface.co), else only with
  `allow_redirects` (`--allow-redirects`). An https -> http downgrade counts as another host,
  and so does another port of the same host (but for the http -> https upgrade on 80 -> 443).
- HF_TOKEN goes only to Hugging Face hosts (or the HF_ENDPOINT host), checked on every hop.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx

from vramtui.core.errors import ModelReferenceError, RemoteError
from vramtui.core.sizes import ascii_int

Progress = Callable[[int, int], None]

KiB = 1024
MiB = 1024 * KiB
HF_HOSTS = ("huggingface.co", "hf.co")
# Where Hugging Face sends a /resolve/ download (its LFS and Xet CDNs): hosts under these domains.
HF_CDN_DOMAINS = ("hf.co", "huggingface.co")
_UNKNOWN = 1 << 62  # the size of a body without Content-Length
WATCHDOG_GRACE_S = 0.2  # the watchdog's wait past the deadline for a reader to stop by itself
T = TypeVar("T")


@dataclass(frozen=True)
class RemoteOptions:
    """Limits and knobs; tests shrink the timeouts, the benchmark changes the chunking."""

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 120.0  # for one whole open (all shards, the listing, the projector)
    # A command that opens several files (a repository's quants) shares one end: a
    # time.monotonic() value no open goes past, whatever its own total_timeout.
    deadline: float | None = None
    first_range: int = 64 * KiB  # the parser's first read; a small header costs just this
    min_range: int = 1 * MiB  # smallest follow-up range (streamed, so unused bytes are not read)
    max_header: int = 64 * MiB  # a header bigger than this is refused
    max_redirects: int = 10
    max_requests: int = 600  # per open: 256 shards at 2 requests each, a listing, a projector
    max_requests_per_file: int = 80  # 64 MiB in 1 MiB ranges, and room to spare
    allow_redirects: bool = False  # follow a redirect to any host (`--allow-redirects`)
    redirect_hosts: tuple[str, ...] = ()  # extra hosts treated as Hugging Face's CDN (tests)
    token: str | None = None  # default: $HF_TOKEN
    token_hosts: tuple[str, ...] = ()  # extra hosts that may receive the token (tests)
    use_cache: bool = True
    transport: httpx.BaseTransport | None = field(default=None, compare=False)

    def hf_endpoint(self) -> str:
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def check_url(url: str) -> str:
    """`url` when it is an http(s) URL with a host and a valid port; else ModelReferenceError."""
    try:
        parts = urlsplit(url)
        _ = parts.port
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise ModelReferenceError(f"{url}: not a usable URL ({_short(exc)})") from None
    if parts.scheme not in ("http", "https"):
        raise ModelReferenceError(f"{url}: only http:// and https:// URLs can be read")
    if not parts.hostname:
        raise ModelReferenceError(f"{url}: no host in the URL")
    return url


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _port(parts: SplitResult) -> int:
    return parts.port or _DEFAULT_PORTS[parts.scheme]


def _same_port(old: SplitResult, new: SplitResult) -> bool:
    """Another port of a host is another server (another service, another owner): the same
    port, or the plain http -> https upgrade on the default ports, counts as the same host."""
    if _port(old) == _port(new):
        return True
    defaults = _port(old) == _DEFAULT_PORTS[old.scheme] and _port(new) == _DEFAULT_PORTS[new.scheme]
    return defaults and (old.scheme, new.scheme) == ("http", "https")


def _under(host: str, domains: set[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _hf_hosts(options: RemoteOptions) -> set[str]:
    """Hugging Face itself, and the HF_ENDPOINT host the user configured."""
    hosts = set(HF_HOSTS)
    endpoint = _host(options.hf_endpoint())
    if endpoint:
        hosts.add(endpoint)
    return hosts


def _token_allowed(url: str, options: RemoteOptions) -> bool:
    """HF_TOKEN only goes to Hugging Face itself (or the configured HF_ENDPOINT host)."""
    allowed = _hf_hosts(options) | {h.lower() for h in options.token_hosts}
    return _under(_host(url), allowed)


def is_hf_url(url: str) -> bool:
    """A Hugging Face host (or the HF_ENDPOINT mirror the user configured)."""
    return _under(_host(url), _hf_hosts(RemoteOptions()))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return shown(text[0]) if text else type(exc).__name__


def shown(text: str, limit: int = 120) -> str:
    """Text from a server (a Location, a reason phrase) as one harmless line in an error."""
    flat = "".join(ch if ch.isprintable() else f"\\x{ord(ch) & 0xFF:02x}" for ch in text[:limit])
    return flat + ("…" if len(text) > limit else "")


def status_error(url: str, response: httpx.Response) -> RemoteError:
    code = response.status_code
    if code in (401, 403):
        hint = (
            "set HF_TOKEN to a token that can read this repository"
            if is_hf_url(url)
            else "the server wants credentials"
        )
        return RemoteError(url, f"access denied (HTTP {code}): {hint}")
    if code == 404:
        return RemoteError(url, "not found (HTTP 404)")
    if code == 416:
        return RemoteError(
            url, "the server refused the byte range (HTTP 416): empty or truncated file?"
        )
    return RemoteError(url, f"unexpected HTTP {code} {shown(response.reason_phrase, 60)}".rstrip())


class Http:
    """One httpx client per open: the deadline, the request cap, redirects and the token rule."""

    def __init__(self, options: RemoteOptions) -> None:
        self.options = options
        self.token = (
            options.token if options.token is not None else os.environ.get("HF_TOKEN") or None
        )
        self.client = httpx.Client(
            timeout=self._timeout(options.total_timeout),
            follow_redirects=False,
            transport=options.transport,
            headers={"User-Agent": "vramtui (GGUF header reader)", "Accept-Encoding": "identity"},
        )
        self.deadline = time.monotonic() + options.total_timeout
        if options.deadline is not None:
            self.deadline = min(self.deadline, options.deadline)
        self.cancelled = False  # set by the watchdog: every later step stops at once
        self.requests = 0
        self.bytes_received = 0

    def close(self) -> None:
        self.client.close()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _timeout(self, left: float) -> httpx.Timeout:
        left = max(left, 0.001)
        o = self.options
        return httpx.Timeout(
            connect=min(o.connect_timeout, left),
            read=min(o.read_timeout, left),
            write=min(o.read_timeout, left),
            pool=min(o.connect_timeout, left),
        )

    def out_of_time(self, url: str) -> RemoteError:
        return RemoteError(
            url, f"gave up after {self.options.total_timeout:g} s in total (--timeout)"
        )

    def watched(self, url: str, work: Callable[[], T]) -> T:
        """`work()` run in a worker thread, given up at the deadline whatever it is doing.

        The worker's own checks stop it between reads; a server that drips its response
        headers never returns control between bytes, so this thread stops waiting at the
        deadline, marks the client cancelled and closes it (its sockets), and the worker ends
        at its next read. Errors raised in the worker are raised here."""
        outcome: list[T | BaseException] = []

        def run() -> None:
            try:
                outcome.append(work())
            except BaseException as exc:  # handed to the caller below
                outcome.append(exc)

        worker = threading.Thread(target=run, name="vramtui-remote", daemon=True)
        worker.start()
        worker.join(max(self.remaining(), 0.0) + WATCHDOG_GRACE_S)
        if worker.is_alive():
            self.cancelled = True
            with contextlib.suppress(Exception):  # closed from another thread: abandoned
                self.close()
            raise self.out_of_time(url)
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def check_deadline(self, url: str) -> None:
        if self.cancelled or self.remaining() <= 0:
            raise self.out_of_time(url)

    def stalled(self, url: str, what: str) -> RemoteError:
        """A read timeout: the deadline when that is what cut it, else a stalled server."""
        if self.cancelled or self.remaining() <= 0.01:
            return self.out_of_time(url)
        return RemoteError(url, f"server stalled: {what} for {self.options.read_timeout:g} s")

    def open(
        self, method: str, url: str, headers: dict[str, str] | None = None
    ) -> tuple[httpx.Response, str]:
        """Send a request, following allowed redirects by hand; the response is streamed."""
        current = url
        for _ in range(self.options.max_redirects + 1):
            response = self._send(method, url, current, headers)
            if not response.is_redirect:
                return response, current
            location = response.headers.get("location", "")
            response.close()
            current = self._redirect_target(url, current, location)
        raise RemoteError(url, f"more than {self.options.max_redirects} redirects")

    def _send(
        self, method: str, url: str, current: str, headers: dict[str, str] | None
    ) -> httpx.Response:
        self.check_deadline(url)
        if self.requests >= self.options.max_requests:
            raise RemoteError(
                url, f"more than {self.options.max_requests} requests in one open; gave up"
            )
        hdrs = dict(headers or {})
        if self.token and _token_allowed(current, self.options):
            hdrs["Authorization"] = f"Bearer {self.token}"
        try:
            request = self.client.build_request(
                method, current, headers=hdrs, timeout=self._timeout(self.remaining())
            )
            self.requests += 1
            return self.client.send(request, stream=True)
        except httpx.ConnectTimeout as exc:
            if self.remaining() <= 0.01:
                raise self.out_of_time(url) from exc
            raise RemoteError(
                url, f"no connection within {self.options.connect_timeout:g} s"
            ) from exc
        except httpx.ConnectError as exc:
            raise RemoteError(url, f"cannot connect ({_short(exc)})") from exc
        except httpx.TimeoutException as exc:
            raise self.stalled(url, "no answer") from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise RemoteError(url, f"HTTP error ({_short(exc)})") from exc
        except (OSError, ValueError, RuntimeError) as exc:  # a client closed by the watchdog
            if self.cancelled:
                raise self.out_of_time(url) from exc
            raise RemoteError(url, f"HTTP error ({_short(exc)})") from exc

    def _redirect_target(self, url: str, current: str, location: str) -> str:
        """Where a redirect points, if it may be followed; else a RemoteError saying why."""
        if not location:
            raise RemoteError(url, "answered a redirect without a Location")
        try:
            target = check_url(urljoin(current, location))
        except (ValueError, ModelReferenceError):
            raise RemoteError(url, f"redirected to an unusable URL ({shown(location)})") from None
        o = self.options
        if o.allow_redirects:
            return target
        old, new = urlsplit(current), urlsplit(target)
        if old.scheme == "https" and new.scheme != "https":
            raise RemoteError(
                url, "redirected from https to plain http; not followed (--allow-redirects)"
            )
        here, there = _host(current), _host(target)
        cdn = set(HF_CDN_DOMAINS) | {h.lower() for h in o.redirect_hosts}
        if here == there and _same_port(old, new):
            return target
        if _under(here, _hf_hosts(o)) and _under(there, cdn):
            return target
        where = shown(there, 80) if here != there else f"{shown(there, 80)}:{_port(new)}"
        raise RemoteError(
            url,
            f"redirected to another host ({where}); not followed (--allow-redirects follows it)",
        )


_CONTENT_RANGE = re.compile(r"bytes\s+(\d{1,19})-(\d{1,19})/(\d{1,19}|\*)")


class HttpRangeSource:
    """A `ByteSource` over HTTP: `size` and `read(offset, length, hint=)` backed by range requests.

    Bytes are kept in one buffer from offset 0 (a GGUF header is read front to back). Each range
    request is sized generously from the parser's hint but its body is *streamed*: only what the
    parser actually consumes is read, and `close()` drops the connection with the rest unread.
    So a header costs few round trips and about its own size in bytes. A server that answers
    200 to a range request is read the same way, from the start, and never past `max_header`.
    Every Content-Range is checked (it starts where asked, ends inside the file, names the same
    file size every time); a range that brings nothing is an error, never a retry.
    """

    # Largest read the parser asks for at once: read-ahead belongs in `hint`, which only sizes
    # the (streamed) range, so bytes beyond the header are never pulled (gguf_reader caps its
    # reads by `getattr(source, "max_read", MAX_CHUNK)`).
    max_read = 64 * KiB

    def __init__(self, url: str, http: Http, *, progress: Progress | None = None) -> None:
        self.url = url
        self.http = http
        self.options = http.options
        self.progress = progress
        self.buf = bytearray()
        self.etag = ""
        self.final_url = url
        self.size = 0
        self.requests = 0
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._range_end = 0  # end (exclusive) of the body the open response will send
        self._ranges_ok = True
        self._open_range(0, self.options.first_range, first=True)

    # -- requests -------------------------------------------------------------------------
    def _open_range(self, start: int, end: int, *, first: bool = False) -> None:
        """Start streaming bytes [start, end) (a new request; the previous stream is dropped)."""
        self._drop_stream()
        if self.requests >= self.options.max_requests_per_file:
            raise RemoteError(
                self.url,
                f"more than {self.options.max_requests_per_file} range requests for one "
                "header: the server sends too little per range",
            )
        self.requests += 1
        url = self.url if first else self.final_url
        response, final = self.http.open("GET", url, {"Range": f"bytes={start}-{end - 1}"})
        try:
            self._accept(response, start, final, first=first)
        except BaseException:
            response.close()
            raise
        self._response = response
        # No chunk size: pieces come as the network delivers them, so the deadline is checked
        # between reads of any size, even when a server sends one byte at a time.
        self._chunks = response.iter_raw()

    def _accept(self, response: httpx.Response, start: int, final: str, *, first: bool) -> None:
        self._check_response(response)
        if first:
            self.final_url = final
            self.etag = response.headers.get("x-linked-etag") or response.headers.get("etag") or ""
        if response.status_code == 206:
            _, last, total = self._content_range(response, start)
            if first:
                self.size = total
            self._range_end = last + 1
        elif first:  # 200: the server ignores Range; read the body as a stream from 0
            self._ranges_ok = False
            length = response.headers.get("content-length", "")
            known = ascii_int(length, 0, 10**18)
            self.size = known if known is not None else _UNKNOWN
            self._range_end = self.size
        else:
            raise RemoteError(self.url, "the server stopped honouring Range requests")

    def _check_response(self, response: httpx.Response) -> None:
        if response.status_code not in (200, 206):
            raise status_error(self.url, response)
        ctype = response.headers.get("content-type", "").lower()
        if "text/html" in ctype:
            raise RemoteError(
                self.url,
                "the server sent an HTML page, not a GGUF file (a login page or a wrong link?)",
            )

    def _content_range(self, response: httpx.Response, start: int) -> tuple[int, int, int]:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
        if not match or match.group(3) == "*":
            raise RemoteError(
                self.url, "the server answered a range request without a usable Content-Range"
            )
        first, last, total = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if first != start:
            raise RemoteError(
                self.url, f"asked for bytes from {start}, the server sent bytes from {first}"
            )
        if last < first or last >= total:
            raise RemoteError(
                self.url, f"the server sent an impossible Content-Range ({first}-{last}/{total})"
            )
        if self.size and total != self.size:
            raise RemoteError(
                self.url, f"the file size changed from {self.size} to {total} between requests"
            )
        return first, last, total

    def _pull(self, end: int) -> None:
        """Extend the buffer from the open stream until it covers [0, end) or the body ends."""
        assert self._chunks is not None
        try:
            while len(self.buf) < end:
                self.http.check_deadline(self.url)
                chunk = next(self._chunks, b"")
                if not chunk:
                    self._body_ended()
                    return
                self.http.bytes_received += len(chunk)
                self.buf += chunk
                self._report()
        except httpx.TimeoutException as exc:
            self._drop_stream()
            raise self.http.stalled(self.url, "no data") from exc
        except httpx.HTTPError as exc:
            self._drop_stream()
            raise RemoteError(self.url, f"transfer failed ({_short(exc)})") from exc
        except (OSError, ValueError, RuntimeError) as exc:  # the watchdog closed the client
            self._drop_stream()
            if self.http.cancelled:
                raise self.http.out_of_time(self.url) from exc
            raise RemoteError(self.url, f"transfer failed ({_short(exc)})") from exc

    def _body_ended(self) -> None:
        expected = min(self._range_end, self.size)
        if len(self.buf) < expected:
            raise RemoteError(
                self.url, f"the server sent {len(self.buf)} bytes where {expected} were expected"
            )
        if not self._ranges_ok:
            self.size = len(self.buf)  # a 200 body of unknown length ended
        self._drop_stream()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(len(self.buf), self.size if 0 < self.size < _UNKNOWN else 0)

    def _drop_stream(self) -> None:
        if self._response is not None:
            with contextlib.suppress(httpx.HTTPError, OSError, RuntimeError):
                self._response.close()  # unread body: httpx drops the connection
        self._response = None
        self._chunks = None

    # -- ByteSource -------------------------------------------------------------------------
    def read(self, offset: int, length: int, *, hint: int = 0) -> bytes:
        end = min(offset + length, self.size)  # short only at the end of the file
        if end > self.options.max_header:
            self.close()
            raise RemoteError(
                self.url,
                f"the GGUF header needs more than the {self.options.max_header // MiB} MiB cap",
            )
        while end > len(self.buf):
            have = len(self.buf)
            if self._chunks is None or self._range_end <= have:
                if not self._ranges_ok:
                    raise RemoteError(self.url, f"the body ended at byte {have}")
                # A generous range (twice the hint, at least 1 MiB) that is streamed and
                # abandoned once the parser is done, so an underestimated hint does not cost
                # another round trip and an overestimated one costs no bytes.
                span = max(end - have, 2 * max(hint, 0), self.options.min_range)
                stop = min(have + span, self.size, self.options.max_header)
                self._open_range(have, max(stop, end))
            self._pull(min(end, self._range_end))
        return bytes(self.buf[offset:end])

    def close(self) -> None:
        self._drop_stream()
