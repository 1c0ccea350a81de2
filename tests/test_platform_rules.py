"""Platform rules: each shows for the machine, OS and backend it is about, and for no other
(the check's reasons, the plan's platform steps, and what detection reads for them)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.sysroot import amdgpu_card, make_tree
from vramtui.cli.main import main
from vramtui.core.advice.moe_offload import expert_offload
from vramtui.core.advice.plan import build_plan
from vramtui.core.advice.platform_steps import PlatformStep
from vramtui.core.detect.linux import parse_nvidia_smi
from vramtui.core.detect.match import detected_machine_state
from vramtui.core.detect.this_machine import detect_machine
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.fit.set import SetMember, evaluate_set
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.model.source import open_model
from vramtui.core.sizes import GiB, MiB
from vramtui.core.vocab import (
    Backend,
    BufferKind,
    OsName,
    Place,
    PlatformStepKind,
    ReasonCode,
    SegmentKind,
)
from vramtui.present.plan_words import platform_step_sentence

HEAPS = ReasonCode.VULKAN_HEAPS_SPLIT
ROCM64 = ReasonCode.ROCM_WINDOWS_64G
KV_SHARED = ReasonCode.ROCM_WINDOWS_KV_SHARED


def _state(machine_id: str, carve: int = 0, **changes: object) -> MachineState:
    m = get_machine(machine_id)
    return MachineState.default_for(m, carve_out_bytes=carve, **changes)


def _codes(spec: ModelSpec, state: MachineState, ctx: int = 16384) -> set[ReasonCode]:
    return set(evaluate_fit(spec, RuntimeSettings(ctx_size=ctx), state).codes)


def _steps(spec: ModelSpec, state: MachineState) -> dict[PlatformStepKind, PlatformStep]:
    plan = build_plan(spec, RuntimeSettings(ctx_size=16384), state, ctx_given=True)
    return {s.kind: s for s in plan.platform}


@pytest.fixture(scope="module")
def small() -> ModelSpec:
    return open_model("glm-4.7-flash:Q4_K_M")


def test_vulkan_heap_split_only_above_64_gb_under_windows(small: ModelSpec) -> None:
    windows = {"os": OsName.WINDOWS}
    assert HEAPS in _codes(small, _state("hp-z2-mini-g1a-128gb", 96 * GiB, **windows))
    assert HEAPS not in _codes(small, _state("hp-z2-mini-g1a-128gb", 64 * GiB, **windows))
    linux = _state("hp-z2-mini-g1a-128gb", 96 * GiB, os=OsName.LINUX)
    assert HEAPS not in _codes(small, linux)
    rocm = _state("hp-z2-mini-g1a-128gb", 96 * GiB, backend=Backend.ROCM, **windows)
    assert HEAPS not in _codes(small, rocm)


def test_rocm_under_windows_stops_at_64_gb() -> None:
    big = open_model("gpt-oss-120b:F16")
    windows = _state("hp-z2-mini-g1a-128gb", 32 * GiB, os=OsName.WINDOWS, backend=Backend.ROCM)
    fit = evaluate_fit(big, RuntimeSettings(ctx_size=131072), windows)
    assert ROCM64 in fit.codes and fit.dedicated_used_bytes + fit.shared_used_bytes > 64 * GiB
    assert ROCM64 not in _codes(big, replace(windows, backend=Backend.VULKAN), 131072)
    linux = _state("hp-z2-mini-g1a-128gb", 32 * GiB, os=OsName.LINUX, backend=Backend.ROCM)
    assert ROCM64 not in _codes(big, linux, 131072)
    small = open_model("glm-4.7-flash:Q4_K_M")
    assert ROCM64 not in _codes(small, windows)


def _shared_kv(fit: FitResult) -> int:
    """KV cache bytes the fit's placement lays in the shared pool."""
    shared = [p for p in fit.pool_usage if p.name == fit.pools.shared_name]
    return sum(s.n_bytes for p in shared for s in p.segments if s.kind == SegmentKind.KV_CACHE)


