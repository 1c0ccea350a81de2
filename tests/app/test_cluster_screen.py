"""The cluster view in the app: the model on screen over two machines, per-node figures and
the commands; a mistyped node is one line, not a crash."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static

from tests.app.conftest import main_screen, make_app, settle
from vramtui.app.screens.cluster import ClusterScreen


async def test_cluster_view_splits_the_model_on_screen() -> None:
    app = make_app(model="qwen3-32b:Q4_K_M", machine="framework-desktop-128gb")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        choice = main_screen(app).choice
        assert choice is not None and choice.spec is not None
        screen = ClusterScreen(choice.spec, choice.settings, choice.machine)
        await app.push_screen(screen)
        await settle(pilot)
        table = screen.query_one("#cluster-table", DataTable)
        assert table.row_count == 2
        text = str(screen.query_one("#cluster-summary", Static).render())
        assert "llama-server" in text and "--rpc" in text and "rpc-server" in text
        nodes = screen.query_one("#cluster-nodes", Input)
        nodes.value = "no-such-machine, framework-desktop-128gb"
        nodes.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert table.row_count == 0
        assert "no-such-machine" in str(screen.query_one("#cluster-summary", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ClusterScreen)
