"""Speed model properties: what each term charges, where constants come from, image prompts."""

from __future__ import annotations

import pytest

from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.errors import PresetError
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine, parse_machine
from vramtui.core.speed.constants import (
    constants_for,
    constants_key,
    key_chain,
    resolve,
)
from vramtui.core.speed.constants_fitted import FITTED
from vramtui.core.speed.features import decode_terms
from vramtui.core.speed.predict import (
    decode_seconds,
    image_tokens,
    prefill_seconds,
)
from vramtui.core.speed.profile import VisionProfile, model_profile


def _spec(ref: str) -> ModelSpec:
    spec = open_catalog_model(ref)
    assert spec is not None
    return spec


def _fit(ref: str, machine: str, ctx: int = 16384, **state: object) -> FitResult:
    st = MachineState.default_for(get_machine(machine), **state)
    return evaluate_fit(_spec(ref), RuntimeSettings(ctx_size=ctx), st)


def test_more_bandwidth_is_faster() -> None:
    slow = _fit("qwen3-32b:Q4_K_M", "apple-m4-pro-48gb")
    fast = _fit("qwen3-32b:Q4_K_M", "apple-m4-max-128gb")
    assert fast.speed.decode_tokens_per_second > 1.5 * slow.speed.decode_tokens_per_second
    assert fast.speed.time_to_first_token_s > 0 and fast.speed.prefill_tokens_per_second > 0


def test_calibration_factor_scales_decode_only() -> None:
    spec = _spec("qwen3-32b:Q4_K_M")
    state = MachineState.default_for(get_machine("framework-desktop-128gb"))
    raw = evaluate_fit(spec, RuntimeSettings(ctx_size=16384), state)
    cal = evaluate_fit(spec, RuntimeSettings(ctx_size=16384), state, calibration=0.5)
    assert cal.speed.calibrated and not raw.speed.calibrated
    assert cal.speed.decode_tokens_per_second == pytest.approx(
        raw.speed.decode_tokens_per_second * 0.5
    )
    assert cal.speed.prefill_tokens_per_second == raw.speed.prefill_tokens_per_second
    assert "x0.50 from probe history" in cal.speed.basis


def test_discrete_gpu_does_not_charge_the_host_embedding_table() -> None:
    """All layers on an RTX 5090: the token_embd table stays on the host (llama.cpp keeps the
    input layer on the CPU) but a token reads one row of it, not the whole table."""
    fit = _fit("llama-3.1-8b:Q4_K_M", "desktop-rtx-5090", ctx=4096)
    inp = fit.speed.inputs
    assert inp is not None
    assert fit.breakdown.host_bytes > 250 << 20  # the 128K-row embedding table is on the host
    assert inp.n_host_layers == 0 and inp.output_on_device
    assert "cpu" not in decode_terms(inp, 1024)
    # bandwidth-bound: within 2x of the card's theoretical 1792 GB/s over the bytes read
    ideal = 1792e9 / (model_profile(_spec("llama-3.1-8b:Q4_K_M")).layer_bytes + 0.3e9)
    assert ideal / 2 < fit.speed.decode_tokens_per_second < ideal


def test_partial_offload_charges_the_cpu_layers() -> None:
    full = _fit("llama-3.3-70b:Q4_K_M", "desktop-rtx-5090", ctx=4096)
    inp = full.speed.inputs
    assert inp is not None and inp.n_host_layers > 0
    terms = decode_terms(inp, 1024)
    assert terms["cpu"] > terms["w"]  # most of a 40 GB model sits in system RAM
    assert full.speed.decode_tokens_per_second < 5


def test_windows_lm_studio_pays_more_per_token_than_linux_llamacpp() -> None:
    """Windows constants are shrunk towards Linux ones (bench/speed_rows.py SHRINK), so how the
    ZBook article's slowdown splits between bandwidth and launches is loosely fixed; that a
    token costs more under Windows is what its rows show. Priced on GLM 4.7 Flash Q4_K_M's
    ideal decode terms with everything in a 32 GB carve-out (8.7 ms of weights at the carve-out's
    bandwidth, 47 layers of 13 matrices); ROCm under Windows keeps the KV cache in shared memory
    (core/fit/platform.py), so each of its layers pays `shlayer` too."""
    ideal = {"w": 0.0087, "launch": 47 * 13}

    def cost(c: dict[str, float], kv_shared: bool = False) -> float:
        return sum(c[k] * v for k, v in ideal.items()) + (47 * c["shlayer"] if kv_shared else 0)

    linux = constants_for(constants_key("rocm", "linux", "strix_halo"))
    windows = constants_for(constants_key("rocm", "windows", "strix_halo"))
    assert cost(windows, kv_shared=True) > cost(linux)
    vulkan_linux = constants_for(constants_key("vulkan", "linux", "strix_halo"))
    vulkan_windows = constants_for(constants_key("vulkan", "windows", "strix_halo"))
    assert cost(vulkan_windows) > cost(vulkan_linux)


