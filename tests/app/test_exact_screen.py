"""Exact mode in the app: llama.cpp's own figures beside the instant estimate for the model on
screen (a catalog model: run on a sparse copy of its header)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static

from tests.app.conftest import main_screen, make_app, settle
from tests.support.waiting import wait_until
from vramtui.app.screens.exact import ExactScreen

pytest.importorskip("xllamacpp", reason="exact mode needs the optional xllamacpp package")


async def test_exact_mode_shows_llama_cpp_beside_the_instant_estimate() -> None:
    app = make_app(model="qwen3-32b:Q4_K_M")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        choice = main_screen(app).choice
        assert choice is not None and choice.spec is not None
        screen = ExactScreen(choice.spec, choice.settings)
        await app.push_screen(screen)
        table = screen.query_one("#exact-table", DataTable)
        await wait_until(pilot, lambda: table.row_count, "llama.cpp's dry run")
        assert table.row_count == 4  # model, context, compute, total
        model_row = table.get_row_at(0)
        assert model_row[0] == "model" and model_row[1] == model_row[2]  # equal to the MiB
        status = str(screen.query_one("#exact-status", Static).render())
        assert "llama.cpp" in status and "sparse copy of its header" in status
