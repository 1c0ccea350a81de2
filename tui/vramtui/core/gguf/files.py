"""Local model files: a `.gguf` file, a split model, or a folder, with its projector paired.

Split models follow llama.cpp's `gguf-split` naming (`NAME-00001-of-00003.gguf`, see
examples/gguf-split and llama_split_path in llama.cpp): every shard's header is read, the
metadata comes from the first shard (later shards carry only `split.*` keys) and the tensors of
all shards are merged with their shard index. A multimodal projector (`mmproj*.gguf`,
architecture `clip`) beside the model is paired with it unless `mmproj="none"`.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from vramtui.core.errors import ModelFileError, ModelReferenceError
from vramtui.core.gguf.reader import GGUFHeader, merge_shard_tensors, read_gguf_header
from vramtui.core.gguf.spec import ModelSpec

SPLIT_RE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_WORD_RE = re.compile(r"[a-z0-9]+")


def is_projector(header: GGUFHeader) -> bool:
    """True for a multimodal projector file (llama.cpp's mtmd reads these as `clip`)."""
    meta = header.metadata
    return meta.get("general.architecture") == "clip" or meta.get("general.type") == "mmproj"


def looks_like_projector_name(path: str | os.PathLike[str]) -> bool:
    return "mmproj" in Path(path).name.lower()


def split_info(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(index, count) from a `-0000I-of-0000N.gguf` name, or None for a single file."""
    match = SPLIT_RE.search(Path(path).name)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2))


def model_stem(path: str | os.PathLike[str]) -> str:
    """The file name without `.gguf` and without a split suffix."""
    name = Path(path).name
    match = SPLIT_RE.search(name)
    if match:
        return name[: match.start()]
    return name[:-5] if name.lower().endswith(".gguf") else Path(name).stem


def find_split_shards(path: str | os.PathLike[str]) -> list[Path]:
    """All shards of the split model `path` belongs to, first to last (just `[path]` if not split).

    Raises ModelFileError naming the first missing shard.
    """
    p = Path(path)
    info = split_info(p)
    if info is None:
        return [p]
    index, count = info
    if count < 1 or index < 1 or index > count:
        raise ModelFileError(str(p), f"shard number {index} of {count} makes no sense")
    match = SPLIT_RE.search(p.name)
    assert match is not None
    stem = p.name[: match.start()]
    suffix = p.name[match.end() - 5 :]  # keep the extension's case
    shards = [p.with_name(f"{stem}-{i:05d}-of-{count:05d}{suffix}") for i in range(1, count + 1)]
    for number, shard in enumerate(shards, start=1):
        if not shard.is_file():
            raise ModelFileError(str(shard), f"shard {number} of {count} is missing (split model)")
    return shards


def _read(path: Path) -> GGUFHeader:
    return read_gguf_header(path)


def _int_meta(header: GGUFHeader, key: str) -> int | None:
    value = header.metadata.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _spec_from_headers(
    paths: list[Path], headers: list[GGUFHeader], source: str, notes: tuple[str, ...] = ()
) -> ModelSpec:
    tensors = merge_shard_tensors([h.tensors for h in headers], [str(p) for p in paths])
    first = headers[0]
    name = first.metadata.get("general.name")
    file_size = 0
    for p in paths:
        try:
            file_size += p.stat().st_size
        except OSError as err:
            raise ModelFileError(str(p), f"cannot read ({err.strerror or err})") from None
    return ModelSpec(
        name=name if isinstance(name, str) and name.strip() else model_stem(paths[0]),
        source=source,
        metadata=dict(first.metadata),
        tensors=tuple(tensors),
        file_size=file_size,
        shards=tuple(str(p) for p in paths) if len(paths) > 1 else (),
        notes=notes,
    )


def read_model_file(path: str | os.PathLike[str]) -> ModelSpec:
    """One model (all shards if split), without projector pairing. Refuses a projector file."""
    p = Path(path)
    shards = find_split_shards(p)
    headers = [_read(s) for s in shards]
    if is_projector(headers[0]):
        raise ModelFileError(
            str(p),
            "is a multimodal projector (mmproj), not a model: open the model file and pass "
            "this one with --mmproj",
        )
    count = _int_meta(headers[0], "split.count")
    if len(shards) == 1 and count is not None and count > 1:
        raise ModelFileError(
            str(p),
            f"is shard 1 of a {count}-part split model, but its name does not end in "
            f"-00001-of-{count:05d}.gguf, so the other parts cannot be found",
        )
    if len(shards) > 1:
        if count is not None and count != len(shards):
            raise ModelFileError(
                str(shards[0]), f"split.count is {count} but the file name says {len(shards)} parts"
            )
        for i, header in enumerate(headers):
            number = _int_meta(header, "split.no")
            if number is not None and number != i:
                raise ModelFileError(
                    str(shards[i]), f"split.no is {number}, expected {i} from the file name"
                )
    return _spec_from_headers(shards, headers, str(shards[0]))


def read_projector_file(path: str | os.PathLike[str]) -> ModelSpec:
    """A projector as its own ModelSpec; refuses a file that is not one."""
    p = Path(path)
    header = _read(p)
    if not is_projector(header):
        arch = header.metadata.get("general.architecture", "?")
        raise ModelFileError(
            str(p), f"is not a multimodal projector (architecture {arch!r}, expected 'clip')"
        )
    return _spec_from_headers([p], [header], str(p))


def _gguf_files(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        raise ModelReferenceError(f"{folder}: cannot list folder ({err.strerror or err})") from None
    return [
        e
        for e in entries
        if e.name.lower().endswith(".gguf") and not e.name.startswith(".") and e.is_file()
    ]


def _header_is_projector(path: Path) -> bool:
    try:
        return is_projector(_read(path))
    except ModelFileError:
        return False


def _models_in_folder(folder: Path) -> list[Path]:
    """One entry per model in `folder` (the first shard of a split model), projectors left out."""
    models: list[Path] = []
    seen_splits: set[str] = set()
    for f in _gguf_files(folder):
        if looks_like_projector_name(f):
            continue
        info = split_info(f)
        if info is not None:
            key = model_stem(f).lower() + f"-of-{info[1]}"
            if key in seen_splits:
                continue
            seen_splits.add(key)
            models.append(f.with_name(f"{model_stem(f)}-00001-of-{info[1]:05d}{f.name[-5:]}"))
        else:
            models.append(f)
    if len(models) > 1:  # a projector without "mmproj" in its name is still not a model
        models = [m for m in models if not (m.is_file() and _header_is_projector(m))]
    return models


def _resolve_folder(folder: Path) -> Path:
    models = _models_in_folder(folder)
    if len(models) == 1:
        return models[0]
    if not models:
        if any(looks_like_projector_name(f) for f in _gguf_files(folder)):
            raise ModelReferenceError(f"{folder}: holds only a projector (mmproj), no model")
        raise ModelReferenceError(f"{folder}: no .gguf model in this folder")
    listed = ", ".join(m.name for m in models[:8]) + (", ..." if len(models) > 8 else "")
    raise ModelReferenceError(
        f"{folder}: holds {len(models)} models ({listed}): name the file to open"
    )


# Words of a file name that say nothing about which model it is.
_NEUTRAL_WORDS = frozenset(
    {
        "mmproj",
        "model",
        "gguf",
        "f16",
        "bf16",
        "f32",
        "fp16",
        "fp32",
        "q8",
        "q4",
        "q5",
        "q6",
        "0",
        "1",
        "k",
        "m",
        "s",
        "l",
        "xl",
        "ud",
        "vision",
        "projector",
        "clip",
    }
)


def _name_words(path: Path) -> set[str]:
    return set(_WORD_RE.findall(model_stem(path).lower())) - _NEUTRAL_WORDS


def _projector_width(path: Path) -> int | None:
    """The width a projector's output has: the text model's embedding width it was made for
    (`clip.vision.projection_dim`, as llama.cpp's mtmd reads it)."""
    value = _read(path).metadata.get("clip.vision.projection_dim")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _why_not_paired(model: ModelSpec, model_path: Path, candidate: Path) -> str | None:
    """None when the projector belongs to the model; else the reason it does not."""
    width = _projector_width(candidate)
    n_embd = model.meta("embedding_length")
    if width is not None and isinstance(n_embd, int) and width != n_embd:
        return f"projects to width {width}, the model's embedding width is {n_embd}"
    extra = _name_words(candidate) - _name_words(model_path)
    if extra:
        return f"its name names another model ({', '.join(sorted(extra))})"
    if width is None and not _name_words(candidate):
        return "neither its width nor its name says which model it belongs to"
    return None


def find_projector(model: ModelSpec, model_path: Path) -> tuple[Path | None, tuple[str, ...]]:
    """The projector beside `model_path` that belongs to the model (or None), and notes.

    A projector belongs to the model when its projection width equals the model's embedding
    width and its name names no other model. Projectors left out are named with the reason;
    when several belong, none is paired (the user says which with --mmproj).
    """
    folder = model_path.parent
    own = {model_path.resolve()}
    candidates = [
        f
        for f in _gguf_files(folder)
        if looks_like_projector_name(f) and f.resolve() not in own and _header_is_projector(f)
    ]
    fits: list[Path] = []
    notes: list[str] = []
    for c in candidates:
        why = _why_not_paired(model, model_path, c)
        if why is None:
            fits.append(c)
        else:
            notes.append(f"projector {c.name} left out: {why}")
    if len(fits) == 1:
        return fits[0], tuple(notes)
    if fits:
        names = ", ".join(f.name for f in fits[:4])
        notes.append(
            f"{len(fits)} projectors could belong to this model ({names}): none "
            "paired; choose one with --mmproj PATH"
        )
    return None, tuple(notes)


def open_local_model(path: str, mmproj: str = "auto") -> ModelSpec:
    """Read a local model (file, split model or folder) and pair its projector.

    `mmproj`: "auto" pairs a projector found beside the model, "none" pairs nothing, anything
    else is the projector's path.
    """
    p = Path(os.path.expanduser(path))
    if not p.exists():
        raise ModelReferenceError(f"{path}: no such file or folder")
    if p.is_dir():
        p = _resolve_folder(p)
    if split_info(p) is not None:
        p = find_split_shards(p)[0]  # given a later shard, open from the first
    spec = read_model_file(p)
    mode = (mmproj or "auto").strip()
    projector: ModelSpec | None = None
    notes = spec.notes
    if mode.lower() == "auto":
        found, pick_notes = find_projector(spec, p)
        notes = (*notes, *pick_notes)
        if found is not None:
            projector = read_projector_file(found)
    elif mode.lower() != "none":
        mp = Path(os.path.expanduser(mode))
        if not mp.exists():
            raise ModelReferenceError(f"{mode}: no such projector file (--mmproj)")
        if mp.is_dir():
            raise ModelReferenceError(f"{mode}: is a folder; --mmproj wants a projector .gguf file")
        projector = read_projector_file(mp)
    if projector is None and notes == spec.notes:
        return spec
    return replace(spec, mmproj=projector, notes=notes)