def test_same_model_same_machine_windows_vs_linux() -> None:
    """The ZBook article's GLM on the 128 GB box: Linux llama.cpp (RADV, GTT) is faster than Windows
    LM Studio with everything in the carve-out, which is faster than a spill to shared memory."""
    linux = _fit("glm-4.7-flash:Q4_K_M", "strix-halo-128gb-linux", gtt_bytes=124 << 30)
    win = _fit(
        "glm-4.7-flash:Q4_K_M",
        "framework-desktop-128gb",
        os="windows",
        runtime="lmstudio",
        carve_out_bytes=64 << 30,
    )
    spill = _fit(
        "glm-4.7-flash:Q4_K_M",
        "framework-desktop-128gb",
        os="windows",
        runtime="lmstudio",
        carve_out_bytes=512 << 20,
    )
    assert linux.speed.inputs is not None and linux.speed.inputs.weights_shared == 0
    assert spill.speed.inputs is not None and spill.speed.inputs.weights_shared == 1
    lin, w, sp = (f.speed.decode_tokens_per_second for f in (linux, win, spill))
    assert lin > w > 1.8 * sp


def test_bf16_experts_on_vulkan_cost_more_than_their_bytes() -> None:
    """RADV reports no bf16 (kyuz0 logs: "bf16: 0"): GLM 4.7 Flash BF16 decodes far slower than
    its bytes say, unlike on ROCm."""
    q8 = _fit("glm-4.7-flash:Q8_0", "strix-halo-128gb-linux", ctx=4096)
    bf16 = _fit("glm-4.7-flash:BF16", "strix-halo-128gb-linux", ctx=4096)
    rocm_q8 = _fit("glm-4.7-flash:Q8_0", "strix-halo-128gb-linux", ctx=4096, backend="rocm")
    rocm_bf16 = _fit("glm-4.7-flash:BF16", "strix-halo-128gb-linux", ctx=4096, backend="rocm")
    vulkan_ratio = q8.speed.decode_tokens_per_second / bf16.speed.decode_tokens_per_second
    rocm_ratio = rocm_q8.speed.decode_tokens_per_second / rocm_bf16.speed.decode_tokens_per_second
    assert vulkan_ratio > 2.5 and rocm_ratio < 2.0


def test_deeper_context_is_slower_for_decode_and_prefill() -> None:
    fit = _fit("gpt-oss-20b:MXFP4", "nvidia-dgx-spark", ctx=65536)
    inp = fit.speed.inputs
    assert inp is not None
    assert decode_seconds(inp, 32768) > 1.2 * decode_seconds(inp, 0)
    assert prefill_seconds(inp, 2048, 32768) > 1.5 * prefill_seconds(inp, 2048, 0)


def test_moe_reads_only_routed_experts() -> None:
    moe = model_profile(_spec("qwen3-30b-a3b:Q8_0"))
    dense = model_profile(_spec("qwen3-32b:Q8_0"))
    assert moe.layer_bytes < dense.layer_bytes / 5
    assert moe.is_moe and not dense.is_moe


def test_image_tokens_follow_patch_and_merge() -> None:
    vl = model_profile(_spec("qwen3-vl-32b:Q4_K_M")).vision
    assert vl is not None and vl.dynamic and vl.patch_size * vl.merge == 32
    assert image_tokens(vl, 1920, 1080) == 60 * 34  # 32-pixel cells, rounded
    assert image_tokens(vl, 2880, 1800) == 4000  # scaled into the 4096-token limit
    assert image_tokens(vl, 16, 16) >= 8  # and up to the 8-token floor
    fixed = VisionProfile(
        params=400_000_000,
        n_layer=27,
        n_embd=1152,
        patch_size=14,
        merge=4,
        image_size=896,
        dynamic=False,
    )
    assert image_tokens(fixed, 1920, 1080) == image_tokens(fixed, 100, 100) == 256


