"""What `vramtui detect` found, and the bounded ways it reads the system.

Every source is bounded: files are read only when they are regular files (never a FIFO, a
device or a socket, which could block or have side effects), at most a few KiB of each; commands
run with a timeout, stdin closed and their output capped. Nothing here needs admin rights.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vramtui.core.vocab import OsName

SYSFS_READ_LIMIT = 4096  # a sysfs attribute is at most one page (Documentation/filesystems/sysfs)
PROC_READ_LIMIT = 64 * 1024  # /proc/meminfo is ~1.5 KiB; /proc/cpuinfo is read only in part
COMMAND_OUTPUT_LIMIT = 1 << 20
COMMAND_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class GpuInfo:
    """One GPU. `dedicated_bytes`: VRAM on a discrete GPU, the BIOS carve-out on an integrated
    one (None: the platform did not say). `shared_bytes`: what it may take from system RAM
    (Linux GTT, Windows shared GPU memory, the macOS GPU working set; None: unknown)."""

    name: str
    vendor: str  # amd | nvidia | intel | apple | qualcomm | other
    pci_id: str | None  # "1002:1586", lower-case hex; None where there is no PCI id (Apple)
    dedicated_bytes: int | None
    shared_bytes: int | None
    unified: bool
    dedicated_used_bytes: int | None = None
    shared_used_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vendor": self.vendor,
            "pci_id": self.pci_id,
            "dedicated_bytes": self.dedicated_bytes,
            "shared_bytes": self.shared_bytes,
            "unified": self.unified,
            "dedicated_used_bytes": self.dedicated_used_bytes,
            "shared_used_bytes": self.shared_used_bytes,
        }


@dataclass(frozen=True)
class Detection:
    """This machine as read from the system. `total_ram_basis` says how `total_ram_bytes` was
    found: "installed" (the firmware's count of the modules), "visible+carve-out" (an AMD APU
    on Linux: what the OS sees plus what the BIOS reserved) or "visible" (what the OS sees)."""

    os: OsName
    total_ram_bytes: int | None
    visible_ram_bytes: int | None
    gpus: tuple[GpuInfo, ...]
    carve_out_bytes: int | None
    total_ram_basis: str = "visible"
    product: str | None = None  # DMI product_name, Win32_ComputerSystem.Model, Mac hw.model
    product_vendor: str | None = None  # DMI sys_vendor, Win32_ComputerSystem.Manufacturer
    board: str | None = None  # DMI board_name (mini PCs often leave product_name generic)
    cpu: str | None = None  # CPU brand string; on a Mac the chip ("Apple M4 Max")
    ttm_pages_limit: int | None = None  # Linux ttm.pages_limit (4 KiB pages)
    amdgpu_gttsize_mib: int | None = None  # Linux amdgpu.gttsize (-1: the default)
    ttm_module: str | None = None  # Linux: "ttm", or "amdttm" under AMD's DKMS amdgpu
    uma_carveout_path: str | None = None  # Linux amdgpu sysfs uma/carveout, where offered
    wired_limit_bytes: int | None = None  # macOS iogpu.wired_limit_mb (None or 0: unset)
    preset: str | None = None
    sources: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "os": self.os,
            "total_ram_bytes": self.total_ram_bytes,
            "total_ram_basis": self.total_ram_basis,
            "visible_ram_bytes": self.visible_ram_bytes,
            "gpus": [g.to_json() for g in self.gpus],
            "carve_out_bytes": self.carve_out_bytes,
            "preset": self.preset,
            "product": self.product,
            "product_vendor": self.product_vendor,
            "board": self.board,
            "cpu": self.cpu,
            "ttm_pages_limit": self.ttm_pages_limit,
            "amdgpu_gttsize_mib": self.amdgpu_gttsize_mib,
            "ttm_module": self.ttm_module,
            "uma_carveout_path": self.uma_carveout_path,
            "wired_limit_bytes": self.wired_limit_bytes,
            "sources": list(self.sources),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class CommandOutput:
    """What a command gave: `error` is set when it did not run to completion (not installed,
    timed out, could not start); the caller then reads nothing from it."""

    returncode: int
    stdout: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0


# (argv, timeout in seconds) -> output. Tests pass recorded outputs through one of these.
CommandRunner = Callable[[Sequence[str], float], CommandOutput]


def run_command(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S) -> CommandOutput:
    """Run a program found on PATH with stdin closed, a C locale and a timeout."""
    # sysctl lives in /usr/sbin on macOS, which a restricted PATH may leave out.
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), "/usr/sbin", "/sbin"])
    exe = shutil.which(argv[0], path=search)
    if exe is None:
        return CommandOutput(127, "", f"{argv[0]} not found")
    env = {**os.environ, "LC_ALL": "C"}
    try:
        proc = subprocess.run(
            [exe, *argv[1:]],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return CommandOutput(124, "", f"{argv[0]} timed out after {timeout:g} s")
    except OSError as err:
        return CommandOutput(126, "", f"{argv[0]} could not start ({err.strerror or err})")
    out = proc.stdout[:COMMAND_OUTPUT_LIMIT].decode("utf-8", "replace")
    return CommandOutput(proc.returncode, out)


def read_text(path: Path, limit: int = SYSFS_READ_LIMIT) -> str | None:
    """At most `limit` bytes of a regular file, or None (missing, unreadable, not a regular
    file). Opened non-blocking and checked again after opening, so a FIFO or device put in its
    place is never read from."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def clean_text(text: str, limit: int = 200) -> str:
    """A string from the system made safe to print: control characters (terminal escapes
    included) removed, whitespace collapsed, length capped."""
    kept = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(kept.split())[:limit]