def test_rocm_under_windows_keeps_the_kv_cache_in_shared_memory(small: ModelSpec) -> None:
    s = RuntimeSettings(ctx_size=16384)
    rocm = _state("hp-zbook-ultra-g1a-64gb", 32 * GiB, os=OsName.WINDOWS, backend=Backend.ROCM)
    kv = evaluate_fit(small, s, rocm).breakdown.total(Place.DEVICE, BufferKind.KV_CACHE)
    fits = {
        "windows rocm": evaluate_fit(small, s, rocm),
        "windows vulkan": evaluate_fit(small, s, replace(rocm, backend=Backend.VULKAN)),
        "linux rocm": evaluate_fit(small, s, replace(rocm, os=OsName.LINUX)),
    }
    assert kv > 0
    assert _shared_kv(fits["windows rocm"]) == kv == fits["windows rocm"].shared_used_bytes
    assert _shared_kv(fits["windows vulkan"]) == 0 == _shared_kv(fits["linux rocm"])
    # The same bytes leave the carve-out and come out of the RAM left.
    vulkan, windows = fits["windows vulkan"], fits["windows rocm"]
    assert vulkan.dedicated_used_bytes - windows.dedicated_used_bytes == kv
    assert vulkan.system_ram_left_bytes - windows.system_ram_left_bytes == kv
    assert KV_SHARED in windows.codes and ReasonCode.SPILLS_TO_SHARED not in windows.codes
    assert windows.kept_shared_bytes == kv and windows.spilled_bytes == 0
    assert KV_SHARED not in vulkan.codes and KV_SHARED not in fits["linux rocm"].codes
    # Only the KV cache: the weights and compute buffers stay in the carve-out.
    kinds = {seg.kind for seg in windows.pool_usage[0].segments}
    assert {SegmentKind.WEIGHTS, SegmentKind.COMPUTE} <= kinds and SegmentKind.KV_CACHE not in kinds


def test_rocm_under_windows_reads_the_kv_cache_from_shared_memory(small: ModelSpec) -> None:
    rocm = _state("hp-zbook-ultra-g1a-64gb", 32 * GiB, os=OsName.WINDOWS, backend=Backend.ROCM)
    s = RuntimeSettings(ctx_size=16384)
    windows = evaluate_fit(small, s, rocm).speed.inputs
    vulkan = evaluate_fit(small, s, replace(rocm, backend=Backend.VULKAN)).speed.inputs
    linux = evaluate_fit(small, s, replace(rocm, os=OsName.LINUX)).speed.inputs
    assert windows is not None and vulkan is not None and linux is not None
    assert windows.kv_shared == 1.0 and windows.weights_shared == 0.0
    assert vulkan.kv_shared == 0.0 == linux.kv_shared


def test_a_set_under_windows_rocm_keeps_every_kv_cache_in_shared_memory(small: ModelSpec) -> None:
    rocm = _state("hp-zbook-ultra-g1a-64gb", 48 * GiB, os=OsName.WINDOWS, backend=Backend.ROCM)
    s = RuntimeSettings(ctx_size=8192)
    one = SetMember(small, s, "glm-4.7-flash:Q4_K_M")
    both = evaluate_set((one, one), rocm)
    kv = [m.breakdown.total(Place.DEVICE, BufferKind.KV_CACHE) for m in both.members]
    assert all(kv) and [m.shared_bytes for m in both.members] == kv
    assert both.fit.shared_used_bytes == sum(kv) == both.fit.kept_shared_bytes
    assert KV_SHARED in both.fit.codes


def test_expert_offload_under_windows_rocm_looks_past_the_kept_kv_cache() -> None:
    """The KV cache ROCm keeps in shared memory is no spill: expert offload is still offered,
    and needs no more experts on the host than Vulkan, whose KV cache takes carve-out room."""
    moe = open_model("gpt-oss-20b")
    rocm = _state("hp-zbook-ultra-g1a-64gb", 8 * GiB, os=OsName.WINDOWS, backend=Backend.ROCM)
    s = RuntimeSettings(ctx_size=16384)
    on_rocm = expert_offload(moe, s, rocm)
    on_vulkan = expert_offload(moe, s, replace(rocm, backend=Backend.VULKAN))
    assert on_rocm is not None and on_vulkan is not None
    assert on_rocm.fit.spilled_bytes == 0 < on_rocm.fit.kept_shared_bytes
    assert on_rocm.n_cpu_moe <= on_vulkan.n_cpu_moe


