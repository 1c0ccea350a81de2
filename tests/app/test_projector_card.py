"""The model card names the projector with the figure `check` and the pool bars use."""

from __future__ import annotations

from vramtui.app.screens.main import ModelCard
from vramtui.core.estimate.memory import projector_size
from vramtui.core.sizes import format_bytes

from .conftest import main_screen, make_app, settle


async def test_model_card_shows_the_loaded_projector() -> None:
    app = make_app(model="qwen3-vl-32b:Q6_K", carve_out="32G")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        spec = screen.choice.spec if screen.choice is not None else None
        assert spec is not None and spec.mmproj is not None
        loaded = projector_size(spec.mmproj).loaded_bytes
        card = str(screen.query_one(ModelCard).render())
        assert f"+ {format_bytes(loaded)} projector" in card
        assert format_bytes(loaded) == "1.5 GiB"
        fit = screen.evaluation.fit if screen.evaluation is not None else None
        assert fit is not None
        shown = sum(s.n_bytes for p in fit.pool_usage for s in p.segments if s.kind == "projector")
        assert shown == loaded
