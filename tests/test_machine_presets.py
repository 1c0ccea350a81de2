"""Every bundled machine preset: it loads, names its sources, and its figures are sane for its
class of machine; `vramtui machines --json` lists them with their sources."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from vramtui.cli.main import main
from vramtui.core.hardware.pools import MachineState, compute_pools
from vramtui.core.hardware.presets import MachinePreset, load_machines
from vramtui.core.sizes import GiB, MiB
from vramtui.core.vocab import Backend, MachineKind

MACHINES = load_machines().machines
BY_ID = {m.id: m for m in MACHINES}

# Plausible ranges per class (GB/s, dense FP16 TFLOPS): LPDDR5X-8000 on 256 bits is 256 GB/s
# (Strix Halo, DGX Spark 273); Apple spans the M1's 68 GB/s to the Ultras' 819; desktop cards
# from a 128-bit GDDR6 card's 288 GB/s to the RTX 5090's 1,792.
BANDWIDTH = {
    MachineKind.STRIX_HALO: (200.0, 300.0),
    MachineKind.APPLE: (60.0, 900.0),
    MachineKind.DGX_SPARK: (250.0, 300.0),
    MachineKind.DISCRETE_GPU: (250.0, 2000.0),
}
COMPUTE = {
    MachineKind.STRIX_HALO: (30.0, 70.0),
    MachineKind.APPLE: (2.0, 40.0),
    MachineKind.DGX_SPARK: (25.0, 200.0),
    MachineKind.DISCRETE_GPU: (20.0, 500.0),
}
# The machines people own that the presets must cover, by class (a floor, not a list).
STRIX_HALO_DEVICES = [
    "asus-rog-flow-z13-32gb",
    "asus-rog-flow-z13-64gb",
    "asus-rog-flow-z13-128gb",
    "gmktec-evo-x2-128gb",
    "hp-z2-mini-g1a-128gb",
    "hp-zbook-ultra-g1a-64gb",
    "framework-desktop-64gb",
    "framework-desktop-128gb",
    "beelink-gtr9-pro-128gb",
    "minisforum-ms-s1-max-128gb",
]
DISCRETE = [
    "desktop-rtx-5060-ti-16gb",
    "desktop-rtx-5070-ti",
    "desktop-rtx-5080",
    "desktop-rtx-5090",
    "desktop-rtx-4060-ti-16gb",
    "workstation-radeon-ai-pro-r9700",
    "desktop-rx-7900-xtx",
    "desktop-rx-9070-xt",
]


def test_the_counts_per_class() -> None:
    kinds = Counter(m.kind for m in MACHINES)
    assert len(MACHINES) >= 30
    assert kinds[MachineKind.STRIX_HALO] >= 8
    assert kinds[MachineKind.APPLE] >= 9
    assert kinds[MachineKind.DISCRETE_GPU] >= 8
    for mid in STRIX_HALO_DEVICES + DISCRETE:
        assert mid in BY_ID, mid


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.id)
def test_every_preset_is_sane(machine: MachinePreset) -> None:
    m = machine
    assert m.sources and all(len(s) > 10 for s in m.sources)
    low, high = BANDWIDTH[m.kind]
    assert low <= m.bandwidth_gbps <= high, m.bandwidth_gbps
    if m.measured_bandwidth_gbps is not None:
        assert m.measured_bandwidth_gbps <= m.bandwidth_gbps
    low, high = COMPUTE[m.kind]
    assert low <= m.fp16_tflops <= high, m.fp16_tflops
    if m.int8_tops is not None:
        assert m.fp16_tflops <= m.int8_tops <= 2 * m.fp16_tflops
    assert 8 * GiB <= m.total_ram_bytes <= 512 * GiB
    assert m.default_backend in m.backends and m.default_os in m.operating_systems
    steps = m.carve_out_steps
    if m.kind == MachineKind.STRIX_HALO:
        assert steps == tuple(sorted(steps)) and steps[0] <= 2 * GiB
        assert max(steps) <= m.total_ram_bytes * m.max_carve_out_fraction
        assert m.default_carve_out_bytes in steps
        assert m.unified_memory and not m.discrete
    else:
        assert not steps and m.max_carve_out_fraction == 0.0
    if m.kind == MachineKind.DISCRETE_GPU:
        assert 8 * GiB <= m.gpu_vram_bytes <= 48 * GiB and not m.unified_memory
        assert m.cpu_bandwidth_gbps is not None and m.cpu_bandwidth_gbps < m.bandwidth_gbps
    # The state at the preset's defaults is valid and leaves the GPU some memory.
    pools = compute_pools(MachineState.default_for(m))
    assert 0 < pools.gpu_total_bytes <= m.total_ram_bytes + m.gpu_vram_bytes


def test_radeon_cards_run_vulkan_or_rocm_not_cuda() -> None:
    for mid in ("desktop-rx-7900-xtx", "desktop-rx-9070-xt", "workstation-radeon-ai-pro-r9700"):
        assert set(BY_ID[mid].backends) == {Backend.VULKAN, Backend.ROCM, Backend.CPU}, mid
    assert Backend.CUDA in BY_ID["desktop-rtx-5070-ti"].backends


def test_apple_working_set_follows_the_ram_rule() -> None:
    """2/3 of RAM up to 36 GB, 3/4 above (llama.cpp #3213, llama-cpp-python #687)."""
    for m in MACHINES:
        if m.kind != MachineKind.APPLE:
            continue
        ws = compute_pools(MachineState.default_for(m)).gpu_total_bytes
        share = 2 / 3 if m.total_ram_bytes <= 36 * GiB else 3 / 4
        assert abs(ws - m.total_ram_bytes * share) < MiB, m.id


def test_machines_json_lists_every_preset_with_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["machines", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} >= set(BY_ID)
    for row in rows:
        assert row["sources"] and all(isinstance(s, str) and s for s in row["sources"])
