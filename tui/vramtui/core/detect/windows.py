"""Windows: read this PC with one PowerShell call (CIM and the registry; no admin rights).

What the script reads (it prints one JSON object):
- Win32_ComputerSystem: Manufacturer, Model, TotalPhysicalMemory (the RAM Windows sees: a
  BIOS carve-out is not in it).
- Win32_PhysicalMemory: the sum of Capacity, i.e. the installed modules (carve-out included).
- Win32_Processor: Name.
- Win32_VideoController: Name, PNPDeviceID (PCI vendor and device id), AdapterRAM. AdapterRAM
  is a uint32 and stops at 4 GB, so it is used only when the registry has nothing better.
- The display-adapter class key HKLM\\SYSTEM\\CurrentControlSet\\Control\\Class\\{4d36e968-...}
  \\NNNN: DriverDesc, MatchingDeviceId and HardwareInformation.qwMemorySize (the adapter's
  dedicated memory as a 64-bit number; HardwareInformation.MemorySize on older drivers).
Shared GPU memory is not read but computed as Windows computes it: max(visible RAM / 2, 64 MB)
per adapter (learn.microsoft.com "Calculating Graphics Memory"). PowerShell starts slowly
(about 1 s cold, more on a busy machine), so this one call gets 8 s instead of the usual 2 s.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from vramtui.core.detect.types import (
    NOT_A_GPU_VENDORS,
    CommandRunner,
    Detection,
    GpuInfo,
    clean_text,
    firmware_string,
    gpu_name,
    is_integrated,
    pci_id,
    vendor_name,
)
from vramtui.core.vocab import OsName

POWERSHELL_TIMEOUT_S = 8.0
MiB = 1024**2
ADAPTER_RAM_CAP = 0xFFF00000  # AdapterRAM saturates just under 4 GiB (uint32)
_CLASS_KEY = r"HKLM:\SYSTEM\CurrentControlSet\Control\Class\{4d36e968-e325-11ce-bfc1-08002be10318}"
SCRIPT = f"""
$ErrorActionPreference = 'SilentlyContinue'
$ProgressPreference = 'SilentlyContinue'
$cs = Get-CimInstance -ClassName Win32_ComputerSystem |
  Select-Object Manufacturer, Model, TotalPhysicalMemory
$installed = (Get-CimInstance -ClassName Win32_PhysicalMemory |
  Measure-Object -Property Capacity -Sum).Sum
$cpu = (Get-CimInstance -ClassName Win32_Processor | Select-Object -First 1).Name
$vc = @(Get-CimInstance -ClassName Win32_VideoController |
  Select-Object Name, AdapterRAM, PNPDeviceID)
$ad = @(Get-ChildItem -Path '{_CLASS_KEY}' |
  Where-Object {{ $_.PSChildName -match '^[0-9]{{4}}$' }} |
  ForEach-Object {{ Get-ItemProperty -Path $_.PSPath }} |
  Select-Object DriverDesc, MatchingDeviceId, 'HardwareInformation.qwMemorySize',
    'HardwareInformation.MemorySize')
[pscustomobject]@{{ computer = $cs; installed = $installed; cpu = $cpu;
  controllers = $vc; adapters = $ad }} | ConvertTo-Json -Depth 4 -Compress
