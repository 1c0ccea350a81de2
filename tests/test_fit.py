"""Fit verdicts beyond the ZBook article: discrete offload, macOS, training context, JSON keys."""

from __future__ import annotations

from pathlib import Path

from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB


def _spec(ref: str) -> ModelSpec:
    spec = open_catalog_model(ref)
    assert spec is not None
    return spec


def test_discrete_gpu_offloads_layers_like_fit() -> None:
    spec = _spec("qwen3-32b:Q4_K_M")
    state = MachineState.default_for(get_machine("desktop-rtx-3090"))
    small = evaluate_fit(spec, RuntimeSettings(ctx_size=4096), state)
    assert small.verdict == "fits" and small.n_gpu_layers == small.breakdown.n_layers + 1
    big = evaluate_fit(spec, RuntimeSettings(ctx_size=32768), state)
    assert "partial_offload" in big.codes and big.verdict == "fits_with_warnings"
    assert 0 < big.n_gpu_layers < big.breakdown.n_layers + 1
    assert big.dedicated_used_bytes <= 23 * GiB
    assert big.speed.decode_tokens_per_second < small.speed.decode_tokens_per_second


def test_macos_working_set_exceeded() -> None:
    spec = _spec("qwen3-32b:Q4_K_M")
    m16 = MachineState.default_for(get_machine("apple-m4-16gb"))
    fit = evaluate_fit(spec, RuntimeSettings(ctx_size=4096), m16)
    assert fit.verdict == "will_not_fit" and "exceeds_gpu_memory" in fit.codes
    m128 = MachineState.default_for(get_machine("apple-m4-max-128gb"))
    assert evaluate_fit(spec, RuntimeSettings(ctx_size=4096), m128).verdict in {"fits"}


def test_context_beyond_training_warns() -> None:
    spec = _spec("qwen3-32b:Q4_K_M")
    state = MachineState.default_for(get_machine("nvidia-dgx-spark"))
    fit = evaluate_fit(spec, RuntimeSettings(ctx_size=65536), state)
    assert "context_exceeds_training" in fit.codes


def test_a_starved_os_is_caught_by_the_load_check() -> None:
    """An OS that needs more than the model leaves it does not get a load that passes."""
    spec = _spec("qwen3-vl-32b:Q6_K")
    state = MachineState(
        machine=get_machine("hp-zbook-ultra-g1a-64gb"),
        carve_out_bytes=32 * GiB,
        os="windows",
        runtime="lmstudio",
        os_baseline_bytes=28 * GiB,
    )
    fit = evaluate_fit(spec, RuntimeSettings(ctx_size=16384), state)
    assert "load_exceeds_system_ram" in fit.codes and not fit.runs


def test_json_keys_and_pool_bars_add_up() -> None:
    spec = _spec("glm-4.7-flash:Q4_K_M")
    state = MachineState(
        machine=get_machine("hp-zbook-ultra-g1a-64gb"), carve_out_bytes=512 << 20, os="windows"
    )
    fit = evaluate_fit(spec, RuntimeSettings(ctx_size=16384), state)
    data = fit.to_json()
    for key in (
        "verdict",
        "reasons",
        "dedicated_used_bytes",
        "shared_used_bytes",
        "system_ram_left_bytes",
        "decode_tokens_per_second",
    ):
        assert key in data
    shared = next(p for p in fit.pool_usage if p.name == "shared GPU memory")
    desktop = sum(s.n_bytes for s in shared.segments if s.kind == "os")
    assert desktop == (1 << 30) - (512 << 20)  # what the 512 MiB carve-out cannot hold of it
    assert shared.used_bytes - desktop == fit.shared_used_bytes
    assert fit.dedicated_used_bytes + fit.shared_used_bytes == fit.breakdown.device_bytes
    ram = next(p for p in fit.pool_usage if p.name == "system RAM")
    taken = sum(s.n_bytes for s in ram.segments if s.kind in ("host", "gpu"))
    assert ram.capacity_bytes - taken == fit.system_ram_left_bytes  # the OS's own share is left


def test_llamacpp_fa_auto_stays_on_for_gqa_on_vulkan() -> None:
    spec = _spec("qwen3-32b:Q4_K_M")
    state = MachineState.default_for(get_machine("framework-desktop-128gb"))
    fit = evaluate_fit(spec, RuntimeSettings(ctx_size=16384), state)
    assert fit.breakdown.flash_attn
    lms_state = MachineState.default_for(get_machine("framework-desktop-128gb"), runtime="lmstudio")
    lms = evaluate_fit(spec, RuntimeSettings(ctx_size=16384), lms_state)
    assert not lms.breakdown.flash_attn


def test_unknown_architecture_file_is_marked_approximate(tmp_path: Path) -> None:
    """A real file of an architecture vramtui does not know still gets a verdict, flagged as
    estimated by the generic rules; a known architecture is not flagged."""
    from tests.support.gguf_files import llama_metadata, llama_tensors, write_gguf  # noqa: PLC0415
    from vramtui.core.gguf.files import open_local_model  # noqa: PLC0415

    state = MachineState.default_for(get_machine("desktop-rtx-4090"))
    odd = open_local_model(
        str(
            write_gguf(
                tmp_path / "odd.gguf", "frobnicator", llama_metadata("frobnicator"), llama_tensors()
            )
        )
    )
    known = open_local_model(
        str(write_gguf(tmp_path / "known.gguf", "llama", llama_metadata("llama"), llama_tensors()))
    )
    odd_fit = evaluate_fit(odd, RuntimeSettings(ctx_size=4096), state)
    assert odd_fit.verdict == "fits"
    assert "approximate_estimate" in [r.code for r in odd_fit.reasons]
    assert "approximate_estimate" not in [
        r.code for r in evaluate_fit(known, RuntimeSettings(ctx_size=4096), state).reasons
    ]