def test_check_json_puts_the_rocm_kv_cache_in_shared_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["check", "glm-4.7-flash:Q4_K_M", "--machine", "hp-zbook-ultra-g1a-64gb", "--json"]
    argv += ["--os", "windows", "--carve-out", "32G", "-c", "16K", "--backend"]
    out = {}
    for backend in ("rocm", "vulkan"):
        main([*argv, backend])
        out[backend] = json.loads(capsys.readouterr().out)
    rocm, vulkan = out["rocm"], out["vulkan"]
    kv = next(b["bytes"] for b in rocm["pool_usage"][1]["segments"] if b["kind"] == "kv_cache")
    assert rocm["pool_usage"][1]["name"] == "shared GPU memory" and kv > 0
    assert vulkan["system_ram_left_bytes"] - rocm["system_ram_left_bytes"] == kv
    words = {m["code"]: m["message"] for m in rocm["messages"]}
    assert "KV cache" in words[KV_SHARED] and "Vulkan" in words[KV_SHARED]
    assert KV_SHARED not in vulkan["reasons"]


def test_check_json_says_the_heap_rule_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "glm-4.7-flash:Q4_K_M", "--machine", "gmktec-evo-x2-128gb"]
    main([*argv, "--carve-out", "96G", "--os", "windows", "--json"])
    data = json.loads(capsys.readouterr().out)
    words = {m["code"]: m["message"] for m in data["messages"]}
    assert "PR #17110" in words[HEAPS] and "32 GiB" in words[HEAPS]


def test_bios_size_step_is_for_strix_halo_only(small: ModelSpec) -> None:
    steps = _steps(small, _state("hp-zbook-ultra-g1a-64gb", 512 * MiB))
    bios = steps[PlatformStepKind.BIOS_EXPLICIT_SIZE]
    assert bios.reboot and bios.get("carve_out_bytes") == 32 * GiB
    assert "not Auto" in platform_step_sentence(bios)
    for other in ("apple-m4-max-128gb", "nvidia-dgx-spark", "desktop-rtx-5090"):
        assert PlatformStepKind.BIOS_EXPLICIT_SIZE not in _steps(small, _state(other)), other


def test_ttm_lines_for_the_gtt_a_linux_plan_relies_on(small: ModelSpec) -> None:
    state = _state("strix-halo-128gb-linux", 512 * MiB)  # 124 GiB of GTT set
    ttm = _steps(small, state)[PlatformStepKind.TTM_PAGES_LIMIT]
    assert ttm.get("set") is True and not ttm.reboot
    pages = 124 * GiB // 4096
    assert f"ttm.pages_limit={pages}" in str(ttm.get("kernel_cmdline"))
    assert ttm.get("modprobe_line") == f"options ttm pages_limit={pages}"
    dkms = _steps(small, replace(state, ttm_module="amdttm"))[PlatformStepKind.TTM_PAGES_LIMIT]
    assert dkms.get("kernel_cmdline") == f"amdttm.pages_limit={pages}"
    assert dkms.get("modprobe_line") == f"options amdttm pages_limit={pages}"
    windows = _state("strix-halo-128gb-linux", 512 * MiB, os=OsName.WINDOWS)
    assert PlatformStepKind.TTM_PAGES_LIMIT not in _steps(small, windows)
    # No GTT set and the plan keeps the carve-out: nothing to set.
    plain = _state("framework-desktop-128gb", 64 * GiB, os=OsName.LINUX)
    assert PlatformStepKind.TTM_PAGES_LIMIT not in _steps(small, plain)


def test_ttm_step_from_the_gtt_route_needs_a_reboot() -> None:
    """A model the default GTT cannot hold at 512 MiB: the route's limit, applied by a reboot."""
    big = open_model("llama-3.3-70b:Q8_0")  # ~70 GiB: past the default GTT at 512 MiB
    state = _state("framework-desktop-128gb", 512 * MiB, os=OsName.LINUX)
    plan = build_plan(big, RuntimeSettings(ctx_size=16384), state, ctx_given=True)
    assert plan.reboot_needed and plan.gtt_route is not None
    ttm = {s.kind: s for s in plan.platform}[PlatformStepKind.TTM_PAGES_LIMIT]
    assert ttm.reboot and ttm.get("gtt_bytes") == plan.gtt_route.gtt_bytes
    assert "a reboot applies it" in platform_step_sentence(ttm)


