"""The 2026-02-02 ZBook article's measurements as tests: every verdict it reports and
every speed whose inputs are known, within +-30 %. Windows, LM Studio, 64 GB Strix Halo."""

from __future__ import annotations

from pathlib import Path

import pytest

from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB, MiB
from vramtui.core.speed.predict import decode_seconds
from vramtui.core.vocab import Backend, OsName, Runtime

GLM4, GLM6 = "glm-4.7-flash:Q4_K_M", "glm-4.7-flash:Q6_K"
QVL4, QVL5, QVL6 = "qwen3-vl-32b:Q4_K_M", "qwen3-vl-32b:Q5_K_M", "qwen3-vl-32b:Q6_K"
C512, C32, C48 = 512 * MiB, 32 * GiB, 48 * GiB

# (model, ctx (0 = maximum), carve-out, backend, measured decode tok/s, tokens the answer made)
# -- DIGEST.md tables
ZBOOK_SPEEDS = [
    (GLM4, 16384, C512, "vulkan", 17.26, 6970),
    (GLM4, 16384, C32, "vulkan", 42.89, 6107),
    (GLM4, 16384, C512, "rocm", 15.28, 5262),
    (GLM4, 16384, C32, "rocm", 14.42, 6351),
    (GLM4, 0, C32, "vulkan", 37.28, 7857),
    (GLM6, 16384, C32, "rocm", 13.79, 6419),
    (GLM6, 16384, C32, "vulkan", 25.51, 5717),
    (QVL4, 16384, C512, "vulkan", 3.74, 4059),
    (QVL4, 24576, C512, "vulkan", 3.51, 3676),
    (QVL4, 16384, C512, "rocm", 4.15, 3723),
    (QVL4, 24576, C512, "rocm", 3.10, 3713),
]

_SPECS: dict[str, ModelSpec] = {}


def _spec(ref: str) -> ModelSpec:
    if ref not in _SPECS:
        spec = open_catalog_model(ref)
        assert spec is not None, ref
        _SPECS[ref] = spec
    return _SPECS[ref]


def zbook_fit(ref: str, ctx: int, carve: int, backend: str = "vulkan", **kw: object) -> FitResult:
    state = MachineState(
        machine=get_machine("hp-zbook-ultra-g1a-64gb"),
        carve_out_bytes=carve,
        os=OsName.WINDOWS,
        backend=Backend(backend),
        runtime=Runtime.LMSTUDIO,
    )
    return evaluate_fit(_spec(ref), RuntimeSettings(ctx_size=ctx, **kw), state)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", ZBOOK_SPEEDS)
def test_zbook_speed_within_30_percent(case: tuple[str, int, int, str, float, int]) -> None:
    """LM Studio's tok/s is the answer's average: decode at half the answer's length cached
    (the app's own figure takes a 2,048-token answer)."""
    ref, ctx, carve, backend, measured, made = case
    fit = zbook_fit(ref, ctx, carve, backend)
    assert fit.verdict != "will_not_fit"
    assert fit.speed.inputs is not None
    predicted = 1.0 / decode_seconds(fit.speed.inputs, made / 2)
    assert abs(predicted / measured - 1) <= 0.30, (predicted, measured)


def test_glm_16k_spills_at_512m_and_fits_at_32g() -> None:
    low = zbook_fit(GLM4, 16384, C512)
    assert low.verdict == "fits_with_warnings" and "spills_to_shared" in low.codes
    high = zbook_fit(GLM4, 16384, C32)
    assert high.verdict == "fits" and high.shared_used_bytes == 0
    assert high.speed.decode_tokens_per_second > 2 * low.speed.decode_tokens_per_second


def test_glm_max_context_will_not_load_at_512m_but_loads_at_32g() -> None:
    low = zbook_fit(GLM4, 0, C512)
    assert low.verdict == "will_not_fit" and "exceeds_gpu_memory" in low.codes
    high = zbook_fit(GLM4, 0, C32)
    assert high.verdict != "will_not_fit"


def test_qwen_vl_q4_spills_at_512m_16k_and_24k() -> None:
    for ctx in (16384, 24576):
        fit = zbook_fit(QVL4, ctx, C512)
        assert "spills_to_shared" in fit.codes and fit.verdict == "fits_with_warnings"
    # "24K context is the practical limit of a 32 GB budget (28 GB used)"
    used = zbook_fit(QVL4, 24576, C512).shared_used_bytes
    assert 26 * GiB < used < 31 * GiB


