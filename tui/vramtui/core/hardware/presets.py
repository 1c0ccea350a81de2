"""Machine presets: the hardware facts a fit verdict needs (RAM, carve-out steps, bandwidth).

Bundled presets live in `presets/*.toml` (shipped in the wheel as `tui/_presets`); users add
their own in `user_machines_dir()`. File keys (sizes as the BIOS shows them):
  id, name, kind (strix_halo, apple, dgx_spark, discrete_gpu or other), total_ram_gib,
  carve_out_steps_mib (list), default_carve_out_mib, max_carve_out_fraction,
  max_carve_out_rule, gpu_vram_gib, bandwidth_gbps, measured_bandwidth_gbps,
  cpu_bandwidth_gbps, cpu_bandwidth_basis (measured, rated or assumed: saved by `vramtui
  detect` for a machine without a GPU), fp16_tflops, default_os, default_backend,
  unified_memory, sources (list, required, non-empty), notes, match_dmi / match_pci /
  match_chip (lists: how `vramtui detect` recognises the machine); for the speed model,
  int8_tops, shared_bandwidth_gbps, default_gtt_gib (optional). fp16_tflops is dense FP16
  matrix throughput: tensor/matrix cores with FP16 accumulate where the GPU has them, the
  shader ALU rate where it has none.
A user file that does not validate becomes one `problems` line naming the file and field.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from vramtui.core.atomic import read_text_capped
from vramtui.core.errors import PresetError, VramtuiError
from vramtui.core.paths import bundled_presets_dir, user_machines_dir
from vramtui.core.sizes import GiB, MiB
from vramtui.core.vocab import Backend, BandwidthBasis, MachineKind, OsName

MAX_PRESET_BYTES = 256 << 10
_Word = TypeVar("_Word", bound=StrEnum)

# What each class of machine can run. Strix Halo (Radeon 8060S/8050S, gfx1151): Vulkan on any
# OS, ROCm/HIP on Linux and Windows (AMD ROCm docs, strixhalo.rst; HIP SDK for Windows). Apple
# silicon: Metal (llama.cpp's Apple backend), macOS only. DGX Spark: CUDA and Vulkan, DGX OS
# (Ubuntu) only (NVIDIA DGX Spark user guide). NVIDIA desktop cards: CUDA or Vulkan, Windows or
# Linux. Every machine can run llama.cpp's CPU backend.
_BACKENDS_BY_KIND: dict[MachineKind, tuple[Backend, ...]] = {
    MachineKind.STRIX_HALO: (Backend.VULKAN, Backend.ROCM, Backend.CPU),
    MachineKind.APPLE: (Backend.METAL, Backend.CPU),
    MachineKind.DGX_SPARK: (Backend.CUDA, Backend.VULKAN, Backend.CPU),
    MachineKind.DISCRETE_GPU: (Backend.CUDA, Backend.VULKAN, Backend.CPU),
}
# A Radeon card (PCI vendor 1002) runs Vulkan or ROCm/HIP (AMD ROCm docs, Radeon and Radeon
# Pro GPU support), not CUDA.
AMD_PCI_VENDOR = "1002:"
_AMD_DISCRETE_BACKENDS = (Backend.VULKAN, Backend.ROCM, Backend.CPU)
_OS_BY_KIND: dict[MachineKind, tuple[OsName, ...]] = {
    MachineKind.STRIX_HALO: (OsName.WINDOWS, OsName.LINUX),
    MachineKind.APPLE: (OsName.MACOS,),
    MachineKind.DGX_SPARK: (OsName.LINUX,),
    MachineKind.DISCRETE_GPU: (OsName.WINDOWS, OsName.LINUX),
}


@dataclass(frozen=True)
class MachinePreset:
    id: str
    name: str
    kind: MachineKind
    total_ram_bytes: int
    carve_out_steps: tuple[int, ...]  # bytes, BIOS order; empty: no carve-out
    default_carve_out_bytes: int | None
    max_carve_out_fraction: float
    max_carve_out_rule: str
    gpu_vram_bytes: int  # discrete GPUs; 0 for an integrated GPU
    bandwidth_gbps: float  # theoretical, GB/s (10^9)
    measured_bandwidth_gbps: float | None
    fp16_tflops: float
    default_os: OsName
    default_backend: Backend
    unified_memory: bool
    sources: tuple[str, ...]
    notes: str = ""
    cpu_bandwidth_gbps: float | None = None  # discrete GPU boxes: RAM bandwidth for CPU layers
    # Where a detected CPU-only machine's RAM bandwidth comes from (measured, the CPU maker's
    # rating, or assumed); None for presets whose figures are sourced specs.
    cpu_bandwidth_basis: BandwidthBasis | None = None
    # Speed model (optional): dense INT8 matrix throughput (the quantized prefill path), what
    # the GPU reads from Windows shared GPU memory, the GTT the preset's Linux setup configures.
    int8_tops: float | None = None
    shared_bandwidth_gbps: float | None = None
    default_gtt_bytes: int | None = None
    # How `vramtui detect` recognises the machine (vramtui.core.detect.match): DMI product
    # name prefixes, GPU PCI ids "vvvv:dddd", chip names ("Apple M4 Max").
    match_dmi: tuple[str, ...] = ()
    match_pci: tuple[str, ...] = ()
    match_chip: tuple[str, ...] = ()
    path: str = field(default="", compare=False)

    @property
    def discrete(self) -> bool:
        return self.gpu_vram_bytes > 0

    @property
    def backends(self) -> tuple[Backend, ...]:
        """The llama.cpp backends this machine's GPU can run (CPU always)."""
        if self.kind == MachineKind.DISCRETE_GPU and any(
            p.startswith(AMD_PCI_VENDOR) for p in self.match_pci
        ):
            return _AMD_DISCRETE_BACKENDS
        return _BACKENDS_BY_KIND.get(self.kind, tuple(Backend))

    @property
    def operating_systems(self) -> tuple[OsName, ...]:
        return _OS_BY_KIND.get(self.kind, tuple(OsName))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["carve_out_steps"] = list(self.carve_out_steps)
        data["sources"] = list(self.sources)
        for key in ("kind", "default_os", "default_backend"):
            data[key] = data[key].value  # plain strings, as the preset file has them
        if self.cpu_bandwidth_basis is not None:
            data["cpu_bandwidth_basis"] = self.cpu_bandwidth_basis.value
        return data