# What firmware leaves in SMBIOS strings nobody filled in (seen on AMI boards and mini PCs).
_PLACEHOLDERS = {
    "",
    "default string",
    "to be filled by o.e.m.",
    "system product name",
    "system manufacturer",
    "not applicable",
    "none",
}


def firmware_string(text: str | None) -> str | None:
    """A DMI / SMBIOS string made safe to print, or None for an unset placeholder."""
    if text is None:
        return None
    value = clean_text(text)
    return None if value.lower() in _PLACEHOLDERS else value


def parse_int(text: str | None) -> int | None:
    """ "12345", "0x1586" or " 42\\n" -> int; anything else -> None."""
    if text is None:
        return None
    value = text.strip()
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None


# PCI vendor ids (pci.ids): which GPU maker a device belongs to.
PCI_VENDORS = {
    0x1002: "amd",
    0x10DE: "nvidia",
    0x8086: "intel",
    0x5143: "qualcomm",
}
# Display adapters that are not GPUs a model can run on: emulated or server-management (BMC)
# graphics. QEMU std-vga 1234, virtio 1af4, QXL 1b36, VMware SVGA 15ad, Cirrus 1013,
# Matrox G200 BMC 102b, ASPEED BMC 1a03, Hyper-V 1414 (pci.ids vendor list).
NOT_A_GPU_VENDORS = frozenset({0x1234, 0x1AF4, 0x1B36, 0x15AD, 0x1013, 0x102B, 0x1A03, 0x1414})

# AMD APUs (integrated GPUs whose "VRAM" is a BIOS carve-out of system RAM), by PCI device id.
# Renoir/Cezanne/Lucienne/Barcelo: linux amdgpu_drv.c pciidlist (CHIP_RENOIR|AMD_IS_APU); the
# rest (matched by IP discovery, not listed with AMD_IS_APU in the kernel): libdrm
# data/amdgpu.ids product names.
AMD_APUS: dict[int, str] = {
    0x1586: "AMD Radeon 8060S / 8050S (Strix Halo)",
    0x150E: "AMD Radeon 890M / 880M (Strix Point)",
    0x1114: "AMD Radeon 860M / 840M (Krackan Point)",
    0x1902: "AMD Radeon 840M / 820M",
    0x15BF: "AMD Radeon 780M / 760M (Phoenix)",
    0x15C8: "AMD Radeon 740M (Phoenix 2)",
    0x1900: "AMD Radeon 780M / 760M (Hawk Point)",
    0x1901: "AMD Radeon 740M (Hawk Point 2)",
    0x1681: "AMD Radeon 680M / 660M (Rembrandt)",
    0x164E: "AMD Radeon 610M (Raphael)",
    0x1506: "AMD Radeon 610M (Mendocino)",
    0x163F: "AMD Custom GPU 0405 (Van Gogh)",
    0x1636: "AMD Radeon Graphics (Renoir)",
    0x1638: "AMD Radeon Graphics (Cezanne)",
    0x164C: "AMD Radeon Graphics (Lucienne)",
    0x15E7: "AMD Radeon Graphics (Barcelo)",
    0x15D8: "AMD Radeon Vega (Picasso)",
    0x15DD: "AMD Radeon Vega (Raven Ridge)",
}
# An integrated GPU whose id is not in the table above is told from a discrete one by its
# dedicated memory: BIOS carve-outs of ordinary iGPUs stop at a few GB (XMG: "values above
# 16 GB" are not in vendor BIOS code except Strix Halo), discrete cards since ~2016 have more.
SMALL_DEDICATED = 2 * 1024**3


def pci_id(vendor: int, device: int) -> str:
    return f"{vendor:04x}:{device:04x}"


def vendor_name(vendor: int) -> str:
    return PCI_VENDORS.get(vendor, "other")


def is_integrated(vendor: int, device: int, dedicated: int | None) -> bool:
    """Whether a PCI GPU shares system RAM (an APU / iGPU) rather than having its own VRAM."""
    if vendor == 0x1002 and device in AMD_APUS:
        return True
    if vendor == 0x5143:  # Qualcomm Adreno: always part of the SoC
        return True
    if vendor == 0x8086 and (0x5690 <= device <= 0x56FF or 0xE200 <= device <= 0xE2FF):
        return False  # Intel Arc discrete: DG2 (A-series) and Battlemage (B-series), pci.ids
    if vendor in (0x1002, 0x8086):
        return dedicated is None or dedicated <= SMALL_DEDICATED
    return False


def gpu_name(vendor: int, device: int) -> str:
    if vendor == 0x1002 and device in AMD_APUS:
        return AMD_APUS[device]
    maker = {"amd": "AMD", "nvidia": "NVIDIA", "intel": "Intel", "qualcomm": "Qualcomm"}
    return f"{maker.get(vendor_name(vendor), 'GPU')} {pci_id(vendor, device)}"