def test_qwen_vl_quants_at_32g() -> None:
    assert zbook_fit(QVL5, 16384, C32).verdict == "fits"  # the largest quant that fits cleanly
    q6 = zbook_fit(QVL6, 16384, C32)
    assert q6.verdict == "fits_with_warnings" and "spills_to_shared" in q6.codes
    q4 = zbook_fit(QVL4, 16384, C32)
    assert q6.speed.decode_tokens_per_second < q4.speed.decode_tokens_per_second


def test_48_plus_16_pitfall() -> None:
    # Fails even with keep-in-memory off and mmap off (the author tried both).
    fit = zbook_fit(QVL6, 16384, C48, mmap=False)
    state = MachineState(
        machine=get_machine("hp-zbook-ultra-g1a-64gb"),
        carve_out_bytes=C48,
        os=OsName.WINDOWS,
        runtime=Runtime.LMSTUDIO,
        keep_model_in_memory=False,
    )
    off = evaluate_fit(_spec(QVL6), RuntimeSettings(ctx_size=16384, mmap=False), state)
    for f in (fit, off):
        assert f.verdict == "will_not_fit" and "load_exceeds_system_ram" in f.codes
    # The same model at 48 GB fits on Linux, where loading is staged in small chunks.
    linux = MachineState(
        machine=get_machine("hp-zbook-ultra-g1a-64gb"),
        carve_out_bytes=C48,
        os=OsName.LINUX,
        keep_model_in_memory=False,
    )
    assert (
        "load_exceeds_system_ram"
        not in evaluate_fit(_spec(QVL6), RuntimeSettings(ctx_size=16384, mmap=False), linux).codes
    )


def test_sparse_gguf_file_gives_the_same_verdicts(tmp_path: Path) -> None:
    from vramtui.core.gguf.writer import write_sparse_gguf  # noqa: PLC0415
    from vramtui.core.model.source import open_model  # noqa: PLC0415

    path = write_sparse_gguf(tmp_path / "glm-4.7-flash-Q4_K_M.gguf", _spec(GLM4))
    spec = open_model(str(path), mmproj="none")
    state = MachineState(
        machine=get_machine("hp-zbook-ultra-g1a-64gb"),
        carve_out_bytes=C512,
        os=OsName.WINDOWS,
        runtime=Runtime.LMSTUDIO,
    )
    assert evaluate_fit(spec, RuntimeSettings(ctx_size=16384), state).codes[:1] == (
        "spills_to_shared",
    )
    assert evaluate_fit(spec, RuntimeSettings(ctx_size=0), state).verdict == "will_not_fit"


# The article's screenshot prompts (a short question and one screenshot): measured seconds to
# the first token, Qwen3-VL-32B Q4_K_M at a 512 MB carve-out -- DIGEST.md tables
ZBOOK_FIRST_TOKENS = [
    (16384, "vulkan", 36.67),
    (24576, "vulkan", 39.29),
    (16384, "rocm", 24.59),
    (24576, "rocm", 26.56),
]


@pytest.mark.parametrize(("ctx", "backend", "measured"), ZBOOK_FIRST_TOKENS)
def test_zbook_image_first_token_is_inside_its_range(
    ctx: int, backend: str, measured: float
) -> None:
    """ROCm's figure is about 4x short of the article's and no sourced term explains it: the
    range beside it must be wide enough to hold the measurement rather than a false number."""
    state = MachineState(
        machine=get_machine("hp-zbook-ultra-g1a-64gb"),
        carve_out_bytes=C512,
        os=OsName.WINDOWS,
        backend=backend,  # type: ignore[arg-type]
        runtime=Runtime.LMSTUDIO,
    )
    fit = evaluate_fit(_spec(QVL4), RuntimeSettings(ctx_size=ctx), state, prompt_tokens=40)
    span = fit.speed.image_range()
    assert span is not None and fit.speed.time_to_first_token_image_s is not None
    assert span[0] <= fit.speed.time_to_first_token_image_s <= span[1]
    assert span[0] <= measured <= span[1], (span, measured)