@dataclass(frozen=True)
class MachineCatalog:
    machines: tuple[MachinePreset, ...]
    problems: tuple[str, ...] = ()

    def get(self, machine_id: str) -> MachinePreset | None:
        for m in self.machines:
            if m.id == machine_id:
                return m
        return None

    def ids(self) -> list[str]:
        return [m.id for m in self.machines]


# Entries a list field may hold: BIOS menus offer a dozen carve-out steps, and every step is
# evaluated for every model a recommendation weighs (125,000 steps took minutes and GBs).
MAX_LIST = 64

_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    # name: (accepted types, required)
    "id": (str, True),
    "name": (str, True),
    "kind": (str, True),
    "total_ram_gib": ((int, float), True),
    "carve_out_steps_mib": (list, False),
    "default_carve_out_mib": ((int, float), False),
    "max_carve_out_fraction": ((int, float), False),
    "max_carve_out_rule": (str, False),
    "gpu_vram_gib": ((int, float), False),
    "bandwidth_gbps": ((int, float), True),
    "measured_bandwidth_gbps": ((int, float), False),
    "cpu_bandwidth_gbps": ((int, float), False),
    "cpu_bandwidth_basis": (str, False),
    "fp16_tflops": ((int, float), True),
    "int8_tops": ((int, float), False),
    "shared_bandwidth_gbps": ((int, float), False),
    "default_gtt_gib": ((int, float), False),
    "default_os": (str, True),
    "default_backend": (str, True),
    "unified_memory": (bool, True),
    "sources": (list, True),
    "notes": (str, False),
    "match_dmi": (list, False),
    "match_pci": (list, False),
    "match_chip": (list, False),
}


