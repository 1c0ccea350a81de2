"""HTTP plumbing of the probe: the client, bounded reads, and errors as one line naming the URL.

Safety: the client talks only to the host in the URL it was given (no redirects followed, no
proxies from the environment), and every read is bounded (bytes per line and in total), so a
misbehaving server can neither carry the probe elsewhere nor make it allocate without limit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from vramtui.core.errors import ProbeError
from vramtui.core.probe.results import ProbeTimeouts

MAX_LINE_BYTES = 1 << 20  # one SSE / NDJSON line
MAX_STREAM_BYTES = 32 << 20  # the whole streamed answer
MAX_JSON_BYTES = 4 << 20  # a model list, /props, /api/ps ...
MAX_MODELS = 1_000  # models read from one listing; the rest are not looked at
MAX_ERROR_BYTES = 64 << 10  # the body of an error answer (only its message is shown)


class Unreachable(ProbeError):
    """Nothing answers at all (refused, connect timeout, no answer): asking another path of the
    same server is pointless."""


def normalize_url(url: str) -> str:
    """`host:port` or `http://host:port/` -> `http://host:port` (no path, no trailing slash)."""
    text = url.strip()
    if not text:
        raise ProbeError("no server URL given")
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
    except ValueError as err:  # "http://[::1": an unclosed IPv6 bracket
        raise ProbeError(f"{url}: not a usable URL ({err})") from None
    if parts.scheme not in {"http", "https"}:
        raise ProbeError(f"{url}: only http:// and https:// servers can be probed")
    if not parts.hostname:
        raise ProbeError(f"{url}: no host in the URL")
    try:
        _ = parts.port
    except ValueError:
        raise ProbeError(f"{url}: bad port") from None
    path = parts.path.rstrip("/")
    # People paste the OpenAI base URL; the probe adds /v1 itself.
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


MAX_JSON_DEPTH = 64  # servers answer a few levels deep; anything deeper is refused


def is_loopback(url: str) -> bool:
    """Whether the server at `url` runs on this machine (a loopback name or address)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in {"localhost", "::1"} or host.startswith("127.")


def _depth(value: Any) -> int:
    """How deep a parsed JSON value nests, walked without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(body: bytes | str) -> Any:
    """JSON from a server, nested at most MAX_JSON_DEPTH deep; ValueError for anything else
    (a deeply nested answer makes Python's parser raise RecursionError: refused the same)."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise ValueError("nested too deep") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} deep")
    return data


def one_line(text: str, limit: int = 200) -> str:
    """Server text flattened to one line of at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_text(body: bytes) -> str:
    """The server's error message from a JSON error body ({error: str|{message}}), else the text."""
    try:
        data = parse_json(body)
    except ValueError:
        return one_line(body[:4096].decode("utf-8", "replace"))
    if isinstance(data, dict):
        err = data.get("error", data.get("message"))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err is not None:
            return one_line(str(err))
    return one_line(body.decode("utf-8", "replace"))


def new_client(
    timeouts: ProbeTimeouts, base_url: str, api_key: str | None = None
) -> httpx.AsyncClient:
    """A client bound to `base_url`: no proxies from the environment, no redirects followed."""
    headers = {"User-Agent": "vramtui-probe", "Accept-Encoding": "identity"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    # trust_env=False: an HTTP(S)_PROXY in the environment must not carry the probe elsewhere.
    # follow_redirects=False: a redirect is reported, never followed (it may point off-host).
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(
            connect=timeouts.connect,
            read=timeouts.total,
            write=timeouts.connect,
            pool=timeouts.connect,
        ),
        follow_redirects=False,
        trust_env=False,
        headers=headers,
    )


def _caused_by(err: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is in err's chain (httpx wraps the OS error two levels down)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def transport_error(url: str, err: Exception, timeouts: ProbeTimeouts) -> ProbeError:
    """An httpx transport failure as one line naming the URL."""
    if isinstance(err, httpx.ConnectTimeout):
        return ProbeError(f"{url}: connect timeout after {timeouts.connect:g} s")
    if isinstance(err, httpx.ConnectError):
        if _caused_by(err, ConnectionRefusedError) or "refused" in str(err).lower():
            return ProbeError(f"{url}: connection refused (is the server running?)")
        return ProbeError(f"{url}: cannot connect: {one_line(str(err)) or type(err).__name__}")
    if isinstance(err, httpx.ReadTimeout):
        return ProbeError(f"{url}: read timeout")
    if isinstance(err, httpx.RemoteProtocolError | httpx.ReadError):
        return ProbeError(f"{url}: stream cut mid-way ({one_line(str(err)) or type(err).__name__})")
    return ProbeError(f"{url}: {type(err).__name__}: {one_line(str(err))}")


def status_error(url: str, status: int, body: bytes, headers: httpx.Headers) -> ProbeError:
    """A non-200 answer as one line: redirects (not followed), authentication, the rest."""
    if 300 <= status < 400:
        where = headers.get("location", "?")
        return ProbeError(f"{url}: answered a redirect ({status}) to {where}; not followed")
    if status in {401, 403}:
        return ProbeError(f"{url}: authentication required ({status}): {error_text(body)}")
    return ProbeError(f"{url}: HTTP {status}: {error_text(body)}")


async def read_capped(response: httpx.Response, url: str, limit: int) -> bytes:
    """The whole body, refusing one larger than `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > limit:
            raise ProbeError(f"{url}: answer larger than {limit >> 20} MiB; not read")
        chunks.append(chunk)
    return b"".join(chunks)


async def get_json(client: httpx.AsyncClient, base: str, path: str, timeouts: ProbeTimeouts) -> Any:
    """GET base+path and parse JSON, within `timeouts.request` seconds and MAX_JSON_BYTES.

    Raises Unreachable when nothing answers, ProbeError for any other failure."""
    url = base + path
    try:
        async with asyncio.timeout(timeouts.request):
            async with client.stream("GET", path) as response:
                body = await read_capped(response, url, MAX_JSON_BYTES)
                if response.status_code != 200:
                    raise status_error(url, response.status_code, body, response.headers)
    except TimeoutError:
        raise Unreachable(f"{url}: no answer within {timeouts.request:g} s") from None
    except httpx.HTTPError as err:
        problem = transport_error(url, err, timeouts)
        if isinstance(err, httpx.ConnectError | httpx.ConnectTimeout):
            raise Unreachable(str(problem)) from None
        raise problem from None
    try:
        return parse_json(body)
    except ValueError as err:
        raise ProbeError(
            f"{url}: answer is not usable JSON ({one_line(str(err), 80)}): "
            f"{one_line(repr(body[:80]))}"
        ) from None


async def lines(response: httpx.Response, url: str) -> AsyncIterator[bytes]:
    """Split a streamed body into lines, refusing any line or total larger than the caps."""
    buf = b""
    total = 0
    async for chunk in response.aiter_raw():
        total += len(chunk)
        if total > MAX_STREAM_BYTES:
            raise ProbeError(f"{url}: streamed answer larger than {MAX_STREAM_BYTES >> 20} MiB")
        buf += chunk
        while True:
            cut = buf.find(b"\n")
            if cut < 0:
                break
            line, buf = buf[:cut], buf[cut + 1 :]
            yield line.rstrip(b"\r")
        if len(buf) > MAX_LINE_BYTES:
            raise ProbeError(f"{url}: a streamed line is longer than {MAX_LINE_BYTES >> 20} MiB")
    if buf.strip():
        yield buf.rstrip(b"\r")
