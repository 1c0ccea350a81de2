"""Exact mode: llama.cpp's own answer for a model at given settings, beside the instant estimate.

llama.cpp sizes every buffer itself in a dry run (`llama_dry_run`); this module decides which
file it runs on, caches the answer and compares it with the instant estimate:
- a local GGUF runs as it is (its first shard; llama.cpp finds the others);
- a remote or catalog model runs on a sparse copy of its header (metadata and tensor table;
  the data section is a hole, nothing is downloaded), written once per header identity under
  the cache folder (`vramtui.core.paths.cache_dir() / "exact"`);
- answers are cached by header identity, settings and llama.cpp version.
The dependency is optional (`pip install 'vramtui[exact]'`, the `xllamacpp` package): without
it `ExactUnavailable` says how to add it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass, replace
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from vramtui.core.atomic import read_capped, write_atomic
from vramtui.core.errors import VramtuiError
from vramtui.core.estimate.breakdown import MemoryBreakdown
from vramtui.core.estimate.dry_runs.projector import run_projector_dry_run, text_stub
from vramtui.core.estimate.dry_runs.rpc import rpc_available, run_rpc_dry_run
from vramtui.core.estimate.llama_dry_run import MIB, DryRun, MemoryRow, run_dry_run
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec, SkippedArray
from vramtui.core.paths import cache_dir
from vramtui.core.vocab import Backend, BufferKind

PACKAGE = "xllamacpp"
INSTALL_HINT = "pip install 'vramtui[exact]'"
EXACT_TIMEOUT_S = 60.0
# A hint the faces show beside an approximate estimate.
EXACT_HINT = "exact mode (--exact) runs llama.cpp's own dry run on this model"
_FORMAT = 2  # bump when the cached files change shape
KEEP_HEADER_COPIES = 32

# Device names in llama.cpp's breakdown table -> backend (ggml backend registry names).
_BACKENDS = (
    ("CUDA", Backend.CUDA),
    ("ROCm", Backend.ROCM),
    ("HIP", Backend.ROCM),
    ("Vulkan", Backend.VULKAN),
    ("MTL", Backend.METAL),
    ("Metal", Backend.METAL),
)


class ExactUnavailable(VramtuiError):
    """The optional llama.cpp package is not installed."""

    def __init__(self) -> None:
        super().__init__(f"exact mode needs llama.cpp's Python package ({PACKAGE}): {INSTALL_HINT}")


class ExactFailed(VramtuiError):
    """llama.cpp could not size the model (it refused the file or the settings, or timed out)."""


def exact_available() -> bool:
    """Whether the llama.cpp package can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(PACKAGE) is not None
    except (ImportError, ValueError):
        return False


def package_version() -> str:
    try:
        return importlib_metadata.version(PACKAGE)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class ExactPlace:
    """llama.cpp's figures for one device (or the host), in bytes (whole MiB, rounded down)."""

    name: str
    description: str
    model_bytes: int
    context_bytes: int
    compute_bytes: int

    @classmethod
    def of(cls, row: MemoryRow) -> ExactPlace:
        return cls(
            row.name,
            row.description,
            row.model_mib * MIB,
            row.context_mib * MIB,
            row.compute_mib * MIB,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "model_bytes": self.model_bytes,
            "context_bytes": self.context_bytes,
            "compute_bytes": self.compute_bytes,
        }