def test_image_prompt_adds_encoder_and_image_tokens() -> None:
    fit = _fit("qwen3-vl-32b:Q4_K_M", "strix-halo-128gb-linux")
    sp = fit.speed
    assert sp.image_tokens == 2040
    assert sp.time_to_first_token_image_s is not None
    assert sp.time_to_first_token_image_s > 2 * sp.time_to_first_token_s
    assert sp.to_json()["image_tokens"] == 2040
    text_only = _fit("qwen3-32b:Q4_K_M", "strix-halo-128gb-linux").speed
    assert text_only.time_to_first_token_image_s is None
    assert "image_tokens" not in text_only.to_json()


def test_constant_lookup_borrows_from_relatives() -> None:
    assert key_chain("vulkan/windows/strix_halo")[:3] == (
        "vulkan/windows/strix_halo",
        "vulkan/windows/discrete_gpu",
        "vulkan/windows/dgx_spark",
    )
    chain = key_chain("vulkan/windows/strix_halo")
    assert chain.index("vulkan.amdvlk/linux/strix_halo") < chain.index(
        "vulkan.radv/linux/strix_halo"
    )
    assert "cuda/linux/discrete_gpu" in key_chain("cuda/windows/discrete_gpu")
    # a Windows key has no prefill rows of its own: it prices prefill like AMDVLK
    amdvlk = FITTED["p.q@vulkan.amdvlk/linux/strix_halo"]
    assert resolve(FITTED, {}, "p.q", "vulkan/windows/strix_halo") == amdvlk
    # MXFP4 falls back to the other block quants where no row measured it
    assert resolve(FITTED, {}, "p.mx", "metal/macos/apple") == FITTED["p.q@metal/macos/apple"]
    assert constants_key("vulkan", "linux", "strix_halo") == "vulkan.radv/linux/strix_halo"
    assert constants_key("vulkan", "linux", "strix_halo", "amdvlk").startswith("vulkan.amdvlk")
    assert constants_key("cuda", "linux", "weird") == "cuda/linux/other"


def test_every_machine_preset_gives_a_finite_speed() -> None:
    for machine in ("apple-m4-16gb", "desktop-rtx-3060", "apple-m5-max-128gb", "strix-halo-32gb"):
        fit = _fit("llama-3.1-8b:Q4_K_M", machine, ctx=4096)
        sp = fit.speed
        assert 1 < sp.decode_tokens_per_second < 1000, machine
        assert 10 < sp.prefill_tokens_per_second < 50000, machine


def test_cpu_backend_is_priced_on_the_cpu() -> None:
    gpu = _fit("llama-3.1-8b:Q4_K_M", "strix-halo-128gb-linux", ctx=4096)
    cpu = _fit("llama-3.1-8b:Q4_K_M", "strix-halo-128gb-linux", ctx=4096, backend="cpu")
    assert cpu.speed.inputs is not None and cpu.speed.inputs.n_dev_layers == 0
    assert cpu.speed.decode_tokens_per_second < gpu.speed.decode_tokens_per_second
    assert cpu.speed.prefill_tokens_per_second < gpu.speed.prefill_tokens_per_second / 5


def test_preset_speed_fields_are_optional_and_checked() -> None:
    base = {
        "id": "x",
        "name": "x",
        "kind": "other",
        "total_ram_gib": 16,
        "bandwidth_gbps": 100,
        "fp16_tflops": 10,
        "default_os": "linux",
        "default_backend": "vulkan",
        "unified_memory": True,
        "sources": ["test"],
    }
    m = parse_machine(base, "x.toml")
    assert m.int8_tops is None and m.shared_bandwidth_gbps is None and m.default_gtt_bytes is None
    m = parse_machine({**base, "int8_tops": 20, "default_gtt_gib": 12}, "x.toml")
    assert m.int8_tops == 20 and m.default_gtt_bytes == 12 << 30
    with pytest.raises(PresetError, match="int8_tops"):
        parse_machine({**base, "int8_tops": -1}, "x.toml")
    with pytest.raises(PresetError, match="shared_bandwidth_gbps"):
        parse_machine({**base, "shared_bandwidth_gbps": "fast"}, "x.toml")


def test_linux_strix_preset_states_its_gtt() -> None:
    m = get_machine("strix-halo-128gb-linux")
    assert m.default_os == "linux" and m.default_carve_out_bytes == 512 << 20
    assert m.default_gtt_bytes == 124 << 30  # kyuz0: ttm.pages_limit=32505856
