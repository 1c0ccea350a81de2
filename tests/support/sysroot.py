"""Fake /proc + /sys trees for `VRAMTUI_SYSROOT`, shaped like the kernel's: machine detection
reads them instead of this machine's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vramtui.core.sizes import GiB, MiB

KERNEL_RESERVED_KIB = 350 * 1024  # MemTotal sits a few hundred MiB under what is not carved


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_tree(
    root: Path,
    *,
    installed: int,
    carve: int = 0,
    cards: Sequence[dict[str, str]] = (),
    dmi: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    cpu: str = "AMD RYZEN AI MAX+ 395 w/ Radeon 8060S",
) -> Path:
    """A /proc + /sys tree shaped like the kernel's: cardN/device is a link to the PCI device
    folder, connectors (cardN-eDP-1) and render nodes sit beside the cards."""
    mem_kib = (installed - carve) // 1024 - KERNEL_RESERVED_KIB
    _write(
        root / "proc/meminfo",
        f"MemTotal:       {mem_kib} kB\nMemFree:        {mem_kib // 2} kB\n"
        f"MemAvailable:   {mem_kib // 2} kB\n",
    )
    _write(root / "proc/cpuinfo", f"processor\t: 0\nmodel name\t: {cpu}\n\nprocessor\t: 1\n")
    drm = root / "sys/class/drm"
    drm.mkdir(parents=True, exist_ok=True)
    for i, files in enumerate(cards):
        dev = root / f"sys/devices/pci0000:00/0000:0{i}:00.0"
        for name, value in files.items():
            _write(dev / name, value + "\n")
        (drm / f"card{i}").mkdir()
        (drm / f"card{i}" / "device").symlink_to(dev)
        (drm / f"card{i}-eDP-1").mkdir()
        (drm / f"renderD{128 + i}").mkdir()
    for name, value in (dmi or {}).items():
        _write(root / "sys/class/dmi/id" / name, value + "\n")
    for rel, value in (params or {}).items():
        _write(root / "sys/module" / rel, value + "\n")
    return root


def amdgpu_card(vram: int, gtt: int, device: str = "0x1586") -> dict[str, str]:
    return {
        "vendor": "0x1002",
        "device": device,
        "revision": "0xc1",
        "mem_info_vram_total": str(vram),
        "mem_info_vram_used": str(vram // 8),
        "mem_info_gtt_total": str(gtt),
        "mem_info_gtt_used": str(64 * MiB),
    }


def half_visible(installed: int, carve: int) -> int:
    """The kernel's default GTT: half the pages the OS sees (ttm_device.c)."""
    return ((installed - carve) // 1024 - KERNEL_RESERVED_KIB) * 1024 // 2


def hp_zbook_tree(root: Path, carve: int = 512 * MiB) -> Path:
    installed = 64 * GiB
    return make_tree(
        root,
        installed=installed,
        carve=carve,
        cards=[amdgpu_card(carve, half_visible(installed, carve))],
        dmi={
            "sys_vendor": "HP",
            "product_name": "HP ZBook Ultra G1a 14 inch Mobile Workstation PC",
            "board_name": "8D1B",
        },
        params={
            "ttm/parameters/pages_limit": str(half_visible(installed, carve) // 4096),
            "amdgpu/parameters/gttsize": "-1",
        },
    )