def parse_machine(data: dict[str, Any], source: str) -> MachinePreset:
    """Validate one preset mapping; PresetError names the file and the field."""
    for key in data:
        if key not in _FIELDS:
            raise PresetError(source, key, "unknown field")
    for key, (types, required) in _FIELDS.items():
        if key not in data:
            if required:
                raise PresetError(source, key, "missing")
            continue
        value = data[key]
        if isinstance(value, bool) and types is not bool:
            raise PresetError(source, key, f"expected {_tname(types)}, got a boolean")
        if not isinstance(value, types):
            raise PresetError(source, key, f"expected {_tname(types)}, got {type(value).__name__}")
        _check_finite(source, key, value)
    total = _positive(data, "total_ram_gib", source) * GiB
    for key in ("carve_out_steps_mib", "sources", "match_dmi", "match_pci", "match_chip"):
        if len(data.get(key, ())) > MAX_LIST:
            raise PresetError(source, key, f"more than {MAX_LIST} entries")
    steps: list[int] = []
    for i, step in enumerate(data.get("carve_out_steps_mib", [])):
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
            raise PresetError(source, f"carve_out_steps_mib[{i}]", "must be a positive number")
        if int(step * MiB) >= total:
            raise PresetError(source, f"carve_out_steps_mib[{i}]", "not below total RAM")
        if int(step * MiB) not in steps:  # a step listed twice is one BIOS choice
            steps.append(int(step * MiB))
    default = data.get("default_carve_out_mib")
    sources = data["sources"]
    if not sources or not all(isinstance(s, str) and s for s in sources):
        raise PresetError(source, "sources", "must be a non-empty list of strings")
    fraction = float(data.get("max_carve_out_fraction", 0.0))
    if not 0.0 <= fraction < 1.0:
        raise PresetError(source, "max_carve_out_fraction", "must be in [0, 1)")
    measured = data.get("measured_bandwidth_gbps")
    cpu_bw = data.get("cpu_bandwidth_gbps")
    vram = data.get("gpu_vram_gib", 0)
    if vram < 0:
        raise PresetError(source, "gpu_vram_gib", "must be 0 or positive")
    int8 = _optional_positive(data, "int8_tops", source)
    shared_bw = _optional_positive(data, "shared_bandwidth_gbps", source)
    gtt = _optional_positive(data, "default_gtt_gib", source)
    match = {k: data.get(k, []) for k in ("match_dmi", "match_pci", "match_chip")}
    for key, values in match.items():
        if not all(isinstance(v, str) and v for v in values):
            raise PresetError(source, key, "must be a list of non-empty strings")
    return MachinePreset(
        id=data["id"],
        name=data["name"],
        kind=_choice(data, "kind", MachineKind, source),
        total_ram_bytes=int(total),
        carve_out_steps=tuple(steps),
        default_carve_out_bytes=int(default * MiB) if default is not None else None,
        max_carve_out_fraction=fraction,
        max_carve_out_rule=data.get("max_carve_out_rule", ""),
        gpu_vram_bytes=int(vram * GiB),
        bandwidth_gbps=_positive(data, "bandwidth_gbps", source),
        measured_bandwidth_gbps=float(measured) if measured is not None else None,
        fp16_tflops=_positive(data, "fp16_tflops", source),
        default_os=_choice(data, "default_os", OsName, source),
        default_backend=_choice(data, "default_backend", Backend, source),
        unified_memory=data["unified_memory"],
        sources=tuple(sources),
        notes=data.get("notes", ""),
        cpu_bandwidth_gbps=float(cpu_bw) if cpu_bw is not None else None,
        cpu_bandwidth_basis=(
            _choice(data, "cpu_bandwidth_basis", BandwidthBasis, source)
            if "cpu_bandwidth_basis" in data
            else None
        ),
        path=source,
        int8_tops=int8,
        shared_bandwidth_gbps=shared_bw,
        default_gtt_bytes=int(gtt * GiB) if gtt is not None else None,
        match_dmi=tuple(match["match_dmi"]),
        match_pci=tuple(match["match_pci"]),
        match_chip=tuple(match["match_chip"]),
    )


