"""One entry point from a model reference to a `ModelSpec`, whatever the reference is.

References: a local `.gguf` file (first shard of a split model too), a folder holding one model,
`hf:ORG/REPO/FILE.gguf[@REV]` or `hf:ORG/REPO:QUANT`, an `http(s)://` URL, or a catalog id
(`catalog:ID[:QUANT]`, or a bare `ID[:QUANT]` when no such path exists).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

from vramtui.core.errors import ModelReferenceError
from vramtui.core.gguf.spec import ModelSpec


def is_remote_reference(ref: str) -> bool:
    return ref.startswith(("hf:", "http://", "https://"))


def open_model(
    ref: str,
    mmproj: str = "auto",
    *,
    progress: Callable[[int, int], None] | None = None,
    timeout: float | None = None,
    allow_redirects: bool = False,
) -> ModelSpec:
    """Resolve `ref` and read its header (or synthesize it from the catalog).

    `mmproj` is "auto" (pair a projector found beside the model), "none", or a path/URL.
    `progress(bytes_read, file_size)` is called as a remote header arrives (slow links).
    `timeout` bounds a remote open in total (seconds; default 120), `allow_redirects` lets it
    follow redirects to other hosts (`--timeout`, `--allow-redirects`).
    Raises a `VramtuiError` subclass with a one-line message for anything the user must fix.
    """
    ref = ref.strip()
    if not ref:
        raise ModelReferenceError(
            "no model given: pass a path, folder, hf: reference, URL or catalog id"
        )
    if is_remote_reference(ref):
        from vramtui.core.remote.header import RemoteOptions, open_remote_model  # noqa: PLC0415 - loaded only when needed

        options = RemoteOptions(allow_redirects=allow_redirects)
        if timeout is not None:
            options = replace(options, total_timeout=timeout)
        if mmproj in ("auto", "none", "") or is_remote_reference(mmproj):
            return open_remote_model(ref, mmproj=mmproj, progress=progress, options=options)
        # A remote model with a projector on disk: each opened by its own reader.
        remote = open_remote_model(ref, mmproj="none", progress=progress, options=options)
        return replace(remote, mmproj=open_model(mmproj, mmproj="none"))
    expanded = os.path.expanduser(ref)
    if ref.startswith("catalog:") or not os.path.exists(expanded):
        from vramtui.core.catalog.entries import open_catalog_model  # noqa: PLC0415 - loaded only when needed

        spec = open_catalog_model(ref.removeprefix("catalog:"))
        if spec is not None:
            return _with_projector_choice(spec, mmproj)
        raise ModelReferenceError(
            f"{ref}: no such file or folder, and no catalog model by that name "
            "(see `vramtui models --catalog`)"
        )
    from vramtui.core.gguf.files import open_local_model  # noqa: PLC0415 - loaded only when needed

    return open_local_model(expanded, mmproj=mmproj)


def _with_projector_choice(spec: ModelSpec, mmproj: str) -> ModelSpec:
    """A catalog model carries its own projector: "none" drops it, a path or URL replaces it."""
    if mmproj in ("auto", ""):
        return spec
    if mmproj == "none":
        return replace(spec, mmproj=None)
    return replace(spec, mmproj=open_model(mmproj, mmproj="none"))
