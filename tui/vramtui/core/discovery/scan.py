"""Find the GGUF models already on this machine: LM Studio, Ollama, Hugging Face, llama.cpp.

Where each keeps its models: `discovery_roots`. Layouts: LM Studio PUBLISHER/REPO/FILE.gguf;
Ollama manifests/REGISTRY/NAMESPACE/NAME/TAG (JSON) list layers whose digest names
blobs/sha256-HEX (the model is the layer of mediaType application/vnd.ollama.image.model, the
projector application/vnd.ollama.image.projector); the Hugging Face cache
models--ORG--REPO/snapshots/REV/FILE.gguf (symlinks into blobs/); other folders are walked.

Hostile trees: only regular files are read (a FIFO named *.gguf would hang the header read), a
symlinked file is followed only when it resolves inside the scanned folders, and an Ollama
digest must be a sha256 name (a manifest cannot point at ../../etc/passwd).

Header reads run in a thread pool and are cached by (path, size, mtime) in one JSON file, so a
second listing only stats the files. A damaged index entry is read as a miss.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from vramtui.core.atomic import not_regular_reason, read_capped, write_atomic
from vramtui.core.discovery.roots import SMALL_FILE, Root, default_roots
from vramtui.core.errors import VramtuiError
from vramtui.core.gguf.files import SPLIT_RE, is_projector, looks_like_projector_name
from vramtui.core.gguf.ggml_types import FILE_TYPE_NAMES
from vramtui.core.gguf.reader import read_gguf_header
from vramtui.core.paths import cache_dir

Progress = Callable[[int, int], None]

_OLLAMA_MODEL = "application/vnd.ollama.image.model"
_OLLAMA_PROJECTOR = "application/vnd.ollama.image.projector"
_CACHE_FORMAT = 1
_INDEX_LIMIT = 64 << 20  # the discovery index: a few hundred bytes per model file
# An Ollama layer digest names a blob: "sha256:" and 64 hex digits (ollama's manifest format).
_OLLAMA_DIGEST = re.compile(r"sha256[:-]([0-9a-f]{64})")


_QUANT_IN_NAME = re.compile(
    r"(?:^|[-_.])((?:UD-)?(?:IQ\d_[A-Z]+|Q\d_K(?:_[A-Z]+)?|Q\d_\d|BF16|F16|F32|MXFP4(?:_MOE)?))(?=$|[-_.])",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DiscoveredModel:
    name: str  # friendly: "ORG/REPO/FILE" (HF), "name:tag" (Ollama), "PUBLISHER/FILE" (LM Studio)
    path: str  # the file to open (first shard of a split model)
    source: str  # "lmstudio" | "ollama" | "huggingface" | "llamacpp" | "user"
    quant: str  # "Q4_K_M", ... or "" when unknown
    size_bytes: int  # all shards together (projector not included)
    architecture: str  # general.architecture, "" when the header could not be read
    mmproj_path: str | None = None
    shards: tuple[str, ...] = ()  # every shard, in order, when split


@dataclass
class DiscoveryResult:
    models: list[DiscoveredModel] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _HeaderFacts:
    architecture: str = ""
    file_type: int | None = None
    is_projector: bool = False
    error: str = ""


# -- walking ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Candidate:
    name: str
    path: Path
    source: str
    shards: tuple[Path, ...] = ()
    projector: Path | None = None
    name_quant: str = ""


def _inside(path: str, allowed: Sequence[str]) -> bool:
    """Whether the real path `path` lies in one of the (real) folders `allowed`."""
    return any(path == a or path.startswith(a.rstrip(os.sep) + os.sep) for a in allowed)


def usable_file(path: Path, allowed: Sequence[str], problems: list[str]) -> bool:
    """A regular file (never a FIFO, device or socket: reading one would hang or never end)
    that, when reached through a symlink, resolves inside the scanned folders."""
    try:
        mode = os.stat(path).st_mode  # through symlinks
    except OSError as exc:
        problems.append(f"{path}: cannot read ({exc.strerror or exc})")
        return False
    if not stat.S_ISREG(mode):
        problems.append(f"{path}: {not_regular_reason(mode)}")
        return False
    real = os.path.realpath(path)
    if not _inside(real, allowed):
        problems.append(
            f"{path}: a link to {real}, outside the folders scanned; skipped "
            "(add that folder with --dir to list it)"
        )
        return False
    return True


def _walk_ggufs(root: Path, problems: list[str], allowed: Sequence[str] = ()) -> list[Path]:
    """Every *.gguf regular file under `root`, sorted. Symlinked files are followed only when
    they resolve inside `allowed` (the scanned folders; `root` when none are given), folders
    not at all."""
    found: list[Path] = []
    allowed = allowed or (os.path.realpath(root),)

    def onerror(err: OSError) -> None:
        problems.append(f"{err.filename}: cannot read folder ({err.strerror or err})")

    for folder, dirs, files in os.walk(root, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in files:
            if f.lower().endswith(".gguf") and not f.startswith("."):
                path = Path(folder) / f
                if usable_file(path, allowed, problems):
                    found.append(path)
    found.sort()
    return found


def _group_files(
    files: list[Path], root: Path, source: str, name_of: Callable[[Path], str]
) -> list[_Candidate]:
    """Group split shards, pair projectors with the models in their folder."""
    by_folder: dict[Path, list[Path]] = {}
    for f in files:
        by_folder.setdefault(f.parent, []).append(f)
    out: list[_Candidate] = []
    for folder_files in by_folder.values():
        projectors = [f for f in folder_files if looks_like_projector_name(f)]
        models = [f for f in folder_files if not looks_like_projector_name(f)]
        shard_groups: dict[str, list[Path]] = {}
        singles: list[Path] = []
        for f in models:
            m = SPLIT_RE.search(f.name)
            if m:
                shard_groups.setdefault(f.name[: m.start()], []).append(f)
            else:
                singles.append(f)
        projector = _pick_projector(projectors)
        for f in singles:
            out.append(_Candidate(name_of(f), f, source, projector=projector))
        for stem, group in shard_groups.items():
            group.sort()
            display = group[0].with_name(stem + ".gguf")
            out.append(_Candidate(name_of(display), group[0], source, tuple(group), projector))
    return out


def _pick_projector(projectors: list[Path]) -> Path | None:
    if not projectors:
        return None
    for pref in ("f16", "bf16", "q8_0"):
        for p in sorted(projectors):
            if pref in p.name.lower():
                return p
    return sorted(projectors)[0]


def _scan_tree(root: Root, problems: list[str], allowed: Sequence[str]) -> list[_Candidate]:
    files = _walk_ggufs(root.path, problems, allowed)

    def name_of(p: Path) -> str:
        try:
            rel = p.relative_to(root.path)
        except ValueError:
            rel = Path(p.name)
        return str(rel.with_suffix("")).replace(os.sep, "/")

    return _group_files(files, root.path, root.source, name_of)


def _scan_hf(root: Root, problems: list[str], allowed: Sequence[str]) -> list[_Candidate]:
    out: list[_Candidate] = []
    try:
        repos = sorted(p for p in root.path.iterdir() if p.name.startswith("models--"))
    except OSError as exc:
        problems.append(f"{root.path}: cannot read folder ({exc.strerror or exc})")
        return out
    for repo in repos:
        repo_id = repo.name.removeprefix("models--").replace("--", "/")
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        files = _walk_ggufs(snapshots, problems, allowed)
        seen: set[str] = set()
        unique: list[Path] = []
        # The same file in several snapshots (revisions): list it once, newest snapshot first.
        for f in sorted(files, key=_mtime, reverse=True):
            rel = str(f.relative_to(snapshots).parts[1:])
            if rel in seen:
                continue
            seen.add(rel)
            unique.append(f)

        def name_of(p: Path, repo_id: str = repo_id, snapshots: Path = snapshots) -> str:
            rel = p.relative_to(snapshots)
            return f"{repo_id}/{'/'.join(rel.parts[1:])}".removesuffix(".gguf")

        out += _group_files(sorted(unique), snapshots, root.source, name_of)
    return out


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def _scan_ollama(root: Root, problems: list[str], allowed: Sequence[str]) -> list[_Candidate]:
    out: list[_Candidate] = []
    manifests = root.path / "manifests"
    if not manifests.is_dir():
        return out

    def onerror(err: OSError) -> None:
        problems.append(f"{err.filename}: cannot read folder ({err.strerror or err})")

    for folder, dirs, files in os.walk(manifests, onerror=onerror):
        dirs.sort()
        for tag in sorted(files):
            path = Path(folder) / tag
            parts = path.relative_to(manifests).parts  # registry, namespace..., name, tag
            if len(parts) < 3:
                continue
            registry, *middle, name, tag_name = parts
            if registry == "registry.ollama.ai" and middle == ["library"]:
                display = f"{name}:{tag_name}"
            else:
                host = "" if registry == "registry.ollama.ai" else f"{registry}/"
                display = f"{host}{'/'.join([*middle, name])}:{tag_name}"
            blobs = _ollama_blobs(root.path, path, display, problems)
            if blobs is None:
                continue
            model_blob, projector_blob = blobs
            if not usable_file(model_blob, allowed, problems):
                continue
            if projector_blob is not None and not usable_file(projector_blob, allowed, problems):
                projector_blob = None
            out.append(_Candidate(display, model_blob, root.source, projector=projector_blob))
    return out


def _ollama_blob(models: Path, digest: object, display: str, problems: list[str]) -> Path | None:
    """blobs/sha256-HEX for a layer's digest; None (with a problem line) for any other digest,
    so a manifest cannot point outside the blobs folder ("../../etc/passwd")."""
    match = _OLLAMA_DIGEST.fullmatch(digest) if isinstance(digest, str) else None
    if match is None:
        problems.append(f"{display}: layer digest {str(digest)[:80]!r} is not a sha256 name")
        return None
    return models / "blobs" / f"sha256-{match.group(1)}"


def _ollama_blobs(
    models: Path, manifest_path: Path, display: str, problems: list[str]
) -> tuple[Path, Path | None] | None:
    """(model blob, projector blob) a manifest names; None when it names no usable model."""
    try:
        manifest = json.loads(read_capped(manifest_path, SMALL_FILE))
        layers = manifest.get("layers", [])
    except OSError as exc:
        problems.append(f"{manifest_path}: unreadable Ollama manifest ({exc.strerror or exc})")
        return None
    except (ValueError, AttributeError, RecursionError) as exc:
        problems.append(f"{manifest_path}: unreadable Ollama manifest ({exc or 'too deep'})")
        return None
    model_blob: Path | None = None
    projector_blob: Path | None = None
    for layer in layers if isinstance(layers, list) else []:
        if not isinstance(layer, dict):
            continue
        kind = layer.get("mediaType")
        if kind == _OLLAMA_MODEL and model_blob is None:
            model_blob = _ollama_blob(models, layer.get("digest"), display, problems)
            if model_blob is None:
                return None
        elif kind == _OLLAMA_PROJECTOR and projector_blob is None:
            projector_blob = _ollama_blob(models, layer.get("digest"), display, problems)
    if model_blob is None:
        return None
    if not os.path.lexists(model_blob):
        problems.append(f"{display}: blob {model_blob.name} is missing from {models / 'blobs'}")
        return None
    return model_blob, projector_blob


# -- header facts, cached -----------------------------------------------------------------


def _index_path() -> Path:
    return cache_dir() / "discovery-index.json"


def _load_index() -> dict[str, Any]:
    try:
        data = json.loads(read_capped(_index_path(), _INDEX_LIMIT))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
        return {}
    entries = data.get("entries", {})
    return entries if isinstance(entries, dict) else {}


def _entry_ok(entry: Any) -> TypeGuard[dict[str, Any]]:
    """An index entry of the shape `_refresh_index` writes (anything else is read again)."""
    if not isinstance(entry, dict):
        return False
    ftype = entry.get("file_type")
    return (
        isinstance(entry.get("architecture"), str)
        and isinstance(entry.get("error"), str)
        and isinstance(entry.get("is_projector"), bool)
        and (ftype is None or (isinstance(ftype, int) and not isinstance(ftype, bool)))
    )


def _save_index(entries: dict[str, Any]) -> None:
    payload = json.dumps({"format": _CACHE_FORMAT, "entries": entries}, separators=(",", ":"))
    with contextlib.suppress(OSError):
        write_atomic(_index_path(), payload)


def read_header_facts(path: Path) -> _HeaderFacts:
    """Architecture and file type from the header (tokenizer arrays skipped, not decoded)."""
    try:
        header = read_gguf_header(path)
    except VramtuiError as exc:  # a broken file is a problem line, never a crash of the list
        return _HeaderFacts(error=str(exc))
    except OSError as exc:
        return _HeaderFacts(error=f"{path}: cannot read ({exc.strerror or exc})")
    meta = header.metadata
    arch = meta.get("general.architecture", "")
    ftype = meta.get("general.file_type")
    return _HeaderFacts(
        architecture=arch if isinstance(arch, str) else "",
        file_type=ftype if isinstance(ftype, int) and not isinstance(ftype, bool) else None,
        is_projector=is_projector(header),
    )


def _quant_from_name(name: str) -> str:
    matches = _QUANT_IN_NAME.findall(name)
    return matches[-1].upper() if matches else ""


def _real_dirs(roots: Sequence[Root]) -> list[str]:
    found: list[str] = []
    for root in roots:
        try:
            if root.path.is_dir():
                found.append(os.path.realpath(root.path))
        except (OSError, ValueError):
            continue
    return found


def _scan_roots(all_roots: Sequence[Root], problems: list[str]) -> list[_Candidate]:
    """The model files under every readable root, each real file once."""
    candidates: list[_Candidate] = []
    seen_roots: set[str] = set()
    allowed = tuple(_real_dirs(all_roots))  # symlinked files may point anywhere inside these
    for root in all_roots:
        try:
            real = os.path.realpath(root.path)
            if real in seen_roots or not root.path.is_dir():
                continue
        except OSError:
            continue
        seen_roots.add(real)
        if not os.access(root.path, os.R_OK | os.X_OK):
            problems.append(f"{root.path}: cannot read folder (permission denied)")
            continue
        if root.kind == "ollama":
            candidates += _scan_ollama(root, problems, allowed)
        elif root.kind == "hf":
            candidates += _scan_hf(root, problems, allowed)
        else:
            candidates += _scan_tree(root, problems, allowed)

    # The same file reached twice (an LM Studio folder that is also a user folder): keep one.
    unique: dict[str, _Candidate] = {}
    for cand in candidates:
        unique.setdefault(os.path.realpath(cand.path), cand)
    return list(unique.values())


def _refresh_index(
    cands: Sequence[_Candidate], progress: Progress | None, workers: int
) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    """Header facts per file (from the cache when size and mtime match, else read in
    parallel), saved back when anything changed; and (size, mtime) per file."""
    index = _load_index()
    new_index: dict[str, Any] = {}
    stats: dict[str, tuple[int, int]] = {}
    to_read: list[Path] = []
    for cand in cands:
        files = [cand.path, *([cand.projector] if cand.projector else [])]
        for f in files:
            key = str(f)
            try:
                st = f.stat()
            except OSError:
                continue
            stats[key] = (st.st_size, st.st_mtime_ns)
            entry = index.get(key)
            if (
                _entry_ok(entry)
                and entry.get("size") == st.st_size
                and entry.get("mtime") == st.st_mtime_ns
            ):
                new_index[key] = entry
            elif key not in new_index:
                to_read.append(f)
    done = 0
    total = len(to_read)
    if progress is not None:
        progress(0, total)
    if to_read:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, total))) as pool:
            for f, facts in zip(to_read, pool.map(read_header_facts, to_read), strict=True):
                size, mtime = stats[str(f)]
                new_index[str(f)] = {"size": size, "mtime": mtime, **asdict(facts)}
                done += 1
                if progress is not None:
                    progress(done, total)
    if to_read or len(new_index) != len(index):
        _save_index(new_index)
    return new_index, stats


def _model(
    cand: _Candidate, facts: dict[str, Any], stats: dict[str, tuple[int, int]]
) -> DiscoveredModel:
    shard_paths = cand.shards or (cand.path,)
    size = 0
    for s in shard_paths:
        size += stats.get(str(s), (0, 0))[0] or _size(s)
    ftype = facts.get("file_type")
    quant = FILE_TYPE_NAMES.get(ftype, "") if isinstance(ftype, int) else ""
    if cand.source != "ollama":  # a name like UD-Q4_K_XL says more than the file type
        quant = _quant_from_name(cand.name.rsplit("/", 1)[-1]) or quant
    return DiscoveredModel(
        name=cand.name,
        path=str(cand.path),
        source=cand.source,
        quant=quant,
        size_bytes=size,
        architecture=str(facts.get("architecture", "")),
        mmproj_path=str(cand.projector) if cand.projector and cand.projector.is_file() else None,
        shards=tuple(str(s) for s in cand.shards),
    )


def discover_models(
    extra_dirs: Sequence[str | os.PathLike[str]] = (),
    *,
    progress: Progress | None = None,
    roots: Sequence[tuple[str, str | os.PathLike[str]]] | None = None,
    workers: int = 8,
) -> DiscoveryResult:
    """List the models on this machine with name, source, quant, size, architecture.

    `roots` replaces the default locations with (source, folder) pairs (tests, benchmarks);
    sources "ollama" and "huggingface" use those layouts, anything else is walked for .gguf.
    """
    result = DiscoveryResult()
    if roots is None:
        all_roots, result.problems = default_roots(extra_dirs)
    else:
        kinds = {"ollama": "ollama", "huggingface": "hf"}
        all_roots = [Root(s, Path(p), kinds.get(s, "tree")) for s, p in roots]
    cands = _scan_roots(all_roots, result.problems)
    new_index, stats = _refresh_index(cands, progress, workers)
    for cand in sorted(cands, key=lambda c: (c.source, c.name.lower())):
        facts = new_index.get(str(cand.path), {})
        if facts.get("error"):
            result.problems.append(str(facts["error"]))
            continue
        if facts.get("is_projector"):
            continue  # a stray projector is not a model
        result.models.append(_model(cand, facts, stats))
    # A folder reported by several walks is still one problem.
    result.problems = list(dict.fromkeys(result.problems))
    return result


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0