@dataclass(frozen=True, slots=True)
class ExactEstimate:
    """llama.cpp's own answer. Sums over devices and host; `places` holds each row."""

    model_bytes: int
    context_bytes: int  # KV cache + recurrent state
    compute_bytes: int
    places: tuple[ExactPlace, ...]
    llama_cpp_version: str
    backend: str  # "cpu" for a CPU-only build, else the GPU backend whose compute it is
    ran_on: str  # "file" (the model itself) or "header" (a sparse copy of its header)
    seconds: float
    cached: bool = False
    # "rpc": llama.cpp's RPC backend stood in for the GPU; "cpu": the CPU build; "gpu": a
    # GPU build of xllamacpp answered for itself.
    build: str = "cpu"
    # The projector (mmproj) as mtmd's warm-up sizes it: weights + compute; -1 without one.
    projector_bytes: int = -1
    projector_compute_bytes: int = -1
    projector_image: int = 0  # the warm-up image's side in pixels

    @property
    def total_bytes(self) -> int:
        return self.model_bytes + self.context_bytes + self.compute_bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "model_bytes": self.model_bytes,
            "context_bytes": self.context_bytes,
            "compute_bytes": self.compute_bytes,
            "llama_cpp_version": self.llama_cpp_version,
            "backend": self.backend,
            "resolution_bytes": MIB,
            "ran_on": self.ran_on,
            "seconds": round(self.seconds, 3),
            "cached": self.cached,
            "build": self.build,
            "places": [p.to_json() for p in self.places],
        } | self._projector_json()

    def _projector_json(self) -> dict[str, Any]:
        if self.projector_bytes < 0:
            return {}
        return {
            "projector_bytes": self.projector_bytes,
            "projector_compute_bytes": self.projector_compute_bytes,
            "projector_image_px": self.projector_image,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExactEstimate:
        places = tuple(ExactPlace(**p) for p in data["places"])
        return cls(
            int(data["model_bytes"]),
            int(data["context_bytes"]),
            int(data["compute_bytes"]),
            places,
            str(data["llama_cpp_version"]),
            str(data["backend"]),
            str(data["ran_on"]),
            float(data["seconds"]),
            build=str(data.get("build", "cpu")),
            projector_bytes=int(data.get("projector_bytes", -1)),
            projector_compute_bytes=int(data.get("projector_compute_bytes", -1)),
            projector_image=int(data.get("projector_image_px", 0)),
        )


def _backend(rows: list[MemoryRow]) -> str:
    for row in rows:
        for prefix, backend in _BACKENDS:
            if row.name.startswith(prefix):
                return backend.value
    devices = [r.name for r in rows if r.name != "Host"]
    return devices[0].rstrip("0123456789").lower() if devices else Backend.CPU.value


def from_dry_run(run: DryRun, ran_on: str, build: str = "cpu") -> ExactEstimate:
    """The answer of a finished dry run (one without an error)."""
    version = run.build or "unknown build"
    if run.xllamacpp:
        version = f"{version} (xllamacpp {run.xllamacpp})"
    return ExactEstimate(
        model_bytes=run.model_mib * MIB,
        context_bytes=run.context_mib * MIB,
        compute_bytes=run.compute_mib * MIB,
        places=tuple(ExactPlace.of(r) for r in run.rows),
        llama_cpp_version=version,
        backend="rpc" if build == "rpc" else _backend(run.rows),
        ran_on=ran_on,
        seconds=run.seconds,
        build=build if build == "rpc" else ("cpu" if _backend(run.rows) == "cpu" else "gpu"),
    )


def header_identity(spec: ModelSpec) -> str:
    """A digest of what llama.cpp reads for memory: the metadata and the tensor table."""
    meta = {
        k: ([v.item_type, v.length] if isinstance(v, SkippedArray) else v)
        for k, v in sorted(spec.metadata.items())
    }
    tensors = [[t.name, list(t.shape), t.ggml_type] for t in spec.tensors]
    blob = json.dumps([_FORMAT, meta, tensors], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def local_file(spec: ModelSpec) -> Path | None:
    """The model's own file (first shard) when it is on this machine, else None."""
    if spec.synthesized:
        return None
    first = spec.shards[0] if spec.shards else spec.source
    path = Path(first)
    return path if path.is_file() else None


def _header_only(spec: ModelSpec) -> ModelSpec:
    """The spec as one unsplit file: split.* keys dropped (their shards are not here)."""
    md = {k: v for k, v in spec.metadata.items() if not k.startswith("split.")}
    return replace(spec, metadata=md, shards=(), mmproj=None)


def sparse_header_file(spec: ModelSpec, folder: Path | None = None) -> Path:
    """A sparse GGUF of the spec's header under the cache, written once per header identity.

    The data section is a hole (a few MB on disk whatever the model's size). On Windows,
    where extending a file reserves its size, a model larger than the free space is refused.
    """
    from vramtui.core.gguf.writer import write_sparse_gguf  # noqa: PLC0415 - lazy: gguf is slow to import

    folder = folder or cache_dir() / "exact"
    path = folder / f"{header_identity(spec)}.gguf"
    if path.is_file() and path.stat().st_size >= spec.weights_bytes:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    if os.name == "nt" and shutil.disk_usage(folder).free < spec.file_size:
        raise ExactFailed(
            f"{spec.source}: exact mode needs a {spec.file_size / 2**30:.1f} GiB sparse file in "
            f"{folder}, and Windows reserves the whole size: not enough free space"
        )
    tmp = folder / f".{path.stem}.{os.getpid()}.tmp.gguf"
    try:
        write_sparse_gguf(tmp, _header_only(spec))
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    _prune(folder, keep=path)
    return path


def _prune(folder: Path, keep: Path) -> None:
    """Keep the newest `KEEP_HEADER_COPIES` header copies (a few MB each on disk)."""
    with contextlib.suppress(OSError):
        copies = sorted(folder.glob("*.gguf"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in copies[KEEP_HEADER_COPIES:]:
            if old != keep:
                old.unlink()


def _answer_path(spec: ModelSpec, settings: RuntimeSettings, version: str, build: str) -> Path:
    key = json.dumps(
        [_FORMAT, header_identity(spec), settings.to_dict(), version, build],
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return cache_dir() / "exact" / f"{digest}.json"


def exact_build(backend: str) -> str:
    """The build exact mode runs for a verdict on `backend`: "rpc" (llama.cpp's RPC backend as
    the GPU stand-in) for a GPU verdict where that build is here, else "cpu"."""
    return "rpc" if backend != Backend.CPU.value and rpc_available() else "cpu"


def exact_memory(
    spec: ModelSpec,
    settings: RuntimeSettings,
    *,
    backend: str = "cpu",
    timeout: float = EXACT_TIMEOUT_S,
    use_cache: bool = True,
) -> ExactEstimate:
    """llama.cpp's model, context and compute bytes for `spec` at `settings`, for a verdict on
    `backend` (`exact_build`), and its projector's when the model has one.

    Raises ExactUnavailable without the llama.cpp package, ExactFailed when llama.cpp refuses
    the model or the settings (its own error line) or does not answer within `timeout`.
    """
    if not exact_available():
        raise ExactUnavailable
    build = exact_build(backend)
    answer = _answer_path(spec, settings, package_version(), build)
    if use_cache:
        # A damaged answer (any shape or depth, a FIFO in its place) is asked again.
        with contextlib.suppress(
            OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError
        ):
            return replace(
                ExactEstimate.from_json(json.loads(read_capped(answer, 1 << 20))), cached=True
            )
    own = local_file(spec)
    path, ran_on = (own, "file") if own is not None else (sparse_header_file(spec), "header")
    if build == "rpc":
        run = run_rpc_dry_run(path, settings, settings.flash_attn != "off", timeout=timeout)
    else:
        run = run_dry_run(path, settings, timeout=timeout)
    if run.error:
        reason = _one_line(run.error)
        raise ExactFailed(f"{spec.source}: llama.cpp did not size this model: {reason}")
    result = from_dry_run(run, ran_on, build)
    if spec.mmproj is not None:
        result = with_projector(result, spec, settings, timeout=timeout)
    if use_cache:
        with contextlib.suppress(OSError):
            write_atomic(answer, json.dumps(result.to_json()))
    return result


def with_projector(
    result: ExactEstimate, spec: ModelSpec, settings: RuntimeSettings, *, timeout: float
) -> ExactEstimate:
    """The answer with mtmd's warm-up figures for the model's projector (dry_runs/projector.py)."""
    mmproj = spec.mmproj
    assert mmproj is not None
    own = local_file(mmproj)
    mm_path = own if own is not None else sparse_header_file(mmproj)
    text = sparse_header_file(text_stub(spec))
    fa = settings.flash_attn != "off"
    run = run_projector_dry_run(text, mm_path, fa, timeout=timeout)
    if run.error:
        reason = _one_line(run.error)
        raise ExactFailed(f"{spec.source}: llama.cpp did not size its projector: {reason}")
    compute = round(run.compute_mib * MIB)
    return replace(
        result,
        projector_bytes=round(run.model_mib * MIB) + compute,
        projector_compute_bytes=compute,
        projector_image=run.image,
        seconds=result.seconds + run.seconds,
    )


def _one_line(text: str) -> str:
    """A log line as plain text: no control characters, no timestamp prefix."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    parts = clean.split(" ", 2)
    if len(parts) == 3 and parts[0].replace(".", "").isdigit() and len(parts[1]) == 1:
        clean = parts[2]
    return clean[:300]


def comparison_backend(exact: ExactEstimate) -> str:
    """The instant estimate's backend that matches the build llama.cpp ran on."""
    return "cpu" if exact.build == "cpu" else "gpu"


_SUMMED = ("model_bytes", "context_bytes", "compute_bytes")


def compare(exact: ExactEstimate, instant: MemoryBreakdown) -> dict[str, Any]:
    """The instant figures, and instant minus exact per column in bytes and percent of
    llama.cpp's figure. The difference is taken at llama.cpp's resolution (whole MiB, rounded
    down as its table prints them); `instant` should be the estimate for the same kind of
    build (`comparison_backend`). The projector is its own column (weights + compute, as mtmd
    logs them to 1/100 MiB), outside the total."""
    ours = {
        "model_bytes": instant.total(kind=BufferKind.WEIGHTS),
        "context_bytes": instant.total(kind=BufferKind.KV_CACHE)
        + instant.total(kind=BufferKind.RECURRENT_STATE),
        "compute_bytes": instant.total(kind=BufferKind.COMPUTE),
    }
    ours["total_bytes"] = sum(ours.values())
    theirs = {
        "model_bytes": exact.model_bytes,
        "context_bytes": exact.context_bytes,
        "compute_bytes": exact.compute_bytes,
        "total_bytes": exact.total_bytes,
    }
    if exact.projector_bytes >= 0:
        ours["projector_bytes"] = instant.total(kind=BufferKind.PROJECTOR)
        theirs["projector_bytes"] = exact.projector_bytes
    diff: dict[str, Any] = {}
    for key, value in ours.items():
        ref = theirs[key]
        # per column at whole MiB, as llama.cpp rounds each column; the total sums them
        if key == "total_bytes":
            delta = sum(diff[k] for k in _SUMMED)
        elif key == "projector_bytes":
            delta = value - ref
        else:
            delta = value // MIB * MIB - ref
        diff[key] = delta
        diff[key.replace("_bytes", "_percent")] = round(delta / ref * 100, 2) if ref else None
    inst: dict[str, Any] = dict(ours, backend=comparison_backend(exact))
    lo, hi = instant.total_range(kind=BufferKind.COMPUTE)
    if lo != hi:
        inst["compute_bytes_range"] = [lo, hi]
    return {"instant": inst, "difference": diff}


def build_caveat(
    spec: ModelSpec, settings: RuntimeSettings, exact: ExactEstimate, backend: str
) -> dict[str, Any]:
    """What the answer stands for: the verdict's backend, the build that ran, and when that was
    the CPU build for a GPU verdict, the columns whose figures differ between the two builds
    (the instant estimate for each, compared column by column)."""
    from vramtui.core.estimate.memory import estimate_memory  # noqa: PLC0415 - lazy: only in exact mode

    out: dict[str, Any] = {"verdict_backend": backend, "checked_build": exact.build}
    if exact.build != "cpu" or backend == Backend.CPU.value:
        out["differs_from_verdict"] = []
        return out
    cpu = estimate_memory(spec, settings, backend="cpu")
    gpu = estimate_memory(spec, settings, backend=backend)
    kinds = {
        "model_bytes": (BufferKind.WEIGHTS,),
        "context_bytes": (BufferKind.KV_CACHE, BufferKind.RECURRENT_STATE),
        "compute_bytes": (BufferKind.COMPUTE,),
        "projector_bytes": (BufferKind.PROJECTOR,),
    }
    out["differs_from_verdict"] = [
        key
        for key, ks in kinds.items()
        if sum(cpu.total(kind=k) for k in ks) != sum(gpu.total(kind=k) for k in ks)
    ]
    return out


def exact_report(
    spec: ModelSpec,
    settings: RuntimeSettings,
    *,
    backend: str,
    timeout: float = EXACT_TIMEOUT_S,
) -> dict[str, Any]:
    """The `exact` object of the JSON output: llama.cpp's figures for a verdict on `backend`
    (the fit's `Backend` value: every face passes it, so `check --exact` and the app's exact
    screen run the same build),
    the instant estimate for the same build, their difference (see `compare`) and what the
    build stands for (`build_caveat`)."""
    from vramtui.core.estimate.memory import estimate_memory  # noqa: PLC0415 - lazy: only in exact mode

    exact = exact_memory(spec, settings, backend=backend, timeout=timeout)
    instant = estimate_memory(spec, settings, backend=comparison_backend(exact))
    return exact.to_json() | compare(exact, instant) | build_caveat(spec, settings, exact, backend)


COLUMNS = (
    ("model", "model_bytes"),
    ("context", "context_bytes"),
    ("compute", "compute_bytes"),
    ("total", "total_bytes"),
    ("projector", "projector_bytes"),
)


def comparison_rows(report: dict[str, Any]) -> list[tuple[str, int, int, int, float | None]]:
    """(column, instant bytes, llama.cpp bytes, difference bytes, difference %) per column of
    an `exact_report`, for a face to lay out (the projector only where the model has one)."""
    inst, diff = report["instant"], report["difference"]
    exact = dict(report, total_bytes=sum(report[k] for _, k in COLUMNS[:3]))
    return [
        (
            label,
            int(inst[key]),
            int(exact[key]),
            int(diff[key]),
            diff[key.replace("_bytes", "_percent")],
        )
        for label, key in COLUMNS
        if key in inst
    ]
