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
