"""Read a remote GGUF model's header over HTTP range requests, without downloading the model.

References: `hf:ORG/REPO/PATH/FILE.gguf[@REVISION]`, `hf:ORG/REPO:QUANT` (the file is found by
its quantization name in the repository's file list), and plain `http(s)://` URLs.

Strategy: one modest first range, then ranges sized by what the parser says it needs next
(`hint`), so a 10 MB Qwen-vocab header costs about 3 requests. For comparison, hf-mem fetches
1 MB and doubles up to 100 MB, and gguf-parser-go reads 4 MiB chunks
(research/memory-estimators.md §1, §5; bench/bench_remote.py measures all three).

Safety (remote_http): a hard total deadline for the whole open, enforced by a watchdog
and by per-read checks there; capped requests, header size and listing size; redirects only
to the same host or Hugging Face's CDN unless allowed; HTML answers and 401/403/404 stop at
once with a one-line `RemoteError`; HF_TOKEN only to Hugging Face hosts.

Parsed headers are cached by URL and validated by ETag; offline, the cached header is used.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from vramtui.core.errors import ModelFileError, ModelReferenceError, RemoteError, VramtuiError
from vramtui.core.gguf.header_cache import load_spec_entry, spec_to_json, store_entry
from vramtui.core.gguf.reader import GGUFHeader, merge_shard_tensors
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.remote.hf import hf_file_url, hf_tree
from vramtui.core.remote.hf_refs import SPLIT_RE, choose_files, choose_projector, parse_hf_ref
from vramtui.core.remote.http import (
    Http,
    HttpRangeSource,
    Progress,
    RemoteOptions,
    check_url,
)

_REV_RE = re.compile(r"^[0-9a-f]{40}$")
MAX_SHARDS = 256  # split.count above this is refused (the largest GGUF splits have ~50 parts)

# Kept importable from here: tests and the benchmark use them.
_Http = Http
__all__ = [
    "HttpRangeSource",
    "RemoteOptions",
    "RemoteStats",
    "open_remote_model",
]


@dataclass
class RemoteStats:
    """What an open cost: for the benchmark and the tests."""

    requests: int = 0
    bytes_received: int = 0
    from_cache: bool = False


def _parse_url(
    url: str, http: Http, name: str, progress: Progress | None
) -> tuple[GGUFHeader, HttpRangeSource]:
    from vramtui.core.gguf.reader import parse_gguf_header  # noqa: PLC0415 - lazy: keeps startup fast

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
    headers: list[GGUFHeader], sizes: list[int], urls: list[str], name: str, source: str
) -> ModelSpec:
    """Combine the shards' headers: metadata of the first, tensors of all (with their shard)."""
    try:
        tensors = merge_shard_tensors([h.tensors for h in headers], urls)
    except ModelFileError as exc:
        raise RemoteError(exc.path, exc.problem) from None
    return ModelSpec(
        name=name,
        source=source,
        metadata=dict(headers[0].metadata),
        tensors=tensors,
        file_size=sum(sizes),
        shards=tuple(urls) if len(urls) > 1 else (),
    )


def _validate_cached(url: str, etag: str, http: Http) -> bool | None:
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


def _from_cache(key: str, http: Http, immutable: bool) -> ModelSpec | None:
    """The cached spec when it is current (or the server is unreachable); None to read again."""
    found = load_spec_entry("remote", key) if http.options.use_cache else None
    if found is None:
        return None
    entry, spec = found
    etag = entry.get("etag")
    etag = etag if isinstance(etag, str) else ""
    state = True if immutable else _validate_cached(key, etag, http)
    if state is True:
        return spec
    if state is None:
        stamp = entry.get("time")
        when = time.localtime(stamp if isinstance(stamp, int | float) and 0 <= stamp < 1e11 else 0)
        note = f"offline: using the header cached on {time.strftime('%Y-%m-%d %H:%M', when)}"
        return replace(spec, notes=(*spec.notes, note))
    return None


