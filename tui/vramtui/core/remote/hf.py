"""Hugging Face over HTTP: file URLs of `hf:` references and the repository's file listing.

The listing (`/api/models/ORG/REPO/tree/REV?recursive=true`) is read piece by piece under the
open's deadline, capped in bytes and in JSON depth, and cached so that an `hf:ORG/REPO:QUANT`
reference still resolves offline.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from vramtui.core.errors import RemoteError
from vramtui.core.gguf.header_cache import load_entry, store_entry
from vramtui.core.remote.hf_refs import HfRef
from vramtui.core.remote.http import Http, MiB, RemoteOptions, shown, status_error

MAX_LISTING_BYTES = 16 * MiB


def hf_file_url(repo: str, path: str, revision: str, options: RemoteOptions) -> str:
    return f"{options.hf_endpoint()}/{repo}/resolve/{quote(revision, safe='')}/{quote(path)}"


def _cached_files(key: str) -> list[str] | None:
    cached = load_entry("hftree", key)
    files = cached.get("files") if cached is not None else None
    if isinstance(files, list) and all(isinstance(p, str) for p in files):
        return files
    return None


def _read_body(response: httpx.Response, http: Http, url: str) -> bytes:
    """The listing's body, piece by piece under the deadline, at most MAX_LISTING_BYTES."""
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_raw():
            http.check_deadline(url)
            http.bytes_received += len(chunk)
            size += len(chunk)
            if size > MAX_LISTING_BYTES:
                raise RemoteError(url, f"the file listing is over {MAX_LISTING_BYTES // MiB} MiB")
            parts.append(chunk)
    except httpx.TimeoutException as exc:
        raise http.stalled(url, "no data") from exc
    except httpx.HTTPError as exc:
        raise RemoteError(url, f"transfer failed ({shown(str(exc))})") from exc
    except (OSError, ValueError, RuntimeError) as exc:  # the watchdog closed the client
        if http.cancelled:
            raise http.out_of_time(url) from exc
        raise RemoteError(url, f"transfer failed ({shown(str(exc))})") from exc
    return b"".join(parts)


def _paths(items: Any) -> list[str]:
    """The file paths of a tree listing; ValueError when it is not the API's shape."""
    if not isinstance(items, list):
        raise ValueError("not a list")
    return [
        i["path"]
        for i in items
        if isinstance(i, dict) and i.get("type") == "file" and isinstance(i.get("path"), str)
    ]


def hf_tree(hf: HfRef, http: Http) -> list[str]:
    """File paths of the repository at the revision (HF API tree listing, recursive), cached."""
    rev = quote(hf.revision, safe="")
    url = f"{http.options.hf_endpoint()}/api/models/{hf.repo}/tree/{rev}?recursive=true"
    try:
        response, _ = http.open("GET", url)
    except RemoteError:
        cached = _cached_files(url)
        if cached is not None:
            return cached
        raise
    try:
        if response.status_code != 200:
            raise status_error(url, response)
        body = _read_body(response, http, url)
    finally:
        response.close()
    try:
        files = _paths(json.loads(body))
    except (ValueError, RecursionError) as exc:
        raise RemoteError(
            url, "the file listing is not the JSON the Hugging Face API sends"
        ) from exc
    store_entry("hftree", url, {"files": files})
    return files
