"""Hugging Face references and repository file names: which files `hf:ORG/REPO:QUANT` means.

Pure string work, no network: `remote` lists the repository and fetches what is chosen here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vramtui.core.errors import ModelReferenceError

SPLIT_RE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)  # gguf-split shard names


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


def _is_projector_name(path: str) -> bool:
    return "mmproj" in path.rsplit("/", 1)[-1].lower()


def _quant_matches(path: str, quant: str) -> bool:
    """The file name holds the quant as a token (`...-Q4_K_M.gguf`, `.../Q4_K_M/...`)."""
    name = SPLIT_RE.sub(".gguf", path).lower()
    q = re.escape(quant.lower())
    return re.search(rf"(^|[-_./]){q}([-_./]|$)", name) is not None


def choose_files(files: list[str], quant: str, ref: str) -> list[str]:
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
        groups.setdefault(SPLIT_RE.sub(".gguf", f), []).append(f)
    keys = sorted(groups, key=lambda k: (len(k.rsplit("/", 1)[-1]), k))
    return sorted(groups[keys[0]])


def _guess_quant(path: str) -> str:
    name = SPLIT_RE.sub("", path.rsplit("/", 1)[-1]).removesuffix(".gguf")
    match = re.search(r"((?:UD-)?(?:I?Q\d[\w]*|BF16|F16|F32|MXFP4\w*))$", name, re.IGNORECASE)
    return match.group(1) if match else ""


def choose_projector(files: list[str]) -> str | None:
    projs = sorted(f for f in files if f.lower().endswith(".gguf") and _is_projector_name(f))
    for pref in ("f16", "bf16", "q8_0"):
        for f in projs:
            if pref in f.lower().rsplit("/", 1)[-1]:
                return f
    return projs[0] if projs else None


def split_shard_names(name: str, count: int) -> list[str]:
    """`...-00001-of-00003.gguf` -> the names of all `count` shards."""
    match = SPLIT_RE.search(name)
    if not match:
        return [name]
    stem = name[: match.start()]
    return [f"{stem}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]


__all__ = [
    "SPLIT_RE",
    "HfRef",
    "choose_files",
    "choose_projector",
    "parse_hf_ref",
    "split_shard_names",
]
