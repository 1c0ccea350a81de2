"""A Hugging Face repository's GGUF files with their sizes, grouped by quantization.

The Hub's tree API (`GET /api/models/{repo}/tree/{revision}?recursive=true`, documented in
huggingface_hub's `HfApi.list_repo_tree`) answers a JSON list of entries `{"type": "file" |
"directory", "path", "size", "oid", "lfs": {"oid", "size", "pointerSize"}}`; for an LFS file
`lfs.size` is the file's size (`size` too, on the current Hub). Long listings are paged with
a `Link: <...>; rel="next"` header (huggingface_hub utils/_pagination.py), followed here up to
MAX_PAGES. Only the listing is read: the headers of the files are read later, one quant at a
time, through `remote.open_remote_model` and its header cache. The listing is cached too, so a
repository read once still lists offline.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from vramtui.core.errors import RemoteError
from vramtui.core.gguf.header_cache import load_entry, store_entry
from vramtui.core.remote.hf_refs import SPLIT_RE, HfRef, parse_hf_ref
from vramtui.core.remote.http import Http, MiB, RemoteOptions, status_error

MAX_PAGES = 50  # 50 pages of 1000 entries: far beyond any GGUF repository
MAX_PAGE_BYTES = 4 * MiB  # a page of 1000 entries is some 250 KiB
MAX_FILES = 10_000  # entries in one listing; a repository with more is refused, not half-read
MAX_QUANTS = 64  # quants in one repository; more is refused (each may cost a header read)
_CACHE_KIND = "hftree-sized"
# The quantization at the end of a GGUF file name (llama.cpp's and the quantizers' naming).
_QUANT_RE = re.compile(r"((?:UD-)?(?:I?Q\d\w*|BF16|F16|F32|MXFP4\w*))$", re.IGNORECASE)


@dataclass(frozen=True)
class HfFile:
    path: str
    size: int  # bytes; 0 when the listing did not say


@dataclass(frozen=True)
class HfQuantFiles:
    """One quantization's model file(s): a single GGUF or every shard of a split one."""

    quant: str
    paths: tuple[str, ...]
    size: int  # all shards together

    @property
    def first(self) -> str:
        return self.paths[0]


def _size(item: dict[str, Any]) -> int:
    lfs = item.get("lfs")
    if isinstance(lfs, dict) and isinstance(lfs.get("size"), int):
        return int(lfs["size"])
    size = item.get("size")
    return int(size) if isinstance(size, int) and size >= 0 else 0


def _files(items: Any) -> list[HfFile]:
    if not isinstance(items, list):
        raise ValueError("not a list")
    return [
        HfFile(i["path"], _size(i))
        for i in items
        if isinstance(i, dict) and i.get("type") == "file" and isinstance(i.get("path"), str)
    ]


def _read_page(http: Http, url: str) -> tuple[list[HfFile], str | None]:
    response, _ = http.open("GET", url)
    try:
        if response.status_code != 200:
            raise status_error(url, response)
        body = b""
        for chunk in response.iter_bytes():
            http.check_deadline(url)
            http.bytes_received += len(chunk)
            body += chunk
            if len(body) > MAX_PAGE_BYTES:
                raise RemoteError(url, f"the file listing is over {MAX_PAGE_BYTES // MiB} MiB")
        nxt = response.links.get("next", {}).get("url")
    except httpx.TimeoutException as exc:
        raise http.stalled(url, "no data") from exc
    except httpx.HTTPError as exc:
        raise RemoteError(url, f"transfer failed ({type(exc).__name__})") from exc
    finally:
        response.close()
    try:
        return _files(json.loads(body)), nxt
    except (ValueError, RecursionError) as exc:
        raise RemoteError(
            url, "the file listing is not the JSON the Hugging Face API sends"
        ) from exc


def _cached(key: str) -> list[HfFile] | None:
    entry = load_entry(_CACHE_KIND, key)
    rows = entry.get("files") if entry is not None else None
    if not isinstance(rows, list):
        return None
    out = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 2 and isinstance(row[0], str)):
            return None
        out.append(HfFile(row[0], int(row[1]) if isinstance(row[1], int) else 0))
    return out


def _tree(hf: HfRef, http: Http) -> list[HfFile]:
    rev = quote(hf.revision, safe="")
    first = f"{http.options.hf_endpoint()}/api/models/{hf.repo}/tree/{rev}?recursive=true"
    files: list[HfFile] = []
    url: str | None = first
    try:
        for _ in range(MAX_PAGES):
            if url is None:
                break
            page, url = _read_page(http, url)
            files += page
            if len(files) > MAX_FILES:
                raise RemoteError(
                    first, f"the repository lists more than {MAX_FILES:,} files; name one file"
                )
    except RemoteError:
        cached = _cached(first) if not files else None
        if cached is not None and len(cached) > MAX_FILES:
            cached = None
        if cached is not None:
            return cached
        raise
    store_entry(_CACHE_KIND, first, {"files": [[f.path, f.size] for f in files]})
    return files


def list_hf_files(ref: str, *, options: RemoteOptions | None = None) -> tuple[HfRef, list[HfFile]]:
    """`hf:ORG/REPO[@REV]` -> (the parsed reference, every file with its size)."""
    hf = parse_hf_ref(ref)
    http = Http(options or RemoteOptions())
    try:
        # Under the open's hard deadline, whatever the server does (a drip of headers too).
        return hf, http.watched(f"hf:{hf.repo}", lambda: _tree(hf, http))
    finally:
        http.close()


def _is_projector(path: str) -> bool:
    return "mmproj" in path.rsplit("/", 1)[-1].lower()


def quant_name(path: str) -> str:
    """The quantization a file name carries (`...-Q4_K_M.gguf` -> "Q4_K_M"), else the stem."""
    stem = SPLIT_RE.sub("", path.rsplit("/", 1)[-1])
    stem = stem[:-5] if stem.lower().endswith(".gguf") else stem
    match = _QUANT_RE.search(stem)
    return match.group(1).upper() if match else stem


def group_quants(files: list[HfFile]) -> list[HfQuantFiles]:
    """Model GGUF files (projectors left out) grouped into quants, shards together; more than
    MAX_QUANTS is refused (ValueError)."""
    groups: dict[str, list[HfFile]] = {}
    for f in files:
        if f.path.lower().endswith(".gguf") and not _is_projector(f.path):
            groups.setdefault(SPLIT_RE.sub(".gguf", f.path), []).append(f)
    if len(groups) > MAX_QUANTS:
        raise ValueError(f"more than {MAX_QUANTS} quants ({len(groups):,}); name one file")
    out = []
    for key, members in groups.items():
        members.sort(key=lambda f: f.path)
        out.append(
            HfQuantFiles(
                quant_name(key), tuple(m.path for m in members), sum(m.size for m in members)
            )
        )
    return sorted(out, key=lambda q: (q.size, q.quant))
