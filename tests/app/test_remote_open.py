"""Opening a remote model from the app: the header is read in a worker over HTTP ranges from a
real loopback server, the model card shows how much of the header has arrived, and the fit
follows once it is read. A model that cannot be opened says why once and leaves nothing
saying it is still at work."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from tests.support.gguf_files import write_test_gguf
from tests.support.http_server import serve
from vramtui.app.screens.main import MainScreen, ModelCard
from vramtui.app.widgets.chart import ContextChart
from vramtui.app.widgets.compare import CarveOutComparison

from .conftest import main_screen, make_app, settle


async def test_a_remote_model_opens_in_a_worker_with_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gguf = write_test_gguf(tmp_path / "remote-model.gguf", n_vocab=60_000)
    seen: list[tuple[int, int]] = []
    original = MainScreen._header_progress

    def record(self: MainScreen, done: int, total: int) -> None:
        seen.append((done, total))
        original(self, done, total)

    monkeypatch.setattr(MainScreen, "_header_progress", record)
    with serve() as server:
        url = server.add_file("/remote-model.gguf", gguf)
        app = make_app(model=url)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            card = screen.query_one(ModelCard)
            assert card.loading_ref == ""  # finished reading
            assert screen.choice is not None and screen.choice.spec is not None
            assert screen.choice.spec.source.endswith("/remote-model.gguf")
            assert screen.evaluation is not None and screen.evaluation.fit is not None
    assert seen, "no progress was reported while the header arrived"
    done, total = seen[-1]
    assert total == gguf.stat().st_size
    assert 0 < done < total  # only the header was read, not the file


def shown(screen: MainScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_a_model_that_fails_to_open_leaves_nothing_busy_and_says_why_once() -> None:
    with serve() as server:
        url = server.url("/missing.gguf")  # not served: HTTP 404
        app = make_app(model=url)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            comparison = screen.query_one(CarveOutComparison)
            chart = screen.query_one(ContextChart)

            def nothing_busy() -> None:
                assert screen.query_one(ModelCard).loading_ref == ""
                assert "updating" not in shown(screen, "#compare-title")
                assert "updating" not in shown(screen, "#chart-title")
                assert shown(screen, "#recommendation") == ""
                assert not comparison.has_class("-stale") and not chart.has_class("-stale")
                assert str(chart.render()) == ""
                banner = shown(screen, "#verdict")
                assert "not found" in banner and "press m to pick a model" in banner

            nothing_busy()
            # Said once: in the banner (nothing else to show), not again in a notification.
            assert not [n for n in app._notifications if "missing.gguf" in n.message]
            # A setting changed afterwards keeps the reason, not "loading the model…".
            await pilot.press("plus")
            await settle(pilot)
            nothing_busy()


async def test_a_failed_open_over_a_model_is_one_notification() -> None:
    with serve() as server:
        url = server.url("/missing.gguf")
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            screen.open_model(url)
            await settle(pilot)
            about = [n for n in app._notifications if "missing.gguf" in n.message]
            assert len(about) == 1
            assert screen.evaluation is not None and screen.evaluation.fit is not None
            assert "updating" not in shown(screen, "#compare-title")
            assert screen.query_one(ContextChart).data is not None