def test_uma_carveout_sysfs_where_the_kernel_offers_it() -> None:
    dense = open_model("llama-3.3-70b:Q4_K_M")  # ~40 GiB: past the default GTT at 512 MiB
    path = "/sys/class/drm/card0/device/uma/carveout"
    state = _state("hp-zbook-ultra-g1a-64gb", 512 * MiB, os=OsName.LINUX)
    steps = _steps(dense, replace(state, uma_carveout_path=path))
    assert steps[PlatformStepKind.BIOS_EXPLICIT_SIZE].reboot
    uma = steps[PlatformStepKind.UMA_CARVEOUT_SYSFS]
    assert uma.reboot and uma.get("path") == path
    assert uma.get("options_path") == "/sys/class/drm/card0/device/uma/carveout_options"
    assert "next reboot" in platform_step_sentence(uma)
    assert PlatformStepKind.UMA_CARVEOUT_SYSFS not in _steps(dense, state)
    windows = replace(state, os=OsName.WINDOWS, uma_carveout_path=path, gtt_bytes=None)
    assert PlatformStepKind.UMA_CARVEOUT_SYSFS not in _steps(dense, windows)


def test_detect_reads_amdttm_and_the_uma_sysfs_file(tmp_path: Path) -> None:
    installed, carve = 128 * GiB, 512 * MiB
    card = amdgpu_card(carve, 124 * GiB)  # ttm.pages_limit=32505856
    card["uma/carveout"] = "0"
    card["uma/carveout_options"] = "0: Minimum (512 MB)"
    root = make_tree(
        tmp_path,
        installed=installed,
        carve=carve,
        cards=[card],
        params={"amdttm/parameters/pages_limit": str(32505856)},
    )
    d = detect_machine(sysroot=root)
    assert d.ttm_module == "amdttm" and d.ttm_pages_limit == 32505856
    assert d.uma_carveout_path == "/sys/class/drm/card0/device/uma/carveout"
    state = detected_machine_state(d)
    assert state.ttm_module == "amdttm" and state.uma_carveout_path == d.uma_carveout_path
    assert state.gtt_bytes == 124 * GiB


def test_wired_limit_step_only_when_the_working_set_stops_the_model() -> None:
    dense = open_model("llama-3.3-70b:Q5_K_M")  # ~47 GiB: over 48 GiB with its KV cache
    steps = _steps(dense, _state("apple-m1-max-64gb"))
    wired = steps[PlatformStepKind.WIRED_LIMIT]
    assert wired.get("wired_limit_mb") == (64 - 8) * 1024 and not wired.reboot
    assert "sudo sysctl iogpu.wired_limit_mb=57344" in platform_step_sentence(wired)
    assert PlatformStepKind.WIRED_LIMIT not in _steps(dense, _state("apple-m4-max-128gb"))
    set_already = _state("apple-m1-max-64gb", wired_limit_bytes=56 * GiB)
    assert PlatformStepKind.WIRED_LIMIT not in _steps(dense, set_already)


def test_dgx_spark_memory_not_supported_is_not_zero() -> None:
    """nvidia-smi on GB10 reports memory as "[N/A]" / "[Not Supported]" (DGX Spark known
    issues): that is no figure, not 0 GB."""
    for na in ("[N/A]", "[Not Supported]"):
        (gpu,) = parse_nvidia_smi(f"NVIDIA GB10, 0x2E1210DE, {na}, {na}\n")
        assert gpu.dedicated_bytes is None and gpu.unified


def test_plan_json_carries_the_steps_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "glm-4.7-flash:Q4_K_M", "--machine", "strix-halo-128gb-linux", "--json"]
    assert main(argv) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    kinds = {s["kind"]: s for s in data["platform_steps"]}
    assert kinds["ttm_pages_limit"]["modprobe_line"].startswith("options ttm pages_limit=")
    assert all(s["sentence"] for s in data["platform_steps"])
