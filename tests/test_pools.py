"""Pool rules per OS against the sourced examples in the research notes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from vramtui.core.errors import SettingsError
from vramtui.core.hardware.pools import (
    MachineState,
    compute_pools,
    gtt_from_pages_limit,
    kernel_param_line,
)
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB, MiB


def _state(mid: str, carve: int, os: str, **kw: object) -> MachineState:
    return MachineState(machine=get_machine(mid), carve_out_bytes=carve, os=os, **kw)  # type: ignore[arg-type]


def test_windows_shared_is_half_of_visible_lmstudio_1088() -> None:
    # lmstudio-bug-tracker #1088: 96 GiB carve-out, ramCapacity 33,981,009,920 B,
    # GPU total 120,069,685,248 B -> shared 16,990,470,144 B = ramCapacity / 2.
    m = get_machine("framework-desktop-128gb")
    m = replace(m, total_ram_bytes=96 * GiB + 33_981_009_920, carve_out_steps=(96 * GiB,))
    pools = compute_pools(MachineState(machine=m, carve_out_bytes=96 * GiB, os="windows"))
    assert pools.shared_bytes == 16_990_504_960  # 33,981,009,920 / 2
    assert pools.gpu_total_bytes == pytest.approx(120_069_685_248, rel=1e-5)
    assert pools.system_ram_bytes == 33_981_009_920


def test_windows_minimum_64mb() -> None:
    m = replace(get_machine("strix-halo-32gb"), total_ram_bytes=100 * MiB, carve_out_steps=(1,))
    pools = compute_pools(MachineState(machine=m, carve_out_bytes=0, os="windows"))
    assert pools.shared_bytes == 64 * MiB


def test_linux_gtt_default_ollama_12342() -> None:
    # ROG Flow Z13 128 GB: VRAM 96 -> GTT 16 GB; VRAM 8 -> GTT 60 GB (ollama #12342)
    m = replace(get_machine("framework-desktop-128gb"), carve_out_steps=(8 * GiB, 96 * GiB))
    assert (
        compute_pools(MachineState(machine=m, carve_out_bytes=96 * GiB, os="linux")).shared_bytes
        == 16 * GiB
    )
    assert (
        compute_pools(MachineState(machine=m, carve_out_bytes=8 * GiB, os="linux")).shared_bytes
        == 60 * GiB
    )


def test_linux_gtt_override_and_cap() -> None:
    # kyuz0: 96 GiB = 25165824 pages reads exactly 103079215104 B
    assert gtt_from_pages_limit(25165824) == 103_079_215_104
    st = _state("framework-desktop-128gb", 512 * MiB, "linux", gtt_bytes=124 * GiB)
    assert compute_pools(st).shared_bytes == 124 * GiB
    st = _state("framework-desktop-128gb", 64 * GiB, "linux", gtt_bytes=124 * GiB)
    assert compute_pools(st).shared_bytes == 64 * GiB  # capped to visible (kernel 5dafdd64)
    assert kernel_param_line(124 * GiB) == "ttm.pages_limit=32505856 amdgpu.gttsize=126976"


def test_macos_working_set() -> None:
    # 16 GB -> 10922.67 MB (llama-cpp-python #687); 96 GB -> 73728 MB (llama.cpp #3213)
    p16 = compute_pools(_state("apple-m4-16gb", 0, "macos"))
    assert p16.shared_bytes / MiB == pytest.approx(10922.67, abs=0.5)
    m96 = replace(get_machine("apple-m4-max-128gb"), total_ram_bytes=96 * GiB)
    assert (
        compute_pools(MachineState(machine=m96, carve_out_bytes=0, os="macos")).shared_bytes
        == 73728 * MiB
    )
    wired = compute_pools(_state("apple-m4-max-128gb", 0, "macos", wired_limit_bytes=112 * GiB))
    assert wired.shared_bytes == 112 * GiB


def test_discrete_has_vram_only() -> None:
    p = compute_pools(_state("desktop-rtx-4090", 0, "windows"))
    assert p.dedicated_bytes == 24 * GiB and p.shared_bytes == 0
    assert p.system_ram_bytes == 64 * GiB


def test_bad_state_is_a_settings_error() -> None:
    with pytest.raises(SettingsError):
        _state("hp-zbook-ultra-g1a-64gb", 64 * GiB, "windows")
    with pytest.raises(SettingsError):
        _state("desktop-rtx-4090", 8 * GiB, "windows")
    with pytest.raises(SettingsError):
        _state("hp-zbook-ultra-g1a-64gb", 0, "beos")
