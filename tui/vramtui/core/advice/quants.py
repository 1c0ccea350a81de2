"""The quant ladder: every quantization of one model judged on one machine, and which to get.

A model's quants come from one of three places:
- the bundled catalog (`qwen3-vl-32b`): every quant the catalog offers, with the published file
  size where one is known (else the synthesized model's size, marked "estimated");
- a Hugging Face repository (`hf:ORG/REPO[@REV]`): its GGUF files and their sizes from the
  Hub's tree listing (`vramtui.core.remote.hf_listing`); the header of each quant is read (ranges
  only, cached) when it is judged, and not at all for a file larger than the machine's RAM and
  GPU memory together, which cannot load;
- a local folder holding several quants of one model (shards of a split model together).

Each quant is judged with the same settings and machine (`evaluate_fit`), and its largest
context that runs cleanly is searched (`recommend.max_clean_context`). With `best_step`, a
machine with BIOS carve-out steps judges each quant at the step `recommend` picks for it (the
best verdict; among clean steps the one leaving the OS the most RAM, among warning-only steps
the fastest), so that a quant is rated where it runs best rather than at whatever carve-out the
BIOS holds now. The answer to
"which one should I download" is the largest file whose verdict is "fits": no warnings beyond
the informational ones (slow decode, GTT in use, experts on the host, approximate estimate).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vramtui.core.advice.recommend import max_clean_context, recommend
from vramtui.core.errors import ModelReferenceError
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.remote.http import RemoteOptions
from vramtui.core.sizes import format_file_size
from vramtui.core.vocab import ReasonCode, Severity, Verdict

# Where a row's file size comes from.
SIZE_PUBLISHED = "published"  # the catalog's published figure
SIZE_ESTIMATED = "estimated"  # the synthesized model's tensor bytes + header (catalog)
SIZE_HUB = "hub"  # the Hub's file listing
SIZE_DISK = "disk"  # the files on disk

Opener = Callable[[], ModelSpec]


@dataclass(frozen=True)
class QuantSource:
    """One quantization to judge: how to open it and how big its file is."""

    quant: str
    ref: str  # the reference that opens this quant alone (check, plan take it)
    file_size_bytes: int
    size_source: str
    open: Opener


@dataclass(frozen=True)
class QuantRow:
    quant: str
    ref: str
    file_size_bytes: int
    size_source: str
    fit: FitResult | None  # None: not read (the file alone exceeds the machine's memory)
    max_clean_context: int
    # A row not read: the machine's memory its file is larger than (RAM, plus a card's VRAM).
    machine_memory_bytes: int | None = None
    # The carve-out it was judged at; None: not read, or (best step) no BIOS step loads it.
    carve_out_bytes: int | None = None

    @property
    def verdict(self) -> Verdict:
        return self.fit.verdict if self.fit is not None else Verdict.WILL_NOT_FIT

    @property
    def clean(self) -> bool:
        """No warnings other than informational ones."""
        return self.fit is not None and all(r.severity == Severity.INFO for r in self.fit.reasons)

    @property
    def reasons(self) -> tuple[str, ...]:
        if self.fit is None:
            return (ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM.value,)
        return tuple(r.code.value for r in self.fit.reasons)

    def to_json(self) -> dict[str, Any]:
        fit = self.fit
        runs = fit is not None and fit.runs
        return {
            "quant": self.quant,
            "ref": self.ref,
            "file_size_bytes": self.file_size_bytes,
            "file_size": format_file_size(self.file_size_bytes),
            "file_size_source": self.size_source,
            "carve_out_bytes": self.carve_out_bytes,
            "verdict": self.verdict,
            "clean": self.clean,
            "reasons": list(self.reasons),
            "gpu_memory_used_bytes": fit.gpu_memory_used_bytes if fit is not None else None,
            "system_ram_left_bytes": fit.system_ram_left_bytes if runs and fit else None,
            "decode_tokens_per_second": (
                round(fit.speed.decode_tokens_per_second, 2) if runs and fit else None
            ),
            "decode_tokens_per_second_range": (
                fit.speed.decode_range_json() if runs and fit else None
            ),
            "max_clean_context": self.max_clean_context,
        }


@dataclass(frozen=True)
class QuantLadder:
    model: str
    source: str  # "catalog" | "hf" | "folder"
    rows: tuple[QuantRow, ...]  # smallest file first
    best_step: bool = False  # each quant judged at its own best BIOS step

    @property
    def largest_clean(self) -> QuantRow | None:
        clean = [r for r in self.rows if r.clean]
        return max(clean, key=lambda r: r.file_size_bytes) if clean else None

    def to_json(self) -> dict[str, Any]:
        best = self.largest_clean
        return {
            "model": self.model,
            "source": self.source,
            "quants": [r.to_json() for r in self.rows],
            "largest_clean": best.quant if best is not None else None,
            "largest_clean_ref": best.ref if best is not None else None,
            "largest_clean_carve_out_bytes": best.carve_out_bytes if best is not None else None,
            "carve_out_choice": "best_step" if self.best_step else "given",
        }


def machine_memory_bytes(state: MachineState) -> int:
    """All the memory a model could occupy: RAM, plus VRAM on a discrete card."""
    m = state.machine
    return m.total_ram_bytes + (m.gpu_vram_bytes if m.discrete else 0)


def steps_apply(state: MachineState) -> bool:
    """Whether the machine has BIOS carve-out steps to choose among."""
    return bool(state.machine.carve_out_steps) and not state.machine.discrete


def _judge(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    best_step: bool,
    calibration: float | None,
) -> tuple[FitResult, int, int | None]:
    """(fit, largest clean context, carve-out judged at). With `best_step`, at the step
    `recommend` picks; where no step loads the model, the fit at the state's own carve-out
    (which will not fit either) with no step named."""
    if best_step and steps_apply(state):
        rec = recommend(spec, settings, state, calibration=calibration)
        if rec.recommended_index is None:
            return evaluate_fit(spec, settings, state, calibration=calibration), 0, None
        step = rec.rows[rec.recommended_index]
        return step.fit, step.max_clean_context, step.carve_out_bytes
    fit = evaluate_fit(spec, settings, state, calibration=calibration)
    best = max_clean_context(spec, settings, state, calibration=calibration) if fit.runs else 0
    return fit, best, state.carve_out_bytes


def _row(
    src: QuantSource,
    settings: RuntimeSettings,
    state: MachineState,
    attach: Callable[[ModelSpec], ModelSpec],
    *,
    calibration: float | None,
    best_step: bool,
) -> QuantRow:
    memory = machine_memory_bytes(state)
    if src.file_size_bytes > memory:
        return QuantRow(src.quant, src.ref, src.file_size_bytes, src.size_source, None, 0, memory)
    spec = attach(src.open())
    fit, best, carve = _judge(spec, settings, state, best_step, calibration)
    return QuantRow(
        src.quant, src.ref, src.file_size_bytes, src.size_source, fit, best, carve_out_bytes=carve
    )


def quant_ladder(
    model: str,
    source: str,
    sources: list[QuantSource],
    settings: RuntimeSettings,
    state: MachineState,
    *,
    attach: Callable[[ModelSpec], ModelSpec] | None = None,
    calibration: float | None = None,
    best_step: bool = False,
) -> QuantLadder:
    """Judge every quant. `attach` adds what the settings name beside the model (a draft);
    `best_step` judges each at its own best BIOS carve-out step instead of `state`'s."""
    if not sources:
        raise ModelReferenceError(f"{model}: no GGUF quants found")
    add = attach or (lambda s: s)
    ordered = sorted(sources, key=lambda q: (q.file_size_bytes, q.quant))
    stepped = best_step and steps_apply(state)
    rows = tuple(
        _row(q, settings, state, add, calibration=calibration, best_step=stepped) for q in ordered
    )
    return QuantLadder(model, source, rows, stepped)


