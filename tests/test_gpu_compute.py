"""GPU-backend compute buffers held against real llama.cpp logs: device and host
compute within 10 % of what llama.cpp allocated on Vulkan (Strix Halo, RTX 4080)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.vocab import BufferKind, Place

LOGS: list[dict[str, Any]] = tomllib.loads(
    (Path(__file__).parent / "data" / "gpu_compute_logs.toml").read_text(encoding="utf-8")
)["log"]
MIB = 1 << 20


@pytest.mark.parametrize("log", LOGS, ids=[log["id"] for log in LOGS])
def test_gpu_compute_within_10_percent_of_real_logs(log: dict[str, Any]) -> None:
    spec = open_catalog_model(log["model"])
    assert spec is not None
    settings = RuntimeSettings(
        ctx_size=log["ctx"], ubatch_size=log["ubatch"], flash_attn=log["flash_attn"]
    )
    bd = estimate_memory(spec, settings, backend="gpu")
    device = bd.total(Place.DEVICE, BufferKind.COMPUTE) / MIB
    host = bd.total(Place.HOST, BufferKind.COMPUTE) / MIB
    assert abs(device / log["device_compute_mib"] - 1) <= 0.10, (device, log)
    assert abs(host / log["host_compute_mib"] - 1) <= 0.10, (host, log)


def _est(model: str, backend: str) -> Any:
    spec = open_catalog_model(model)
    assert spec is not None
    return estimate_memory(spec, RuntimeSettings(ctx_size=16384), backend=backend)


def test_metal_device_compute_is_a_range_around_the_vulkan_figure() -> None:
    vulkan, metal = _est("qwen3-32b:Q4_K_M", "vulkan"), _est("qwen3-32b:Q4_K_M", "metal")
    n = vulkan.total(Place.DEVICE, BufferKind.COMPUTE)
    assert metal.total(Place.DEVICE, BufferKind.COMPUTE) == n
    assert vulkan.total_range(Place.DEVICE, BufferKind.COMPUTE) == (n, n)
    low, high = metal.total_range(Place.DEVICE, BufferKind.COMPUTE)
    assert low < n < high
    assert metal.to_json()["compute_device_bytes_range"] == [low, high]
    assert "compute_device_bytes_range" not in vulkan.to_json()


def test_hybrid_host_compute_on_vulkan_reaches_twice_the_figure() -> None:
    vulkan = _est("qwen3-next-80b-a3b:Q4_K_M", "vulkan")
    cuda = _est("qwen3-next-80b-a3b:Q4_K_M", "cuda")
    n = vulkan.total(Place.HOST, BufferKind.COMPUTE)
    assert n == cuda.total(Place.HOST, BufferKind.COMPUTE)
    assert vulkan.total_range(Place.HOST, BufferKind.COMPUTE)[1] == 2 * n
    assert cuda.total_range(Place.HOST, BufferKind.COMPUTE)[1] < 2 * n
    assert vulkan.to_json()["compute_host_bytes_range"] == [n, 2 * n]


def test_host_compute_range_on_every_gpu_holds_the_real_logs_figure() -> None:
    for log in LOGS:
        spec = open_catalog_model(log["model"])
        assert spec is not None
        s = RuntimeSettings(ctx_size=log["ctx"], ubatch_size=log["ubatch"], flash_attn="on")
        low, high = estimate_memory(spec, s, backend="vulkan").total_range(
            Place.HOST, BufferKind.COMPUTE
        )
        assert low / MIB <= log["host_compute_mib"] + 1 and high > low


def test_projector_without_flash_attention_is_a_range_up_to_the_kq_matrix() -> None:
    """The figure is the warm-up with flash attention; with it off, llama-server's warm-up
    builds the KQ matrix of the 1472 px image (4,769 MiB measured for this projector)."""
    spec = open_catalog_model("qwen3-vl-32b:Q4_K_M")
    assert spec is not None
    on = estimate_memory(spec, RuntimeSettings(ctx_size=8192, flash_attn="on"))
    off = estimate_memory(spec, RuntimeSettings(ctx_size=8192, flash_attn="off"))
    n = on.total(kind=BufferKind.PROJECTOR)
    assert off.total(kind=BufferKind.PROJECTOR) == n
    assert "mmproj_bytes_range" not in on.to_json()
    low, high = off.to_json()["mmproj_bytes_range"]
    assert low == n and high - n == 4 * (1472 // 16) ** 4 * 16