"""
_PCI_RE = re.compile(r"ven_([0-9a-f]{4})&dev_([0-9a-f]{4})", re.IGNORECASE)


def powershell_argv() -> tuple[str, ...]:
    """-EncodedCommand (base64 of UTF-16LE) avoids every quoting rule of the command line."""
    encoded = base64.b64encode(SCRIPT.encode("utf-16-le")).decode("ascii")
    return ("powershell", "-NoProfile", "-NonInteractive", "-EncodedCommand", encoded)


def detect_windows(runner: CommandRunner) -> Detection:
    out = runner(powershell_argv(), POWERSHELL_TIMEOUT_S)
    if not out.ok:
        why = out.error or f"exit code {out.returncode}"
        return Detection(OsName.WINDOWS, None, None, (), None, problems=(f"powershell: {why}",))
    try:
        data = json.loads(out.stdout)
    except ValueError:
        return Detection(
            OsName.WINDOWS, None, None, (), None, problems=("powershell: output is not JSON",)
        )
    if not isinstance(data, dict):
        problem = "powershell: output is not a JSON object"
        return Detection(OsName.WINDOWS, None, None, (), None, problems=(problem,))
    return parse_windows(data)


def _list(value: Any) -> list[dict[str, Any]]:
    """ConvertTo-Json writes a one-element array as the bare element: accept both."""
    items = value if isinstance(value, list) else [value] if value is not None else []
    return [item for item in items if isinstance(item, dict)]


def _int(value: Any) -> int | None:
    """A number, or a REG_BINARY little-endian byte list as ConvertTo-Json writes it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else value + (1 << 64)  # REG_QWORD read as a signed Int64
    if isinstance(value, float) and value >= 0:
        return int(value)
    if isinstance(value, list) and 0 < len(value) <= 8 and all(isinstance(b, int) for b in value):
        return int.from_bytes(bytes(b & 0xFF for b in value), "little")
    return None


def _ids(text: Any) -> tuple[int, int] | None:
    match = _PCI_RE.search(text) if isinstance(text, str) else None
    return (int(match.group(1), 16), int(match.group(2), 16)) if match else None


def parse_windows(data: dict[str, Any]) -> Detection:
    """The PowerShell script's JSON -> Detection (split out so recorded outputs test it)."""
    sources = [
        "powershell: Win32_ComputerSystem, Win32_PhysicalMemory, Win32_Processor, "
        "Win32_VideoController, display adapter class registry key"
    ]
    problems: list[str] = []
    raw = data.get("computer")
    computer: dict[str, Any] = raw if isinstance(raw, dict) else {}
    visible = _int(computer.get("TotalPhysicalMemory"))
    installed = _int(data.get("installed"))
    visible_half = max((visible or 0) // 2, 64 * MiB)  # Microsoft's shared-memory rule
    registry: dict[tuple[int, int], int] = {}
    for ad in _list(data.get("adapters")):
        ids = _ids(ad.get("MatchingDeviceId"))
        size = _int(ad.get("HardwareInformation.qwMemorySize"))
        if size is None:
            size = _int(ad.get("HardwareInformation.MemorySize"))
        if ids is not None and size is not None:
            registry.setdefault(ids, size)
    gpus: list[GpuInfo] = []
    for vc in _list(data.get("controllers")):
        ids = _ids(vc.get("PNPDeviceID"))
        if ids is None:  # not a PCI device: remote desktop, indirect or basic display drivers
            continue
        vendor, device = ids
        if vendor in NOT_A_GPU_VENDORS:
            continue
        dedicated = registry.get(ids)
        if dedicated is None:
            dedicated = _int(vc.get("AdapterRAM"))
            if dedicated is not None and dedicated >= ADAPTER_RAM_CAP:
                problems.append(f"{pci_id(vendor, device)}: only AdapterRAM (capped at 4 GB)")
        name = vc.get("Name")
        gpus.append(
            GpuInfo(
                name=clean_text(name) if isinstance(name, str) else gpu_name(vendor, device),
                vendor=vendor_name(vendor),
                pci_id=pci_id(vendor, device),
                dedicated_bytes=dedicated,
                shared_bytes=visible_half if visible else None,
                unified=is_integrated(vendor, device, dedicated),
            )
        )
    carve = next((g.dedicated_bytes for g in gpus if g.unified and g.vendor == "amd"), None)
    total, basis = visible, "visible"
    if installed:
        total, basis = installed, "installed"
    elif visible is not None and carve is not None:
        total, basis = visible + carve, "visible+carve-out"
    model, maker, cpu = computer.get("Model"), computer.get("Manufacturer"), data.get("cpu")
    return Detection(
        os=OsName.WINDOWS,
        total_ram_bytes=total,
        visible_ram_bytes=visible,
        gpus=tuple(gpus),
        carve_out_bytes=carve,
        total_ram_basis=basis,
        product=firmware_string(model) if isinstance(model, str) else None,
        product_vendor=firmware_string(maker) if isinstance(maker, str) else None,
        cpu=clean_text(cpu) if isinstance(cpu, str) else None,
        sources=tuple(sources),
        problems=tuple(problems),
    )