# -- where the quants come from ----------------------------------------------------------


def _constant(spec: ModelSpec) -> Opener:
    return lambda: spec


def catalog_sources(model_id: str, mmproj: str) -> tuple[str, list[QuantSource]] | None:
    """The catalog family's quants; None when `model_id` is not a catalog id."""
    from vramtui.core.catalog.entries import catalog_entries  # noqa: PLC0415 - loaded when needed
    from vramtui.core.model.source import open_model  # noqa: PLC0415 - loaded when needed

    wanted = model_id.strip().lower().removeprefix("catalog:")
    entry = next((e for e in catalog_entries() if wanted in (e.id, *e.aliases)), None)
    if entry is None:
        return None
    out = []
    for q in entry.quants:
        ref = f"{entry.id}:{q.name}"

        def opener(ref: str = ref) -> ModelSpec:
            return open_model(f"catalog:{ref}", mmproj=mmproj)

        if q.file_size_bytes is not None:
            out.append(QuantSource(q.name, ref, q.file_size_bytes, SIZE_PUBLISHED, opener))
        else:
            spec = opener()
            out.append(QuantSource(q.name, ref, spec.file_size, SIZE_ESTIMATED, _constant(spec)))
    return entry.name, out


def folder_sources(folder: Path, mmproj: str) -> list[QuantSource]:
    """The model files of a local folder (one row per file; split models as one)."""
    from vramtui.core.gguf.files import (  # noqa: PLC0415 - loaded when needed
        find_split_shards,
        looks_like_projector_name,
        split_info,
    )
    from vramtui.core.model.source import open_model  # noqa: PLC0415 - loaded when needed
    from vramtui.core.remote.hf_listing import quant_name  # noqa: PLC0415 - loaded when needed

    try:
        files = sorted(p for p in folder.iterdir() if p.name.lower().endswith(".gguf"))
    except OSError as err:
        raise ModelReferenceError(f"{folder}: cannot list folder ({err.strerror or err})") from None
    out = []
    for f in files:
        info = split_info(f)
        if looks_like_projector_name(f) or (info is not None and info[0] != 1) or not f.is_file():
            continue
        shards = find_split_shards(f) if info is not None else [f]
        size = sum(s.stat().st_size for s in shards)

        def opener(path: str = str(f)) -> ModelSpec:
            return open_model(path, mmproj=mmproj)

        out.append(QuantSource(quant_name(f.name), str(f), size, SIZE_DISK, opener))
    return out


