"""Read a remote GGUF model's header over HTTP range requests, without downloading the model.

References: `hf:ORG/REPO/PATH/FILE.gguf[@REVISION]`, `hf:ORG/REPO:QUANT` (the file is found by
its quantization name in the repository's file list), and plain `http(s)://` URLs.

Strategy: one modest first range, then ranges sized by what the parser says it needs next
(`hint`), so a 10 MB Qwen-vocab header costs about 3 requests. For comparison, hf-mem fetches
1 MB and doubles up to 100 MB, and gguf-parser-go reads 4 MiB chunks
(research/memory-estimators.md §1, §5; bench/bench_remote.py measures all three).

Safety: bounded connect/read timeouts and a total deadline, a cap on the header size, a server
that ignores Range is read as a stream only up to that cap, HTML answers and 401/403/404 stop
at once with a one-line `RemoteError`. HF_TOKEN goes only to Hugging Face hosts, checked on
every redirect hop (redirects are followed by hand for that reason).

Parsed headers are cached by URL and validated by ETag; offline, the cached header is used.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from tui.core.errors import ModelReferenceError, RemoteError, VramtuiError
from tui.core.model.header_cache import load_entry, spec_from_json, spec_to_json, store_entry
from tui.core.model.spec import ModelSpec, TensorInfo

Progress = Callable[[int, int], None]

KiB = 1024
MiB = 1024 * KiB
HF_HOSTS = ("huggingface.co", "hf.co")
_SPLIT_RE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_REV_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class RemoteOptions:
    """Limits and knobs; tests shrink the timeouts, the benchmark changes the chunking."""

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 120.0  # for one whole open (all shards)
    first_range: int = 64 * KiB  # the parser's first read; a small header costs just this
    min_range: int = 1 * MiB  # smallest follow-up range (streamed, so unused bytes are not read)
    max_header: int = 64 * MiB  # a header bigger than this is refused
    max_redirects: int = 10
    token: str | None = None  # default: $HF_TOKEN
    token_hosts: tuple[str, ...] = ()  # extra hosts that may receive the token (tests)
    use_cache: bool = True
    transport: httpx.BaseTransport | None = field(default=None, compare=False)

    def hf_endpoint(self) -> str:
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _token_allowed(url: str, options: RemoteOptions) -> bool:
    """HF_TOKEN only goes to Hugging Face itself (or the configured HF_ENDPOINT host)."""
    host = (urlsplit(url).hostname or "").lower()
    allowed = set(HF_HOSTS) | {h.lower() for h in options.token_hosts}
    endpoint_host = urlsplit(options.hf_endpoint()).hostname
    if endpoint_host:
        allowed.add(endpoint_host.lower())
    return any(host == h or host.endswith("." + h) for h in allowed)


class _Http:
    """One httpx client with hand-followed redirects and the token rule applied per hop."""

    def __init__(self, options: RemoteOptions) -> None:
        self.options = options
        self.token = (
            options.token if options.token is not None else os.environ.get("HF_TOKEN") or None
        )
        timeout = httpx.Timeout(
            connect=options.connect_timeout,
            read=options.read_timeout,
            write=options.read_timeout,
            pool=options.connect_timeout,
        )
        self.client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            transport=options.transport,
            headers={"User-Agent": "vramtui (GGUF header reader)", "Accept-Encoding": "identity"},
        )
        self.deadline = time.monotonic() + options.total_timeout
        self.requests = 0
        self.bytes_received = 0

    def close(self) -> None:
        self.client.close()

    def check_deadline(self, url: str) -> None:
        if time.monotonic() > self.deadline:
            raise RemoteError(url, f"gave up after {self.options.total_timeout:g} s in total")

    def open(
        self, method: str, url: str, headers: dict[str, str] | None = None
    ) -> tuple[httpx.Response, str]:
        """Send a request, following redirects by hand; returns the open (streamed) response."""
        current = url
        for _ in range(self.options.max_redirects + 1):
            self.check_deadline(url)
            hdrs = dict(headers or {})
            if self.token and _token_allowed(current, self.options):
                hdrs["Authorization"] = f"Bearer {self.token}"
            request = self.client.build_request(method, current, headers=hdrs)
            self.requests += 1
            try:
                response = self.client.send(request, stream=True)
            except httpx.ConnectTimeout as exc:
                raise RemoteError(
                    url, f"no connection within {self.options.connect_timeout:g} s"
                ) from exc
            except httpx.ConnectError as exc:
                raise RemoteError(url, f"cannot connect ({_short(exc)})") from exc
            except httpx.TimeoutException as exc:
                raise RemoteError(
                    url, f"server stalled: no answer for {self.options.read_timeout:g} s"
                ) from exc
            except httpx.HTTPError as exc:
                raise RemoteError(url, f"HTTP error ({_short(exc)})") from exc
            if response.is_redirect and "location" in response.headers:
                response.close()
                current = urljoin(current, response.headers["location"])
                continue
            return response, current
        raise RemoteError(url, f"more than {self.options.max_redirects} redirects")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__


def _status_error(url: str, response: httpx.Response) -> RemoteError:
    code = response.status_code
    if code in (401, 403):
        hint = (
            "set HF_TOKEN to a token that can read this repository"
            if _is_hf(url)
            else "the server wants credentials"
        )
        return RemoteError(url, f"access denied (HTTP {code}): {hint}")
    if code == 404:
        return RemoteError(url, "not found (HTTP 404)")
    if code == 416:
        return RemoteError(
            url, "the server refused the byte range (HTTP 416): empty or truncated file?"
        )
    return RemoteError(url, f"unexpected HTTP {code} {response.reason_phrase}".rstrip())


def _is_hf(url: str) -> bool:
    """A Hugging Face host (or the HF_ENDPOINT mirror the user configured)."""
    host = (urlsplit(url).hostname or "").lower()
    hosts = set(HF_HOSTS)
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT", "")).hostname
    if endpoint:
        hosts.add(endpoint.lower())
    return any(host == h or host.endswith("." + h) for h in hosts)


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class HttpRangeSource:
    """A `ByteSource` over HTTP: `size` and `read(offset, length, hint=)` backed by range requests.

    Bytes are kept in one buffer from offset 0 (a GGUF header is read front to back). Each range
    request is sized generously from the parser's hint but its body is *streamed*: only what the
    parser actually consumes is read, and `close()` drops the connection with the rest unread.
    So a header costs few round trips and about its own size in bytes. A server that answers
    200 to a range request is read the same way, from the start, and never past `max_header`.
    """

    # Largest read the parser should ask for at once: read-ahead belongs in `hint`, which only
    # sizes the (streamed) range, so bytes beyond the header are never pulled. Honoured by
    # gguf_reader once it caps its reads by `getattr(source, "max_read", MAX_CHUNK)`.
    max_read = 64 * KiB

    def __init__(self, url: str, http: _Http, *, progress: Progress | None = None) -> None:
        self.url = url
        self.http = http
        self.options = http.options
        self.progress = progress
        self.buf = bytearray()
        self.etag = ""
        self.final_url = url
        self.size = 0
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._range_end = 0  # end (exclusive) of the body the open response will send
        self._ranges_ok = True
        self._open_range(0, self.options.first_range, first=True)

    # -- requests -------------------------------------------------------------------------
    def _open_range(self, start: int, end: int, *, first: bool = False) -> None:
        """Start streaming bytes [start, end) (a new request; the previous stream is dropped)."""
        self._drop_stream()
        url = self.url if first else self.final_url
        response, final = self.http.open("GET", url, {"Range": f"bytes={start}-{end - 1}"})
        try:
            self._check_response(response)
            if first:
                self.final_url = final
                self.etag = (
                    response.headers.get("x-linked-etag") or response.headers.get("etag") or ""
                )
            if response.status_code == 206:
                _, last, total = self._content_range(response, start)
                if first:
                    self.size = total
                self._range_end = last + 1
            elif first:  # 200: the server ignores Range; read the body as a stream from 0
                self._ranges_ok = False
                length = response.headers.get("content-length", "")
                self.size = int(length) if length.isdigit() else 1 << 62
                self._range_end = self.size
            else:
                raise RemoteError(self.url, "the server stopped honouring Range requests")
        except BaseException:
            response.close()
            raise
        self._response = response
        self._chunks = response.iter_raw(chunk_size=64 * KiB)

    def _check_response(self, response: httpx.Response) -> None:
        if response.status_code not in (200, 206):
            raise _status_error(self.url, response)
        ctype = response.headers.get("content-type", "").lower()
        if "text/html" in ctype:
            raise RemoteError(
                self.url,
                "the server sent an HTML page, not a GGUF file (a login page or a wrong link?)",
            )

    def _content_range(self, response: httpx.Response, start: int) -> tuple[int, int, int]:
        match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
        if not match or match.group(3) == "*":
            raise RemoteError(
                self.url, "the server answered a range request without a usable Content-Range"
            )
        first, last, total = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if first != start:
            raise RemoteError(
                self.url, f"asked for bytes from {start}, the server sent bytes from {first}"
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
                    if len(self.buf) < min(self._range_end, self.size):
                        raise RemoteError(
                            self.url,
                            f"the server sent {len(self.buf)} bytes where "
                            f"{min(self._range_end, self.size)} were expected",
                        )
                    if not self._ranges_ok:
                        self.size = len(self.buf)  # a 200 body of unknown length ended
                    self._drop_stream()
                    return
                self.http.bytes_received += len(chunk)
                self.buf += chunk
                self._report()
        except httpx.TimeoutException as exc:
            self._drop_stream()
            raise RemoteError(
                self.url, f"server stalled: no data for {self.options.read_timeout:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            self._drop_stream()
            raise RemoteError(self.url, f"transfer failed ({_short(exc)})") from exc

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(len(self.buf), self.size if 0 < self.size < 1 << 62 else 0)

    def _drop_stream(self) -> None:
        if self._response is not None:
            self._response.close()  # unread body: httpx drops the connection, reads no more
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


# -- references ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HfRef:
    repo: str
    path: str | None  # file path inside the repo
    quant: str | None
    revision: str


def parse_hf_ref(ref: str) -> HfRef:
    """`hf:ORG/REPO/PATH.gguf[@REV]` or `hf:ORG/REPO[:QUANT][@REV]`."""
    body = ref.removeprefix("hf:").strip()
    revision = "main"
    if "@" in body:
        body, revision = body.rsplit("@", 1)
        if not revision:
            raise ModelReferenceError(f"{ref}: empty revision after '@'")
    quant = None
    parts = body.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ModelReferenceError(f"{ref}: expected hf:ORG/REPO/FILE.gguf or hf:ORG/REPO:QUANT")
    if len(parts) == 2:
        repo_name = parts[1]
        if ":" in repo_name:
            repo_name, quant = repo_name.split(":", 1)
        return HfRef(f"{parts[0]}/{repo_name}", None, quant or None, revision)
    path = "/".join(parts[2:])
    if not path.lower().endswith(".gguf"):
        raise ModelReferenceError(f"{ref}: the file must end in .gguf (or use hf:ORG/REPO:QUANT)")
    return HfRef(f"{parts[0]}/{parts[1]}", path, None, revision)


def hf_file_url(repo: str, path: str, revision: str, options: RemoteOptions) -> str:
    return f"{options.hf_endpoint()}/{repo}/resolve/{quote(revision, safe='')}/{quote(path)}"


def _is_projector_name(path: str) -> bool:
    return "mmproj" in path.rsplit("/", 1)[-1].lower()


def _quant_matches(path: str, quant: str) -> bool:
    """The file name holds the quant as a token (`...-Q4_K_M.gguf`, `.../Q4_K_M/...`)."""
    name = _SPLIT_RE.sub(".gguf", path).lower()
    q = re.escape(quant.lower())
    return re.search(rf"(^|[-_./]){q}([-_./]|$)", name) is not None


def _choose_files(files: list[str], quant: str, ref: str) -> list[str]:
    """The model file(s) for `quant`: one file, or all shards of a split model, in order."""
    ggufs = [f for f in files if f.lower().endswith(".gguf") and not _is_projector_name(f)]
    matches = sorted(f for f in ggufs if _quant_matches(f, quant))
    if not matches:
        offered = sorted({_guess_quant(f) for f in ggufs} - {""})
        listing = ", ".join(offered) if offered else "no GGUF files"
        raise ModelReferenceError(f"{ref}: no {quant} file in the repository (offered: {listing})")
    # Prefer an exact `-QUANT.gguf` ending over e.g. `UD-Q4_K_M`-style variants.
    groups: dict[str, list[str]] = {}
    for f in matches:
        groups.setdefault(_SPLIT_RE.sub(".gguf", f), []).append(f)
    keys = sorted(groups, key=lambda k: (len(k.rsplit("/", 1)[-1]), k))
    return sorted(groups[keys[0]])


def _guess_quant(path: str) -> str:
    name = _SPLIT_RE.sub("", path.rsplit("/", 1)[-1]).removesuffix(".gguf")
    match = re.search(r"((?:UD-)?(?:I?Q\d[\w]*|BF16|F16|F32|MXFP4\w*))$", name, re.IGNORECASE)
    return match.group(1) if match else ""


def _choose_projector(files: list[str]) -> str | None:
    projs = sorted(f for f in files if f.lower().endswith(".gguf") and _is_projector_name(f))
    for pref in ("f16", "bf16", "q8_0"):
        for f in projs:
            if pref in f.lower().rsplit("/", 1)[-1]:
                return f
    return projs[0] if projs else None


def split_shard_names(name: str, count: int) -> list[str]:
    """`...-00001-of-00003.gguf` -> the names of all `count` shards."""
    match = _SPLIT_RE.search(name)
    if not match:
        return [name]
    stem = name[: match.start()]
    return [f"{stem}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]


# -- opening ------------------------------------------------------------------------------


@dataclass
class RemoteStats:
    """What an open cost: for the benchmark and the tests."""

    requests: int = 0
    bytes_received: int = 0
    from_cache: bool = False


def _parse_url(
    url: str, http: _Http, name: str, progress: Progress | None
) -> tuple[Any, HttpRangeSource]:
    from tui.core.model.gguf_reader import parse_gguf_header  # noqa: PLC0415 - lazy: keeps startup fast

    source = HttpRangeSource(url, http, progress=progress)
    try:
        header = parse_gguf_header(source, name)
    except VramtuiError as exc:
        if isinstance(exc, RemoteError):
            raise
        raise RemoteError(url, str(exc).removeprefix(f"{name}: ")) from exc
    finally:
        source.close()
    return header, source


def _spec_from_headers(
    headers: list[Any], sizes: list[int], urls: list[str], name: str, source: str
) -> ModelSpec:
    """Combine the shards' headers: metadata of the first, tensors of all (with their shard)."""
    tensors: list[TensorInfo] = []
    for index, header in enumerate(headers):
        for t in header.tensors:
            tensors.append(TensorInfo(t.name, tuple(t.shape), t.ggml_type, t.offset, index))
    return ModelSpec(
        name=name,
        source=source,
        metadata=dict(headers[0].metadata),
        tensors=tuple(tensors),
        file_size=sum(sizes),
        shards=tuple(urls) if len(urls) > 1 else (),
    )


