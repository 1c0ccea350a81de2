"""`vramtui detect`: what machine vramtui runs on, read from the system without admin rights.

Per platform (each source bounded in time and size; details in the platform modules):
- Linux (detect_linux): /proc/meminfo, /proc/cpuinfo, /sys/class/drm/card*/device (PCI ids,
  amdgpu mem_info_vram_* and mem_info_gtt_*), the ttm / amdgpu module parameters, DMI
  (/sys/class/dmi/id), and nvidia-smi when installed.
- macOS (detect_macos): sysctl hw.memsize, machdep.cpu.brand_string, hw.model,
  iogpu.wired_limit_mb.
- Windows (detect_windows): one PowerShell call: CIM Win32_ComputerSystem / PhysicalMemory /
  Processor / VideoController and the display adapters' registry key
  (HardwareInformation.qwMemorySize); shared memory by Microsoft's rule.
`VRAMTUI_SYSROOT=DIR` reads a recorded Linux tree instead (DIR/proc/..., DIR/sys/...) and runs
no command, for tests and for support reports. Matching to a preset and building a machine
from the result live in detect_match.
"""

from __future__ import annotations

import os
import platform
import tomllib
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import tomli_w

from vramtui.core.atomic import write_atomic
from vramtui.core.detect.conditions import SYSROOT_ENV
from vramtui.core.detect.linux import detect_linux
from vramtui.core.detect.macos import detect_macos
from vramtui.core.detect.match import detected_machine_state, match_preset
from vramtui.core.detect.types import CommandRunner, Detection, run_command
from vramtui.core.detect.windows import detect_windows
from vramtui.core.errors import SettingsError, VramtuiError
from vramtui.core.hardware.presets import (
    MachineCatalog,
    MachinePreset,
    load_machines,
    parse_machine,
)
from vramtui.core.paths import NAME_RULE, user_machines_dir, valid_name
from vramtui.core.sizes import GiB, MiB


def detect_machine(
    *,
    system: str | None = None,
    sysroot: str | os.PathLike[str] | None = None,
    runner: CommandRunner | None = None,
    catalog: MachineCatalog | None = None,
) -> Detection:
    """Detect this machine and the preset it matches.

    `system`: "Linux", "Darwin" or "Windows" (default: this one). `sysroot` (default:
    $VRAMTUI_SYSROOT) makes it a Linux tree read from that folder. `runner` runs commands
    (default: real subprocesses; none at all with a sysroot unless one is passed)."""
    if sysroot is None:
        sysroot = os.environ.get(SYSROOT_ENV) or None
    if sysroot is not None:
        root = Path(sysroot)
        if not root.is_dir():
            raise SettingsError(f"{SYSROOT_ENV}: {root} is not a folder")
        detection = detect_linux(root, runner)
    else:
        name = system or platform.system()
        run = runner or run_command
        if name == "Linux":
            detection = detect_linux(Path("/"), run)
        elif name == "Darwin":
            detection = detect_macos(run)
        elif name == "Windows":
            detection = detect_windows(run)
        else:
            raise VramtuiError(
                f"detect: {name or 'this system'} is not supported (Linux, macOS and Windows are)"
            )
    matched = match_preset(detection, catalog or load_machines())
    return replace(detection, preset=matched.id if matched else None)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 6)


def preset_toml_data(
    m: MachinePreset, d: Detection, name: str, gtt_bytes: int | None = None
) -> dict[str, Any]:
    """A preset file's keys for machine `m`, saved as `name`, recognised by what `d` found;
    `gtt_bytes`: a Linux GTT the user set (saved as the preset's default GTT)."""
    gtt = gtt_bytes or m.default_gtt_bytes
    data: dict[str, Any] = {
        "id": name,
        "name": f"{name}: {m.name}",
        "kind": m.kind.value,
        "total_ram_gib": _number(m.total_ram_bytes / GiB),
        "carve_out_steps_mib": [_number(s / MiB) for s in m.carve_out_steps],
    }
    if m.default_carve_out_bytes is not None:
        data["default_carve_out_mib"] = _number(m.default_carve_out_bytes / MiB)
    data |= {
        "max_carve_out_fraction": m.max_carve_out_fraction,
        "max_carve_out_rule": m.max_carve_out_rule,
        "gpu_vram_gib": _number(m.gpu_vram_bytes / GiB),
        "bandwidth_gbps": m.bandwidth_gbps,
        "fp16_tflops": m.fp16_tflops,
        "default_os": d.os.value,
        "default_backend": m.default_backend.value,
        "unified_memory": m.unified_memory,
    }
    if m.measured_bandwidth_gbps is not None:
        data["measured_bandwidth_gbps"] = m.measured_bandwidth_gbps
    if m.cpu_bandwidth_basis is not None:
        data["cpu_bandwidth_basis"] = m.cpu_bandwidth_basis.value
    for key, value in (
        ("cpu_bandwidth_gbps", m.cpu_bandwidth_gbps),
        ("int8_tops", m.int8_tops),
        ("shared_bandwidth_gbps", m.shared_bandwidth_gbps),
        ("default_gtt_gib", gtt / GiB if gtt else None),
    ):
        if value is not None:
            data[key] = _number(value)
    data["sources"] = [f"vramtui detect, {date.today().isoformat()}", *m.sources]
    data["notes"] = m.notes
    if d.product:
        data["match_dmi"] = [d.product]
    pci = sorted({g.pci_id for g in d.gpus if g.pci_id})
    if pci:
        data["match_pci"] = pci
    if d.cpu:
        data["match_chip"] = [d.cpu]
    return data


def save_detected_machine(
    d: Detection, name: str, *, force: bool = False, catalog: MachineCatalog | None = None
) -> Path:
    """Save what `d` found (the matched preset or the machine built from it) as the user's
    machine preset NAME.toml; refuses to replace a file, or to shadow a bundled preset, unless
    `force`. The file carries match keys, so the next `detect` recognises it."""
    if not valid_name(name):
        raise SettingsError(f"--save: {name!r} is not a machine name ({NAME_RULE})")
    catalog = catalog or load_machines()
    path = user_machines_dir() / f"{name}.toml"
    if not force and path.exists():
        raise SettingsError(f"--save: {path} exists (pass --force to replace it)")
    existing = catalog.get(name)
    if not force and existing is not None and Path(existing.path).parent != path.parent:
        raise SettingsError(
            f"--save: {name!r} is a bundled preset (pick another name, or --force to override it)"
        )
    state = detected_machine_state(d, catalog)
    header = "# vramtui machine preset saved by `vramtui detect --save` (sizes in GiB / MiB)\n"
    text = header + tomli_w.dumps(preset_toml_data(state.machine, d, name, state.gtt_bytes))
    parse_machine(tomllib.loads(text), str(path))  # what is written must load again
    write_atomic(path, text)
    return path