def hf_sources(ref: str, mmproj: str, options: RemoteOptions | None = None) -> list[QuantSource]:
    """The repository's quants from the Hub listing; each header is read when judged."""
    from vramtui.core.model.source import open_model  # noqa: PLC0415
    from vramtui.core.remote.header import open_remote_model  # noqa: PLC0415
    from vramtui.core.remote.hf_listing import group_quants, list_hf_files  # noqa: PLC0415
    from vramtui.core.remote.hf_refs import choose_projector  # noqa: PLC0415

    # One deadline for the whole command: the listing and every quant's header share it.
    options = options or RemoteOptions()
    if options.deadline is None:
        options = replace(options, deadline=time.monotonic() + options.total_timeout)
    hf, files = list_hf_files(ref, options=options)
    try:
        quants = group_quants(files)
    except ValueError as err:
        raise ModelReferenceError(f"{ref}: {err}") from None
    at = f"@{hf.revision}" if hf.revision != "main" else ""
    projector: list[ModelSpec | None] = []

    def the_projector() -> ModelSpec | None:
        if not projector:
            if mmproj in ("none", ""):
                projector.append(None)
            elif mmproj == "auto":
                proj = choose_projector([f.path for f in files])
                ref_p = f"hf:{hf.repo}/{proj}{at}" if proj else None
                projector.append(
                    open_remote_model(ref_p, mmproj="none", options=options) if ref_p else None
                )
            else:
                projector.append(open_model(mmproj, mmproj="none"))
        return projector[0]

    out = []
    for q in quants:
        qref = f"hf:{hf.repo}/{q.first}{at}"

        def opener(qref: str = qref) -> ModelSpec:
            spec = open_remote_model(qref, mmproj="none", options=options)
            return replace(spec, mmproj=the_projector())

        out.append(QuantSource(q.quant, qref, q.size, SIZE_HUB, opener))
    return out


def ladder_sources(
    model: str, mmproj: str = "auto", *, options: RemoteOptions | None = None
) -> tuple[str, str, list[QuantSource]]:
    """(name, source kind, quants) for a catalog family, an `hf:ORG/REPO` or a local folder."""
    ref = model.strip()
    if ref.startswith("hf:"):
        body = ref[3:].split("@", 1)[0]
        if body.count("/") != 1 or ":" in body:
            raise ModelReferenceError(f"{ref}: name the repository alone (hf:ORG/REPO[@REV])")
        return body, "hf", hf_sources(ref, mmproj, options)
    path = Path(os.path.expanduser(ref))
    if path.is_dir():
        return path.name, "folder", folder_sources(path, mmproj)
    if ":" not in ref.removeprefix("catalog:") and not path.exists():
        found = catalog_sources(ref, mmproj)
        if found is not None:
            return found[0], "catalog", found[1]
    raise ModelReferenceError(
        f"{ref}: give a catalog model without a quant (e.g. qwen3-vl-32b), hf:ORG/REPO, or a "
        "folder holding several quants"
    )
