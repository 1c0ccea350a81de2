"""`recommend`: the carve-out the ZBook article settled on, and the Linux GTT alternative."""

from __future__ import annotations

from vramtui.core.advice.recommend import recommend
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB


def test_zbook_machine_recommends_32g_for_glm_and_qwen_vl() -> None:
    state = MachineState.default_for(get_machine("hp-zbook-ultra-g1a-64gb"), runtime="lmstudio")
    for ref in ("glm-4.7-flash:Q4_K_M", "qwen3-vl-32b:Q4_K_M"):
        spec = open_catalog_model(ref)
        assert spec is not None
        rec = recommend(spec, RuntimeSettings(ctx_size=16384), state)
        assert rec.recommended_index is not None
        row = rec.rows[rec.recommended_index]
        assert row.carve_out_bytes == 32 * GiB, ref
        assert row.max_clean_context >= 16384 and row.max_clean_context % 256 == 0
        top = next(r for r in rec.rows if r.carve_out_bytes == 48 * GiB)
        assert top.fit.verdict == "will_not_fit"


def test_max_clean_context_is_the_boundary() -> None:
    from vramtui.core.fit.fit import evaluate_fit  # noqa: PLC0415

    spec = open_catalog_model("qwen3-vl-32b:Q4_K_M")
    assert spec is not None
    state = MachineState(
        machine=get_machine("hp-zbook-ultra-g1a-64gb"),
        carve_out_bytes=32 * GiB,
        os="windows",
        runtime="lmstudio",
    )
    rec = recommend(spec, RuntimeSettings(ctx_size=16384), state)
    best = next(r for r in rec.rows if r.carve_out_bytes == 32 * GiB).max_clean_context
    s = RuntimeSettings()
    assert evaluate_fit(spec, s.with_changes(ctx_size=best), state).verdict == "fits"
    assert evaluate_fit(spec, s.with_changes(ctx_size=best + 256), state).verdict != "fits"


def test_linux_gtt_alternative_line() -> None:
    spec = open_catalog_model("qwen3-vl-32b:Q4_K_M")
    assert spec is not None
    state = MachineState.default_for(get_machine("framework-desktop-128gb"))
    rec = recommend(spec, RuntimeSettings(ctx_size=16384), state)
    alt = rec.linux_gtt_alternative
    assert alt is not None and alt.carve_out_bytes == 512 << 20
    assert (
        alt.kernel_params
        == f"ttm.pages_limit={alt.gtt_bytes // 4096} amdgpu.gttsize={alt.gtt_bytes >> 20}"
    )
    assert alt.fit.verdict == "fits"
    windows = MachineState.default_for(get_machine("framework-desktop-128gb"), os="windows")
    assert recommend(spec, RuntimeSettings(ctx_size=16384), windows).linux_gtt_alternative is None