def _shard_urls(first: str, urls: list[str], header: GGUFHeader) -> list[str]:
    """Every shard's URL when the first header says the model is split, else `[first]`."""
    count = header.metadata.get("split.count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count <= 1:
        return [first]
    if count > MAX_SHARDS:
        raise RemoteError(first, f"split.count {count} is over the limit of {MAX_SHARDS} shards")
    if len(urls) == count:
        return urls
    base, _, file_name = first.rpartition("/")
    match = SPLIT_RE.search(file_name)
    if match is None:
        raise RemoteError(
            first, f"split.count is {count}, but the name does not end in -00001-of-{count:05d}"
        )
    stem = file_name[: match.start()]
    return [f"{base}/{stem}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]


def _open_urls(
    urls: list[str],
    http: Http,
    name: str,
    source: str,
    *,
    progress: Progress | None,
    immutable: bool,
) -> ModelSpec:
    """Read the header of `urls[0]` (and its sibling shards), through the ETag cache."""
    first = urls[0]
    cached = _from_cache(first, http, immutable)
    if cached is not None:
        return cached
    header, src = _parse_url(first, http, name, progress)
    headers, sizes, etag = [header], [src.size], src.etag
    all_urls = _shard_urls(first, urls, header)
    for index, shard_url in enumerate(all_urls[1:], start=1):
        h, s = _parse_url(shard_url, http, shard_url.rsplit("/", 1)[-1], progress)
        number = h.metadata.get("split.no")
        if isinstance(number, int) and not isinstance(number, bool) and number != index:
            raise RemoteError(shard_url, f"split.no is {number}, expected {index} from its name")
        headers.append(h)
        sizes.append(s.size)
    spec = _spec_from_headers(headers, sizes, all_urls, name, source)
    if http.options.use_cache:
        store_entry(
            "remote", first, {"etag": etag, "time": time.time(), "spec": spec_to_json(spec)}
        )
    return spec


def _open_hf(
    ref: str, mmproj: str, http: Http, progress: Progress | None
) -> tuple[ModelSpec, str | None]:
    """An `hf:` reference: the model's spec, and the URL of the projector "auto" pairs."""
    options = http.options
    hf = parse_hf_ref(ref)
    immutable = bool(_REV_RE.match(hf.revision))
    files: list[str] | None = None
    if hf.path is not None:
        paths = [hf.path]
        match = SPLIT_RE.search(hf.path)
        if match and int(match.group(1)) != 1:
            raise ModelReferenceError(f"{ref}: name the first shard (-00001-of-{match.group(2)})")
    else:
        files = hf_tree(hf, http)
        paths = choose_files(files, hf.quant or "Q4_K_M", ref)
    urls = [hf_file_url(hf.repo, p, hf.revision, options) for p in paths]
    name = f"{hf.repo}/{paths[0].rsplit('/', 1)[-1]}"
    spec = _open_urls(urls, http, name, ref, progress=progress, immutable=immutable)
    if mmproj != "auto":
        return spec, None
    if files is None:
        try:
            files = hf_tree(hf, http)
        except (RemoteError, ModelReferenceError):
            files = []
    proj = choose_projector(files)
    return spec, hf_file_url(hf.repo, proj, hf.revision, options) if proj is not None else None


def _projector_url(mmproj: str, options: RemoteOptions) -> str:
    """The URL of a projector the user named for a remote model."""
    if mmproj.startswith("hf:"):
        p = parse_hf_ref(mmproj)
        if p.path is None:
            raise ModelReferenceError(f"{mmproj}: name the projector file (hf:ORG/REPO/FILE.gguf)")
        return hf_file_url(p.repo, p.path, p.revision, options)
    if mmproj.startswith(("http://", "https://")):
        return check_url(mmproj)
    raise ModelReferenceError(
        f"{mmproj}: a remote model takes a projector as hf:, http(s):// or a local path "
        "(opened by model.source)"
    )


def _open_remote(ref: str, mmproj: str, http: Http, progress: Progress | None) -> ModelSpec:
    projector_url: str | None = None
    if ref.startswith("hf:"):
        spec, projector_url = _open_hf(ref, mmproj, http, progress)
    elif ref.startswith(("http://", "https://")):
        check_url(ref)
        name = urlsplit(ref).path.rsplit("/", 1)[-1] or ref
        spec = _open_urls([ref], http, name, ref, progress=progress, immutable=False)
    else:
        raise ModelReferenceError(f"{ref}: not a remote reference (hf:, http:// or https://)")
    if mmproj not in ("auto", "none", ""):
        projector_url = _projector_url(mmproj, http.options)
    if projector_url is None:
        return spec
    proj_name = urlsplit(projector_url).path.rsplit("/", 1)[-1]
    proj_spec = _open_urls(
        [projector_url], http, proj_name, projector_url, progress=progress, immutable=False
    )
    return replace(spec, mmproj=proj_spec)


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
    Raises a one-line `VramtuiError` for everything a server or a reference can do wrong,
    within `options.total_timeout` seconds.
    """
    options = options or RemoteOptions()
    http = Http(options)
    try:
        spec = http.watched(ref, lambda: _open_remote(ref.strip(), mmproj, http, progress))
    finally:
        if not http.cancelled:
            http.close()
        if stats is not None:
            stats.requests += http.requests
            stats.bytes_received += http.bytes_received
            stats.from_cache = http.requests <= 1 and http.bytes_received == 0
    return spec
