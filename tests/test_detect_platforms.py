"""`vramtui detect` on macOS and Windows, from recorded command outputs (tests/data/detect)
passed through the injectable command runner: the parsing, the matching and the machine."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

import pytest

from vramtui.core.detect.match import THIS_MACHINE, detected_machine_state
from vramtui.core.detect.this_machine import detect_machine
from vramtui.core.detect.types import CommandOutput, CommandRunner
from vramtui.core.detect.windows import POWERSHELL_TIMEOUT_S, powershell_argv
from vramtui.core.errors import VramtuiError
from vramtui.core.hardware.pools import compute_pools
from vramtui.core.sizes import GiB, MiB

DATA = Path(__file__).parent / "data" / "detect"


def sysctl_runner(recording: str) -> CommandRunner:
    """`sysctl -n KEY` answered from a KEY=VALUE recording; an unknown key fails as sysctl
    does ("unknown oid", exit code 1)."""
    values = dict(
        line.split("=", 1)
        for line in (DATA / recording).read_text(encoding="utf-8").splitlines()
        if "=" in line
    )

    def run(argv: Sequence[str], timeout: float) -> CommandOutput:
        assert list(argv[:2]) == ["sysctl", "-n"] and timeout <= 2.0
        if argv[2] in values:
            return CommandOutput(0, values[argv[2]] + "\n")
        return CommandOutput(1, "", f"sysctl: unknown oid '{argv[2]}'")

    return run


def test_mac_m4_max_128gb_is_its_preset() -> None:
    d = detect_machine(system="Darwin", runner=sysctl_runner("macos-m4-max-128gb.txt"))
    assert d.os == "macos" and d.preset == "apple-m4-max-128gb"
    assert d.total_ram_bytes == d.visible_ram_bytes == 128 * GiB
    assert d.total_ram_basis == "installed" and d.carve_out_bytes is None
    (gpu,) = d.gpus
    assert gpu.vendor == "apple" and gpu.unified and gpu.pci_id is None
    assert gpu.shared_bytes == 96 * GiB  # 3/4 of RAM above 36 GB
    assert d.wired_limit_bytes is None and d.product == "Mac16,5"
    state = detected_machine_state(d)
    assert state.machine.id == "apple-m4-max-128gb" and state.wired_limit_bytes is None


def test_mac_with_a_wired_limit_and_no_matching_preset() -> None:
    d = detect_machine(system="Darwin", runner=sysctl_runner("macos-m4-max-64gb-wired.txt"))
    assert d.preset is None  # the M4 Max preset is the 128 GB one
    assert d.wired_limit_bytes == 57344 * MiB and d.gpus[0].shared_bytes == 56 * GiB
    state = detected_machine_state(d)
    m = state.machine
    assert m.id == THIS_MACHINE and m.kind == "apple" and m.total_ram_bytes == 64 * GiB
    assert m.bandwidth_gbps == 546.0  # the same chip's preset
    assert state.wired_limit_bytes == 57344 * MiB
    assert compute_pools(state).gpu_total_bytes == 56 * GiB


def test_mac_without_iogpu_key_and_unknown_chip() -> None:
    d = detect_machine(system="Darwin", runner=sysctl_runner("macos-m2-pro-32gb-no-iogpu.txt"))
    assert d.problems == ()  # no iogpu.wired_limit_mb before macOS 14: not a problem
    assert d.gpus[0].shared_bytes == int(32 * GiB * 2 / 3)
    m = detected_machine_state(d).machine
    assert (m.id, m.kind, m.default_backend) == (THIS_MACHINE, "apple", "metal")
    assert m.bandwidth_gbps == 100.0  # the assumed figure for an unknown Apple chip


def powershell_runner(recording: str | None, out: CommandOutput | None = None) -> CommandRunner:
    def run(argv: Sequence[str], timeout: float) -> CommandOutput:
        assert tuple(argv) == powershell_argv() and timeout == POWERSHELL_TIMEOUT_S
        if out is not None:
            return out
        assert recording is not None
        return CommandOutput(0, (DATA / recording).read_text(encoding="utf-8"))

    return run


def test_powershell_script_asks_for_what_the_parser_reads() -> None:
    argv = powershell_argv()
    assert argv[:4] == ("powershell", "-NoProfile", "-NonInteractive", "-EncodedCommand")
    script = base64.b64decode(argv[4]).decode("utf-16-le")
    for needle in (
        "Win32_ComputerSystem",
        "TotalPhysicalMemory",
        "Win32_PhysicalMemory",
        "Capacity",
        "Win32_VideoController",
        "PNPDeviceID",
        "HardwareInformation.qwMemorySize",
        "{4d36e968-e325-11ce-bfc1-08002be10318}",
        "ConvertTo-Json",
    ):
        assert needle in script


def test_windows_hp_zbook_at_512_mb() -> None:
    run = powershell_runner("windows-hp-zbook-ultra-g1a-64gb-512m.json")
    d = detect_machine(system="Windows", runner=run)
    assert d.os == "windows" and d.preset == "hp-zbook-ultra-g1a-64gb"
    assert d.total_ram_bytes == 64 * GiB and d.total_ram_basis == "installed"
    (gpu,) = d.gpus  # the remote display adapter is not a PCI GPU
    assert gpu.pci_id == "1002:1586" and gpu.unified and gpu.dedicated_bytes == 512 * MiB
    assert gpu.shared_bytes == 68119130112 // 2  # Microsoft: half the visible RAM
    assert d.carve_out_bytes == 512 * MiB
    assert d.product == "HP ZBook Ultra G1a 14 inch Mobile Workstation PC"
    state = detected_machine_state(d)
    assert (state.machine.id, state.carve_out_bytes, state.os) == (
        "hp-zbook-ultra-g1a-64gb",
        512 * MiB,
        "windows",
    )


def test_windows_96_gb_carve_out_beyond_adapter_ram() -> None:
    # AdapterRAM stops at 4 GB; the registry's qwMemorySize has the 96 GB. ConvertTo-Json
    # wrote the single controller and adapter as bare objects, not one-element arrays.
    d = detect_machine(
        system="Windows", runner=powershell_runner("windows-strix-halo-128gb-96g.json")
    )
    assert d.carve_out_bytes == 96 * GiB and d.problems == ()
    assert d.preset == "framework-desktop-128gb"  # 128 GB installed, Strix Halo GPU
    assert detected_machine_state(d).carve_out_bytes == 96 * GiB


def test_windows_rtx_4090_beside_an_intel_igpu() -> None:
    d = detect_machine(system="Windows", runner=powershell_runner("windows-rtx-4090-32gb.json"))
    nvidia, intel = d.gpus
    assert nvidia.dedicated_bytes == 24564 * MiB and not nvidia.unified  # AdapterRAM: 4 GB
    assert intel.dedicated_bytes == 128 * MiB and intel.unified  # REG_BINARY byte list
    assert d.carve_out_bytes is None and d.product is None  # "System Product Name"
    assert d.preset is None  # the RTX 4090 preset has 64 GB of RAM
    m = detected_machine_state(d).machine
    assert m.discrete and m.gpu_vram_bytes == 24564 * MiB and m.total_ram_bytes == 32 * GiB
    assert m.default_backend == "cuda"


@pytest.mark.parametrize(
    "out",
    [
        CommandOutput(124, "", "powershell timed out after 8 s"),
        CommandOutput(0, "WARNING: something\n{not json"),
        CommandOutput(0, "[1, 2]"),
    ],
)
def test_windows_failures_become_one_clear_error(out: CommandOutput) -> None:
    d = detect_machine(system="Windows", runner=powershell_runner(None, out))
    assert d.gpus == () and d.total_ram_bytes is None and len(d.problems) == 1
    with pytest.raises(VramtuiError, match="could not read this machine's RAM"):
        detected_machine_state(d)


def test_unsupported_system() -> None:
    with pytest.raises(VramtuiError, match="not supported"):
        detect_machine(system="FreeBSD", runner=powershell_runner(None, CommandOutput(1, "")))
