"""The machine as it is set up (`MachineState`: preset, carve-out, OS, runtime, overrides) and
the memory pools its OS gives the GPU (`Pools`).

Rules (each with its source below):
- OS-visible RAM = total - carve-out: BIOS-reserved memory is hidden from the OS
  [learn.microsoft.com "Calculating Graphics Memory"; kernel GTT cap uses totalram_pages()].
- Windows shared GPU memory = max(visible / 2, 64 MB) [Microsoft formula; lmstudio-bug-tracker
  #1088 byte counts]. Linux GTT = visible / 2 by default (ttm_device.c ttm_global_init) or the
  ttm.pages_limit override, capped to visible (kernel commit 5dafdd64). macOS: the GPU working
  set, 2/3 of RAM up to 36 GB and 3/4 above (llama.cpp #3213, llama-cpp-python #687) unless
  iogpu.wired_limit_mb is set. DGX Spark: CUDA uses MemAvailable (ggml-cuda.cu, PR #17368).
  Discrete GPUs: VRAM only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeVar

from vramtui.core.errors import SettingsError
from vramtui.core.hardware.presets import MachinePreset
from vramtui.core.sizes import GiB, MiB, format_bytes
from vramtui.core.vocab import Backend, OsName, Runtime

_Word = TypeVar("_Word", bound=StrEnum)
PAGE = 4096  # ttm.pages_limit counts 4 KiB pages (ttm_tt.c)

# Idle OS + desktop RAM: Windows 11 minimum 4 GB (umatechnology); GNOME/KDE idle up to ~2 GB
# (aionda.blog); macOS keeps 25-33 % outside the GPU cap anyway, 4 GB for the desktop.
OS_BASELINE = {OsName.WINDOWS: 4 * GiB, OsName.LINUX: 2 * GiB, OsName.MACOS: 4 * GiB}
# GPU memory the desktop itself holds beside the model (the compositor's surfaces, the
# driver's own allocations). Windows 1 GiB: in the 2026-02-02 ZBook article's Task Manager figures
# GPU memory in use sat 1.0-1.5 GiB above what LM Studio's runtime allocates for GLM-4.7-Flash
# (taken from those two rows, so they are no independent check; the two Qwen3-VL rows are). Linux
# 256 MiB: a GNOME/KDE session's amdgpu VRAM use at idle (amdgpu_top on a Strix Halo desktop, kyuz0
# toolbox notes). macOS: the working-set cap already leaves the desktop its share.
DESKTOP_GPU_RESERVE = {OsName.WINDOWS: 1 * GiB, OsName.LINUX: 256 * MiB, OsName.MACOS: 0}
# RAM a desktop needs to stay smooth: what the OS and everyday apps keep after the model
# loads (RAM taken by the runtime's host buffers and by GPU memory that lives in system RAM).
# Windows 16 GiB: the 2026-02-02 ZBook article's 48 + 16 GB laptop stutters "whatever the model",
# and Microsoft recommends 16 GB for heavy multitasking (8 GB minimum for Windows 11 itself). Linux
# 8 GiB: GNOME 49 / KDE Plasma 6 idle at 0.5-2.6 GB (aionda.blog 2026) plus a browser and editor.
# macOS 8 GiB: Apple's base machines ship 16 GB, and macOS 15 keeps 11+ GB wired with Apple
# Intelligence on (exo PR #1672). Adjustable: --desktop-ram, a preset, the app.
DESKTOP_RAM = {OsName.WINDOWS: 16 * GiB, OsName.LINUX: 8 * GiB, OsName.MACOS: 8 * GiB}


@dataclass(frozen=True)
class MachineState:
    """One machine as set up. `os`, `backend` and `runtime` hold their vocabulary's members;
    a plain string given here (a test, a caller outside the typed code) is checked and turned
    into its member, so everything past this point compares enums."""

    machine: MachinePreset
    carve_out_bytes: int
    os: OsName
    gtt_bytes: int | None = None
    wired_limit_bytes: int | None = None
    os_baseline_bytes: int | None = None
    backend: Backend | None = None
    runtime: Runtime = Runtime.LLAMACPP
    keep_model_in_memory: bool | None = None  # None: the runtime's default
    desktop_ram_bytes: int | None = None  # None: DESKTOP_RAM for the OS
    # Linux, as detected: the TTM module holding the GTT limit ("amdttm" under AMD's DKMS
    # amdgpu) and the amdgpu sysfs file that sets the carve-out, where the kernel offers it.
    ttm_module: str = "ttm"
    uma_carveout_path: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "os", _member(OsName, self.os, "os"))
        object.__setattr__(self, "runtime", _member(Runtime, self.runtime, "runtime"))
        if self.backend is not None:
            object.__setattr__(self, "backend", _member(Backend, self.backend, "backend"))
        machine = self.machine
        if self.os not in machine.operating_systems:
            raise SettingsError(
                f"{machine.id} does not run {self.os.label} "
                f"(it runs {', '.join(o.label for o in machine.operating_systems)})"
            )
        if self.backend is not None and self.backend not in machine.backends:
            choices = ", ".join(b.value for b in machine.backends)
            raise SettingsError(
                f"backend '{self.backend}' cannot run on {machine.id}'s GPU (choose {choices})"
            )
        if self.carve_out_bytes < 0 or (
            self.carve_out_bytes and self.carve_out_bytes >= self.machine.total_ram_bytes
        ):
            raise SettingsError(
                f"carve-out {format_bytes(self.carve_out_bytes)} is not below the machine's "
                f"{format_bytes(self.machine.total_ram_bytes)} of RAM"
            )
        if self.carve_out_bytes and (self.machine.discrete or not self.machine.carve_out_steps):
            raise SettingsError(f"machine {self.machine.id} has no carve-out setting")
        for name in ("gtt_bytes", "wired_limit_bytes", "os_baseline_bytes", "desktop_ram_bytes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise SettingsError(f"{name.removesuffix('_bytes')} must not be negative")

    @classmethod
    def default_for(cls, machine: MachinePreset, **changes: Any) -> MachineState:
        carve = machine.default_carve_out_bytes or 0
        if not machine.carve_out_steps:
            carve = 0
        # A preset's own GTT setting (e.g. 124 GiB with ttm.pages_limit) applies under Linux.
        gtt = machine.default_gtt_bytes if machine.default_os == OsName.LINUX else None
        state = cls(machine=machine, carve_out_bytes=carve, os=machine.default_os, gtt_bytes=gtt)
        if changes.get("os", state.os) != OsName.LINUX and "gtt_bytes" not in changes:
            changes["gtt_bytes"] = None
        return replace(state, **changes) if changes else state

    @property
    def resolved_backend(self) -> Backend:
        return self.backend or self.machine.default_backend

    @property
    def baseline(self) -> int:
        return (
            self.os_baseline_bytes if self.os_baseline_bytes is not None else OS_BASELINE[self.os]
        )

    @property
    def desktop_ram(self) -> int:
        if self.desktop_ram_bytes is not None:
            return self.desktop_ram_bytes
        return DESKTOP_RAM[self.os]

    @property
    def keeps_model(self) -> bool:
        if self.keep_model_in_memory is not None:
            return self.keep_model_in_memory
        return self.runtime == Runtime.LMSTUDIO


def _member(vocab: type[_Word], value: str, name: str) -> _Word:
    try:
        return vocab(value)
    except ValueError:
        raise SettingsError(f"{name} {value!r} is not one of {', '.join(vocab)}") from None


def gtt_from_pages_limit(pages: int) -> int:
    """ttm.pages_limit (4 KiB pages) -> bytes: 96 GiB = 25165824 pages (kyuz0 README)."""
    if pages < 0:
        raise SettingsError("ttm.pages_limit must not be negative")
    return pages * PAGE


def kernel_param_line(gtt_bytes: int) -> str:
    """The boot parameters that set the GTT size (newer kernels read ttm.pages_limit, older
    ones amdgpu.gttsize in MiB; kyuz0 sets both)."""
    return f"ttm.pages_limit={gtt_bytes // PAGE} amdgpu.gttsize={gtt_bytes // MiB}"


# AMD's amd-ttm tool writes the limit to /etc/modprobe.d/ttm.conf (ROCm docs strixhalo.rst); the
# out-of-tree amdgpu names its TTM module amdttm, so its parameter is amdttm.pages_limit
# (ROCm/legacy-rocm-build #5562). Either way the limit is read when the module loads: a reboot
# applies it.
TTM_MODPROBE_FILE = "/etc/modprobe.d/ttm.conf"


def ttm_setting_lines(gtt_bytes: int, module: str = "ttm") -> dict[str, str]:
    """The exact lines that set the GTT limit for `module` ("ttm" or "amdttm"): on the kernel
    command line, or in modprobe.d."""
    pages = gtt_bytes // PAGE
    cmdline = kernel_param_line(gtt_bytes) if module == "ttm" else f"{module}.pages_limit={pages}"
    return {
        "kernel_cmdline": cmdline,
        "modprobe_file": TTM_MODPROBE_FILE,
        "modprobe_line": f"options {module} pages_limit={pages}",
    }


@dataclass(frozen=True)
class Pools:
    dedicated_bytes: int
    shared_bytes: int
    shared_name: str  # "shared GPU memory" | "GTT" | "GPU working set" | "none"
    system_ram_bytes: int  # visible to the OS
    gpu_total_bytes: int
    shared_is_slow: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "dedicated_bytes": self.dedicated_bytes,
            "shared_bytes": self.shared_bytes,
            "shared_name": self.shared_name,
            "system_ram_bytes": self.system_ram_bytes,
            "gpu_total_bytes": self.gpu_total_bytes,
        }


def compute_pools(state: MachineState) -> Pools:
    m = state.machine
    if m.discrete:
        vis = m.total_ram_bytes
        return Pools(m.gpu_vram_bytes, 0, "none", vis, m.gpu_vram_bytes, False)
    carve = state.carve_out_bytes
    visible = m.total_ram_bytes - carve
    if state.os == OsName.MACOS:
        if state.wired_limit_bytes:
            ws = min(state.wired_limit_bytes, visible)
        else:
            frac = 2 / 3 if m.total_ram_bytes <= 36 * GiB else 3 / 4
            ws = int(m.total_ram_bytes * frac)
        return Pools(0, ws, "GPU working set", visible, ws, False)
    if state.os == OsName.WINDOWS:
        shared = max(visible // 2, 64 * MiB)
        return Pools(carve, shared, "shared GPU memory", visible, carve + shared, True)
    # linux
    if not m.carve_out_steps:  # DGX Spark class: the GPU allocates from available RAM
        return Pools(0, visible, "system memory", visible, visible, False)
    gtt = state.gtt_bytes if state.gtt_bytes is not None else visible // 2
    gtt = min(gtt, visible)
    return Pools(carve, gtt, "GTT", visible, carve + gtt, False)