MAX_PRESET_NUMBER = 1e7  # above any RAM in GiB, carve-out in MiB, GB/s or TFLOPS of a machine


def _check_finite(source: str, key: str, value: Any) -> None:
    """Numbers (and the numbers in a list) must be finite and below MAX_PRESET_NUMBER: NaN,
    inf and 1e300 would pass `<= 0` checks and break every sum after them."""
    items = value if isinstance(value, list) else [value]
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, int | float):
            continue
        if not -MAX_PRESET_NUMBER <= item <= MAX_PRESET_NUMBER:  # NaN fails this too
            where = f"{key}[{i}]" if isinstance(value, list) else key
            limit = f"{MAX_PRESET_NUMBER:g}"
            raise PresetError(source, where, f"{item!r} is not a finite number up to {limit}")


def _choice(data: dict[str, Any], key: str, vocab: type[_Word], source: str) -> _Word:
    """A word of a closed vocabulary, as its enum member."""
    try:
        return vocab(data[key])
    except ValueError:
        words = ", ".join(vocab)
        raise PresetError(source, key, f"{data[key]!r} is not one of {words}") from None


def _tname(types: type | tuple[type, ...]) -> str:
    if isinstance(types, tuple):
        return " or ".join(t.__name__ for t in types)
    return types.__name__


def _positive(data: dict[str, Any], key: str, source: str) -> float:
    value = float(data[key])
    if value <= 0:
        raise PresetError(source, key, "must be positive")
    return value


def _optional_positive(data: dict[str, Any], key: str, source: str) -> float | None:
    return _positive(data, key, source) if key in data else None


def load_machine_file(path: Path) -> MachinePreset:
    try:
        # A FIFO, a device or a symlink to /dev/zero is refused unread; the cap counts bytes.
        data = tomllib.loads(read_text_capped(path, MAX_PRESET_BYTES))
    except tomllib.TOMLDecodeError as err:
        raise PresetError(str(path), "", f"not valid TOML ({err})") from None
    except RecursionError:
        raise PresetError(str(path), "", "not valid TOML (nested too deep)") from None
    except OSError as err:
        raise PresetError(str(path), "", f"cannot read ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise PresetError(str(path), "", f"cannot read ({err})") from None
    return parse_machine(data, str(path))


@lru_cache(maxsize=1)
def _bundled() -> tuple[MachinePreset, ...]:
    return tuple(load_machine_file(p) for p in sorted(bundled_presets_dir().glob("*.toml")))


def load_machines() -> MachineCatalog:
    """Bundled presets plus the user's; a user file with the same id replaces the bundled one."""
    machines = {m.id: m for m in _bundled()}
    problems: list[str] = []
    user_dir = user_machines_dir()
    if user_dir.is_dir():
        for path in sorted(user_dir.glob("*.toml")):
            try:
                m = load_machine_file(path)
            except VramtuiError as err:
                problems.append(f"{err} (skipped)")
                continue
            machines[m.id] = m
    return MachineCatalog(tuple(machines.values()), tuple(problems))


def get_machine(machine_id: str) -> MachinePreset:
    catalog = load_machines()
    found = catalog.get(machine_id)
    if found is not None:
        return found
    named = user_machines_dir() / f"{machine_id}.toml"
    if named.parent == user_machines_dir() and named.is_file():
        # the user's file of that name did not load: its error names the file and field
        load_machine_file(named)
    close = difflib.get_close_matches(machine_id, catalog.ids(), n=3, cutoff=0.3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise VramtuiError(f"unknown machine {machine_id!r}{hint} (see `vramtui machines`)")
