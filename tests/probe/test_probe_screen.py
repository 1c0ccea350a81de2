"""The probe screen with Pilot, against the real llama.cpp server (and doubles for errors)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

import pytest
from textual.app import App
from textual.widgets import DataTable, OptionList, Static
from textual.worker import WorkerState

from tests.support.probe_doubles import Conn, Double, Request, free_port, openai_double, serve
from tests.support.tiny_llama import LlamaServer
from tests.support.waiting import PATIENT_PROBE, notifications, wait_until
from vramtui.app.screens.probe import ProbeScreen
from vramtui.core.probe.calibration import refusal
from vramtui.core.probe.history import history_path, load_history
from vramtui.core.probe.results import Prediction, ProbeResult
from vramtui.present.probe_words import calibration_line

pytestmark = pytest.mark.server

T = PATIENT_PROBE


class Host(App[None]):
    """A bare app that only pushes the screen under test (no dependency on the real app)."""

    def __init__(self, screen: ProbeScreen) -> None:
        super().__init__()
        self.probe = screen
        self.dismissed: list[ProbeResult | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.probe, callback=self.dismissed.append)


def _cells(table: DataTable[object]) -> dict[str, list[str]]:
    rows = {}
    for key in table.rows:
        row = [str(c) for c in table.get_row(key)]
        rows[row[0]] = row[1:]
    return rows


async def test_streams_and_shows_result_beside_prediction(llama_server: LlamaServer) -> None:
    prediction = Prediction(decode_tps=100.0, ttft_s=0.5, device_bytes=None, label="tiny on cpu")
    screen = ProbeScreen(
        llama_server.url,
        "llamacpp",
        prediction=prediction,
        max_tokens=48,
        timeouts=T,
        history={"machine": "test-box", "backend": "cpu"},
    )
    app = Host(screen)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: screen.result is not None)
        await pilot.pause()
        result = screen.result
        assert result is not None and result.tokens_generated == 48
        # Every streamed piece reached the screen (control characters shown as dots).
        assert len(screen.streamed) == len(result.text) > 0
        assert screen.streamed_tokens == 48
        cells = _cells(screen.query_one("#probe-table", DataTable))
        measured, predicted, ratio = cells["decode"]
        assert measured == f"{result.decode_tokens_per_second:,.1f} tok/s"
        assert predicted == "100.0 tok/s"
        assert ratio == f"{result.decode_tokens_per_second / 100.0:.2f}x"
        assert cells["tokens generated"][0] == "48"
        # Whether this run calibrates later predictions is said under the result, and it is
        # the sentence the command line prints for the same record.
        (kept,) = load_history()
        words = calibration_line(refusal(kept), result.conditions, kept.decode_ratio)
        assert words in str(screen.query_one("#probe-note", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.dismissed == [result]
    (record,) = load_history()
    assert record.machine == "test-box" and record.backend == "cpu"
    assert record.predicted_decode_tps == 100.0
    assert record.measured_decode_tps == pytest.approx(result.decode_tokens_per_second)


class _SlowReader(ProbeScreen):
    """Reads the stream slowly (5 ms a piece, so 1800 tokens take 9 s or more), so the stream
    is surely mid-way when Esc arrives, however fast the server."""

    def _on_text(self, text: str) -> None:
        super()._on_text(text)
        time.sleep(0.005)


async def test_escape_cancels_mid_stream(
    llama_server: LlamaServer, slot_idle: Callable[[], Awaitable[bool]]
) -> None:
    screen = _SlowReader(llama_server.url, "llamacpp", max_tokens=1800, timeouts=T)
    app = Host(screen)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: screen.streamed_tokens >= 2)  # it is streaming
        worker = screen._probe
        assert worker is not None and worker.state == WorkerState.RUNNING
        await pilot.press("escape")
        await pilot.pause()
        assert worker.is_cancelled
        assert app.dismissed == [None]  # no complete result
        assert app.screen is not screen
        await wait_until(pilot, lambda: worker.state == WorkerState.CANCELLED)
        assert screen.result is None and screen.streamed_tokens < 1800
        # The stream closed at once: the server let go of the slot.
        assert await slot_idle()
    # The cancelled run is not kept in the history.
    assert load_history() == []


async def test_picks_a_detected_model(llama_server: LlamaServer) -> None:
    port = int(llama_server.url.rsplit(":", 1)[1])
    screen = ProbeScreen(ports={"llamacpp": port}, max_tokens=8, timeouts=T, save_history=False)
    app = Host(screen)
    async with app.run_test(size=(120, 36)) as pilot:
        options = screen.query_one("#probe-servers", OptionList)
        await wait_until(pilot, lambda: options.option_count >= 2)
        assert "llamacpp" in str(options.get_option_at_index(0).prompt)
        assert str(llama_server.model_path) in str(options.get_option_at_index(1).prompt)
        assert screen.result is None  # nothing runs before a choice
        options.focus()
        options.highlighted = 1
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.result is not None)
        assert screen.result is not None and screen.result.tokens_generated == 8
    assert load_history() == []


async def test_errors_become_notifications() -> None:
    def handler(req: Request, conn: Conn) -> None:
        conn.head(200, "text/event-stream")
        conn.raw(b"data: " + json.dumps({"choices": []}).encode()[:5] + b"\n\n")

    d = Double()
    d.routes[("GET", "/v1/models")] = openai_double().routes[("GET", "/v1/models")]
    d.routes[("POST", "/v1/chat/completions")] = handler
    with serve(d):
        screen = ProbeScreen(d.url, "openai", timeouts=T)
        app = Host(screen)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_until(pilot, lambda: notifications(app))
            await wait_until(pilot, lambda: not screen.running)
            (note,) = notifications(app)
            assert "malformed stream" in note.message and d.url in note.message
            assert note.severity == "error"
            assert screen.result is None


async def test_refused_server_is_a_notification() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    screen = ProbeScreen(url, "openai", timeouts=T)
    app = Host(screen)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: notifications(app))
        (note,) = notifications(app)
        assert "connection refused" in note.message


async def test_unwritable_history_keeps_the_result_and_says_so() -> None:
    history_path().parent.mkdir(parents=True, exist_ok=True)
    history_path().mkdir()  # a folder where the file should be: every append fails
    with serve(openai_double()) as d:
        screen = ProbeScreen(d.url, "openai", timeouts=T)
        app = Host(screen)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_until(pilot, lambda: screen.result is not None)
            said = [n.message for n in notifications(app)]
    assert any("probe history was not written" in m for m in said), said