def _validate_cached(url: str, etag: str, http: _Http) -> bool | None:
    """True: the cached header is current; False: changed; None: server unreachable."""
    try:
        response, _ = http.open("HEAD", url)
    except RemoteError:
        return None
    response.close()
    if response.status_code >= 400:
        return None if response.status_code >= 500 else False
    now = response.headers.get("x-linked-etag") or response.headers.get("etag") or ""
    return bool(etag) and now == etag


def _open_urls(
    urls: list[str],
    http: _Http,
    name: str,
    source: str,
    *,
    progress: Progress | None,
    immutable: bool,
) -> ModelSpec:
    """Read the header of `urls[0]` (and its sibling shards), through the ETag cache."""
    first = urls[0]
    key = first
    cached = load_entry("remote", key) if http.options.use_cache else None
    if cached is not None:
        state = True if immutable else _validate_cached(first, cached.get("etag", ""), http)
        if state is True:
            return spec_from_json(cached["spec"])
        if state is None:
            spec = spec_from_json(cached["spec"])
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(cached.get("time", 0))))
            note = f"offline: using the header cached on {when}"
            return ModelSpec(**{**_fields(spec), "notes": (*spec.notes, note)})
    header, src = _parse_url(first, http, name, progress)
    headers, sizes, all_urls, etag = [header], [src.size], [first], src.etag
    count = header.metadata.get("split.count", 1)
    if isinstance(count, int) and count > 1:
        if len(urls) == count:
            all_urls = urls
        else:
            base = first.rsplit("/", 1)
            names = split_shard_names(base[1], count)
            all_urls = [f"{base[0]}/{n}" for n in names]
        for shard_url in all_urls[1:]:
            h, s = _parse_url(shard_url, http, shard_url.rsplit("/", 1)[-1], progress)
            headers.append(h)
            sizes.append(s.size)
    spec = _spec_from_headers(headers, sizes, all_urls, name, source)
    if http.options.use_cache:
        store_entry("remote", key, {"etag": etag, "time": time.time(), "spec": spec_to_json(spec)})
    return spec


