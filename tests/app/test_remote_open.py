"""Opening a remote model from the app: the header is read in a worker over HTTP ranges from a
real loopback server, the model card shows how much of the header has arrived, and the fit
follows once it is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.gguf_files import write_test_gguf
from tests.support.http_server import serve
from vramtui.app.screens.main import MainScreen, ModelCard

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
