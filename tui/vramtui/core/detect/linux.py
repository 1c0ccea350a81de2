"""Linux: read this machine from /proc and /sys (no root needed), and nvidia-smi when present.

Sources, all under ROOT (`/`, or `VRAMTUI_SYSROOT` for a recorded tree):
- /proc/meminfo MemTotal: RAM the OS sees (the BIOS carve-out is not in it; the kernel's GTT
  limit is derived from it, ttm_device.c).
- /proc/cpuinfo "model name": the CPU (first 8 KiB only).
- /sys/class/drm/cardN/device/{vendor,device,revision}: the PCI ids of each GPU.
  amdgpu adds mem_info_vram_total / _used (VRAM; on an APU the BIOS carve-out) and
  mem_info_gtt_total / _used (the system RAM the GPU may map).
- /sys/module/ttm/parameters/pages_limit (4 KiB pages) and /sys/module/amdgpu/parameters/
  gttsize (MiB, -1 = default): the boot-time GTT knobs (ttm_tt.c, amdgpu_ttm.c).
- /sys/class/dmi/id/{sys_vendor,product_name,board_name}: the machine's make and model.
- `nvidia-smi --query-gpu=name,pci.device_id,memory.total,memory.used --format=csv,noheader,
  nounits` (2 s timeout): NVIDIA VRAM, which the nvidia driver does not put in sysfs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vramtui.core.detect.types import (
    NOT_A_GPU_VENDORS,
    PROC_READ_LIMIT,
    CommandRunner,
    Detection,
    GpuInfo,
    clean_text,
    firmware_string,
    gpu_name,
    is_integrated,
    parse_int,
    pci_id,
    read_text,
    vendor_name,
)
from vramtui.core.sizes import ascii_int
from vramtui.core.vocab import OsName

MAX_CARDS = 16
CPUINFO_READ_LIMIT = 8192
_CARD_RE = re.compile(r"^card(\d+)$")
NVIDIA_SMI = (
    "nvidia-smi",
    "--query-gpu=name,pci.device_id,memory.total,memory.used",
    "--format=csv,noheader,nounits",
)
MiB = 1024**2


@dataclass
class _Found:
    sources: list[str]
    problems: list[str]

    def read(self, root: Path, rel: str, limit: int = 4096) -> str | None:
        text = read_text(root / rel, limit)
        if text is not None:
            self.sources.append(f"/{rel}")
        return text


def detect_linux(root: Path, runner: CommandRunner | None) -> Detection:
    """Everything Linux tells without root. `runner` None: run no command (a recorded tree)."""
    found = _Found([], [])
    visible = _mem_total(found.read(root, "proc/meminfo", PROC_READ_LIMIT))
    if visible is None:
        found.problems.append("/proc/meminfo: no MemTotal line")
    cpu = _cpu_name(found.read(root, "proc/cpuinfo", CPUINFO_READ_LIMIT))
    gpus = _drm_gpus(root, found)
    if runner is not None:
        gpus = _merge_nvidia(gpus, runner, found)
    elif any(g.vendor == "nvidia" and g.dedicated_bytes is None for g in gpus):
        found.problems.append("nvidia-smi not run (recorded tree): NVIDIA VRAM unknown")
    pages, ttm_module = _ttm_limit(root, found)
    gttsize = parse_int(found.read(root, "sys/module/amdgpu/parameters/gttsize"))
    dmi = {
        key: firmware_string(found.read(root, f"sys/class/dmi/id/{key}"))
        for key in ("sys_vendor", "product_name", "board_name")
    }
    carve = next((g.dedicated_bytes for g in gpus if g.unified and g.vendor == "amd"), None)
    total = visible
    basis = "visible"
    if visible is not None and carve is not None:
        total, basis = visible + carve, "visible+carve-out"
    return Detection(
        os=OsName.LINUX,
        total_ram_bytes=total,
        visible_ram_bytes=visible,
        gpus=tuple(gpus),
        carve_out_bytes=carve,
        total_ram_basis=basis,
        product=dmi["product_name"],
        product_vendor=dmi["sys_vendor"],
        board=dmi["board_name"],
        cpu=cpu,
        ttm_pages_limit=pages,
        ttm_module=ttm_module,
        uma_carveout_path=_uma_carveout(root),
        amdgpu_gttsize_mib=gttsize,
        sources=tuple(found.sources),
        problems=tuple(found.problems),
    )


def _ttm_limit(root: Path, found: _Found) -> tuple[int | None, str | None]:
    """The GTT limit in 4 KiB pages and the module that holds it: amdttm where AMD's
    out-of-tree (DKMS) amdgpu is loaded, which brings its own TTM (ROCm/legacy-rocm-build
    #5562), else the kernel's ttm."""
    for module in ("amdttm", "ttm"):
        pages = parse_int(found.read(root, f"sys/module/{module}/parameters/pages_limit"))
        if pages is not None:
            return pages, module
    return None, None


def _uma_carveout(root: Path) -> str | None:
    """The amdgpu sysfs file that sets the carve-out from Linux, applied by the firmware at the
    next boot (drm/amdgpu "add UMA allocation interfaces to sysfs": uma/carveout takes an index
    into uma/carveout_options; only APUs whose firmware offers the ACPI method have it)."""
    for card in _card_dirs(root):
        path = card / "device" / "uma" / "carveout"
        if path.is_file():
            return "/" + str(path.relative_to(root))
    return None


def _mem_total(text: str | None) -> int | None:
    for line in (text or "").splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            kib = ascii_int(parts[1]) if len(parts) >= 2 else None
            if kib is not None:
                unit = parts[2].lower() if len(parts) > 2 else "kb"
                return kib * (1024 if unit == "kb" else 1)
    return None


def _cpu_name(text: str | None) -> str | None:
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return clean_text(value)
    return None


def _card_dirs(root: Path) -> list[Path]:
    drm = root / "sys/class/drm"
    try:
        names = [e.name for e in drm.iterdir() if _CARD_RE.match(e.name)]
    except OSError:
        return []
    names.sort(key=lambda n: int(_CARD_RE.match(n).group(1)))  # type: ignore[union-attr]
    return [drm / n for n in names[:MAX_CARDS]]


def _drm_gpus(root: Path, found: _Found) -> list[GpuInfo]:
    gpus: list[GpuInfo] = []
    seen: set[str] = set()
    for card in _card_dirs(root):
        dev = card / "device"
        rel = str(dev.relative_to(root))
        vendor = parse_int(read_text(dev / "vendor"))
        device = parse_int(read_text(dev / "device"))
        if vendor is None or device is None:
            continue
        ident = pci_id(vendor, device)
        if vendor in NOT_A_GPU_VENDORS:
            found.sources.append(f"/{rel} ({ident}: a virtual or BMC display, not a GPU)")
            continue
        try:
            real = str(dev.resolve())
        except OSError:
            real = rel
        if real in seen:
            continue
        seen.add(real)
        vram = parse_int(read_text(dev / "mem_info_vram_total"))
        gtt = parse_int(read_text(dev / "mem_info_gtt_total"))
        found.sources.append(
            f"/{rel} ({ident}" + (", amdgpu mem_info_*" if vram is not None else "") + ")"
        )
        gpus.append(
            GpuInfo(
                name=gpu_name(vendor, device),
                vendor=vendor_name(vendor),
                pci_id=ident,
                dedicated_bytes=vram,
                shared_bytes=gtt,
                unified=is_integrated(vendor, device, vram) if vendor != 0x10DE else False,
                dedicated_used_bytes=parse_int(read_text(dev / "mem_info_vram_used")),
                shared_used_bytes=parse_int(read_text(dev / "mem_info_gtt_used")),
            )
        )
    return gpus


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """Rows of `name, 0xDDDDVVVV, total MiB, used MiB` (csv,noheader,nounits). pci.device_id
    is "the combined 16-bit device id and 16-bit vendor id" (NVML nvmlPciInfo_t). A GPU with no
    memory figure ("[N/A]", "[Not Supported]") has none of its own: GB10 / Jetson class, which
    allocate from system RAM, so it is reported as unified."""
    gpus: list[GpuInfo] = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.rsplit(",", 3)]
        if len(parts) != 4 or not parts[0]:
            continue
        name, combined, total, used = parts
        ids = parse_int(combined)
        ident = pci_id(ids & 0xFFFF, ids >> 16) if ids is not None else None
        total_mib = parse_int(total)
        used_mib = parse_int(used)
        gpus.append(
            GpuInfo(
                name=clean_text(name),
                vendor="nvidia",
                pci_id=ident,
                dedicated_bytes=total_mib * MiB if total_mib is not None else None,
                shared_bytes=None,
                unified=total_mib is None,
                dedicated_used_bytes=used_mib * MiB if used_mib is not None else None,
            )
        )
    return gpus


def _merge_nvidia(gpus: list[GpuInfo], runner: CommandRunner, found: _Found) -> list[GpuInfo]:
    """Replace sysfs NVIDIA entries by nvidia-smi's (which knows the VRAM); keep them when the
    tool is missing or fails, and say so."""
    has_nvidia = any(g.vendor == "nvidia" for g in gpus)
    out = runner(NVIDIA_SMI, 2.0)
    if not out.ok:
        if has_nvidia:
            why = out.error or f"exit code {out.returncode}"
            found.problems.append(f"nvidia-smi: {why}: NVIDIA VRAM unknown")
        return gpus
    smi = parse_nvidia_smi(out.stdout)
    found.sources.append(" ".join(NVIDIA_SMI))
    merged: list[GpuInfo] = []
    for g in gpus:
        if g.vendor != "nvidia" or not smi:
            merged.append(g)
            continue
        same = next((i for i, s in enumerate(smi) if s.pci_id == g.pci_id), 0)
        merged.append(smi.pop(same))
    return merged + smi