def _fields(spec: ModelSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "source": spec.source,
        "metadata": spec.metadata,
        "tensors": spec.tensors,
        "file_size": spec.file_size,
        "shards": spec.shards,
        "mmproj": spec.mmproj,
        "synthesized": spec.synthesized,
        "notes": spec.notes,
    }


def _hf_tree(hf: HfRef, http: _Http, ref: str) -> list[str]:
    """File paths of the repository at the revision (HF API tree listing, recursive), cached."""
    rev = quote(hf.revision, safe="")
    url = f"{http.options.hf_endpoint()}/api/models/{hf.repo}/tree/{rev}?recursive=true"
    key = url
    try:
        response, _ = http.open("GET", url)
    except RemoteError:
        cached = load_entry("hftree", key)
        if cached is not None:
            return [str(p) for p in cached["files"]]
        raise
    try:
        if response.status_code != 200:
            raise _status_error(url, response)
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > 16 * MiB:
                raise RemoteError(url, "the file listing is over 16 MiB")
    except httpx.HTTPError as exc:
        raise RemoteError(url, f"transfer failed ({_short(exc)})") from exc
    finally:
        response.close()
    try:
        items = json.loads(body)
        files = [str(i["path"]) for i in items if isinstance(i, dict) and i.get("type") == "file"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RemoteError(
            url, "the file listing is not the JSON the Hugging Face API sends"
        ) from exc
    store_entry("hftree", key, {"files": files})
    return files


def open_remote_model(
    ref: str,
    mmproj: str = "auto",
    *,
    progress: Progress | None = None,
    options: RemoteOptions | None = None,
    stats: RemoteStats | None = None,
) -> ModelSpec:
    """Read the header of a remote model (and its projector) and return its `ModelSpec`.

    `mmproj`: "auto" (an `mmproj*.gguf` in the same HF repository), "none", or a reference.
    """
    options = options or RemoteOptions()
    http = _Http(options)
    try:
        spec = _open_remote(ref.strip(), mmproj, http, progress)
    finally:
        http.close()
        if stats is not None:
            stats.requests += http.requests
            stats.bytes_received += http.bytes_received
            stats.from_cache = http.requests <= 1 and http.bytes_received == 0
    return spec


def _open_remote(ref: str, mmproj: str, http: _Http, progress: Progress | None) -> ModelSpec:
    options = http.options
    projector_url: str | None = None
    if ref.startswith("hf:"):
        hf = parse_hf_ref(ref)
        immutable = bool(_REV_RE.match(hf.revision))
        files: list[str] | None = None
        if hf.path is not None:
            paths = [hf.path]
            match = _SPLIT_RE.search(hf.path)
            if match and int(match.group(1)) != 1:
                raise ModelReferenceError(
                    f"{ref}: name the first shard (-00001-of-{match.group(2)})"
                )
        else:
            files = _hf_tree(hf, http, ref)
            paths = _choose_files(files, hf.quant or "Q4_K_M", ref)
        urls = [hf_file_url(hf.repo, p, hf.revision, options) for p in paths]
        name = f"{hf.repo}/{paths[0].rsplit('/', 1)[-1]}"
        spec = _open_urls(urls, http, name, ref, progress=progress, immutable=immutable)
        if mmproj == "auto":
            if files is None:
                try:
                    files = _hf_tree(hf, http, ref)
                except (RemoteError, ModelReferenceError):
                    files = []
            proj = _choose_projector(files)
            if proj is not None:
                projector_url = hf_file_url(hf.repo, proj, hf.revision, options)
    elif ref.startswith(("http://", "https://")):
        name = urlsplit(ref).path.rsplit("/", 1)[-1] or ref
        spec = _open_urls([ref], http, name, ref, progress=progress, immutable=False)
    else:
        raise ModelReferenceError(f"{ref}: not a remote reference (hf:, http:// or https://)")
    if mmproj not in ("auto", "none", ""):
        if mmproj.startswith("hf:"):
            p = parse_hf_ref(mmproj)
            if p.path is None:
                raise ModelReferenceError(
                    f"{mmproj}: name the projector file (hf:ORG/REPO/FILE.gguf)"
                )
            projector_url = hf_file_url(p.repo, p.path, p.revision, options)
        elif mmproj.startswith(("http://", "https://")):
            projector_url = mmproj
        else:
            raise ModelReferenceError(
                f"{mmproj}: a remote model takes a projector as hf:, http(s):// or a local path "
                "(opened by model.source)"
            )
    if projector_url is not None:
        proj_name = urlsplit(projector_url).path.rsplit("/", 1)[-1]
        proj_spec = _open_urls(
            [projector_url], http, proj_name, projector_url, progress=progress, immutable=False
        )
        return ModelSpec(**{**_fields(spec), "mmproj": proj_spec})
    return spec
