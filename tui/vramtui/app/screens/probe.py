"""The probe screen (`p`): pick a running server and model, watch the answer stream in with a live
tokens/s figure, then read the measurement beside the prediction. Esc cancels the stream at once
and closes the screen.

Self-contained: everything it needs comes in through the constructor, so the app only pushes it.
The probe runs in async workers on the app's event loop (vramtui.core.probe is async); each streamed
piece is posted as a `Streamed` message that a newer one replaces while still queued, so a fast
server costs one repaint per frame, not one per token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from vramtui.app.config import save_probe_url, saved_probe_url
from vramtui.app.screens.dialogs import PickOne
from vramtui.core.errors import ProbeError, VramtuiError
from vramtui.core.probe.calibration import refusal, served_model_matches
from vramtui.core.probe.history import append_history, make_record
from vramtui.core.probe.http import normalize_url
from vramtui.core.probe.results import (
    Prediction,
    ProbeResult,
    ProbeTimeouts,
    ServerInfo,
    compare,
    format_measure,
    format_ratio,
)
from vramtui.core.probe.run import run_probe
from vramtui.core.probe.servers import detect_servers, server_info
from vramtui.core.vocab import ServerKind
from vramtui.present import untrusted
from vramtui.present.probe_words import calibration_line

_SHOWN_CHARS = 16_000

# With no server: how to start one, one line each (each runtime's own documented command).
HOW_TO_START = """No server answered. Start one, then press r:

• llama-server -m model.gguf --port 8080
• LM Studio: lms server start (port 1234)
• Ollama: ollama serve (port 11434)

Elsewhere? Type host:port above, then Enter."""


def _printable(text: str) -> str:
    """Models can stream control characters (and a random test model does); show them as dots."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "·" for ch in text)


@dataclass
class _LiveCount:
    """One run as it streams: the tail of the answer shown, and the client-clock token count."""

    tail: str = ""
    tokens: int = 0
    tokens_at_first: int = 0
    t_first: float | None = None
    t_last: float | None = None

    def add_text(self, text: str) -> None:
        # Keep the tail only: a long answer must not grow the widget without bound.
        self.tail = (self.tail + _printable(text))[-_SHOWN_CHARS:]

    def count(self, tokens: int, now: float) -> None:
        self.tokens = tokens
        if self.t_first is None:
            self.t_first = now
            self.tokens_at_first = tokens
        self.t_last = now

    def rate(self) -> float | None:
        """Tokens after the first over the time since it (the live figure)."""
        if self.t_first is None or self.t_last is None:
            return None
        span = self.t_last - self.t_first
        decoded = self.tokens - self.tokens_at_first
        return decoded / span if decoded > 0 and span > 0 else None


class ProbeScreen(Screen[ProbeResult | None]):
    """Measure a running llama.cpp / LM Studio / Ollama server beside `prediction`.

    With `url`, that server is probed at once (with `model`, or the one it has loaded); without,
    the screen looks on `host` at the default ports (or `ports`) and lets the user pick a model.
    `history` holds the context recorded with each run (machine, carve_out_bytes, os_name,
    backend, settings, model_ref); `save_history=False` keeps runs out of the history file.
    Dismisses with the last complete result (None when there was none).
    """

    class Streamed(Message):
        """The answer so far (its shown tail) and the live token count and rate."""

        def __init__(self, text: str, tokens: int, rate: float | None) -> None:
            super().__init__()
            self.text = text
            self.tokens = tokens
            self.rate = rate

        def can_replace(self, message: Message) -> bool:
            # Each one carries the whole shown tail, so a newer one loses nothing of an older.
            return isinstance(message, ProbeScreen.Streamed)

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "close", "Cancel / close", id="probe.close"),
        Binding("r", "rescan", "Rescan servers", id="probe.rescan"),
        Binding(
            "a",
            "focus_address",
            "Address",
            tooltip="Probe a server at host:port",
            id="probe.address",
        ),
    ]

    DEFAULT_CSS = """
    ProbeScreen { layout: vertical; }
    ProbeScreen #probe-title { padding: 0 1; text-style: bold; }
    ProbeScreen #probe-address { height: 1; padding: 0 1; }
    ProbeScreen #probe-address Label { width: 8; color: $text-muted; }
    ProbeScreen #probe-url { width: 1fr; }
    ProbeScreen #probe-url-problem { height: auto; padding: 0 1; color: $text-error; }
    ProbeScreen #probe-body { height: 1fr; }
    ProbeScreen #probe-servers { width: 40%; min-width: 30; }
    ProbeScreen #probe-right { width: 1fr; }
    ProbeScreen #probe-live { height: 1; padding: 0 1; color: $accent; }
    ProbeScreen #probe-scroll { height: 1fr; border: round $panel; }
    ProbeScreen #probe-text { width: 1fr; }
    ProbeScreen #probe-table { height: auto; max-height: 12; }
    ProbeScreen #probe-note { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(
        self,
        url: str | None = None,
        kind: ServerKind | None = None,
        model: str | None = None,
        prediction: Prediction | None = None,
        *,
        max_tokens: int = 64,
        prompt_tokens: int = 0,
        timeouts: ProbeTimeouts | None = None,
        host: str = "127.0.0.1",
        ports: dict[ServerKind, int] | None = None,
        history: dict[str, Any] | None = None,
        save_history: bool = True,
        api_key: str | None = None,
    ) -> None:
        super().__init__()
        self._url = url
        self._kind = kind
        self._model = model
        self.prediction = prediction
        self._max_tokens = max_tokens
        self._prompt_tokens = prompt_tokens
        self._timeouts = timeouts or ProbeTimeouts()
        self._host = host
        self._ports = ports
        self._history = dict(history or {})
        self._save_history = save_history
        self._api_key = api_key
        self._choices: dict[str, tuple[ServerInfo, str | None]] = {}
        self._typed_url: str | None = None  # an address typed here (or remembered)
        self._live = _LiveCount()
        self._discovery: Worker[list[ServerInfo]] | None = None
        self._probe: Worker[ProbeResult] | None = None
        self.result: ProbeResult | None = None
        self.calibration_note = ""  # whether the last run calibrates, and why not
        self.streamed = ""
        self.running = False

    @property
    def streamed_tokens(self) -> int:
        """Tokens counted so far in the current run."""
        return self._live.tokens

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Label("Probe a running server", id="probe-title")
        with Horizontal(id="probe-address"):
            yield Label("Server")
            yield Input(
                placeholder="host:port or URL, then Enter (empty: this machine)",
                compact=True,
                id="probe-url",
            )
        yield Static("", id="probe-url-problem", markup=False)
        with Horizontal(id="probe-body"):
            yield OptionList(id="probe-servers")
            with Vertical(id="probe-right"):
                yield Static("", id="probe-live")
                with VerticalScroll(id="probe-scroll"):
                    yield Static("", id="probe-text", markup=False)
                yield DataTable(id="probe-table", cursor_type="none", zebra_stripes=True)
                yield Static("", id="probe-note")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#probe-table", DataTable)
        table.add_columns("", "measured", "predicted", "ratio")
        self._show_prediction_only()
        self._url_problem("")
        if self._url is None and (remembered := saved_probe_url()):
            self._typed_url = remembered
            self.query_one("#probe-url", Input).value = remembered
        self._set_live("looking for servers…")
        self._discovery = self._discover()
        self.query_one("#probe-servers", OptionList).focus()

    # ------------------------------------------------------------------ discovery

    @work(exclusive=True, group="probe-discover", exit_on_error=False)
    async def _discover(self) -> list[ServerInfo]:
        if self._url is not None:
            return [await server_info(self._url, self._kind, self._timeouts)]
        timeout = min(self._timeouts.connect, 2.0)
        found = []
        if self._typed_url is not None:
            try:
                found.append(await server_info(self._typed_url, None, self._timeouts))
            except ProbeError as err:
                self._url_problem(str(err))
        known = {info.url for info in found}
        found += [
            info
            for info in await detect_servers(self._host, timeout=timeout, ports=self._ports)
            if info.url not in known
        ]
        return found

    def _url_problem(self, message: str) -> None:
        problem = self.query_one("#probe-url-problem", Static)
        problem.update(untrusted.text(message, limit=400))
        problem.display = bool(message)

    @on(Input.Submitted, "#probe-url")
    def _address(self, event: Input.Submitted) -> None:
        """A server anywhere: host:port or a URL, remembered for next time."""
        text = event.value.strip()
        self._url_problem("")
        if text:
            try:
                text = normalize_url(text)
            except ProbeError as err:
                self._url_problem(f"{err}: try 192.168.1.20:8080 or http://host:1234")
                return
            try:
                save_probe_url(text)
            except OSError as err:  # the address still works, it is only not remembered
                self.notify(f"Could not remember the address: {err}", severity="warning")
        self._typed_url = text or None
        self.query_one("#probe-servers", OptionList).focus()
        self.action_rescan()

    def _fill_servers(self, servers: list[ServerInfo]) -> None:
        self._choices.clear()
        options = self.query_one("#probe-servers", OptionList)
        options.clear_options()
        first_model: int | None = None
        for s_index, info in enumerate(servers):
            # Enter on a server measures the model it has loaded (or its first one).
            names = info.model_names()
            ident = f"s{s_index}"
            self._choices[ident] = (info, names[0] if names else None)
            label = Text.assemble((str(info.kind), "bold"), " ", untrusted.text(info.url))
            options.add_option(Option(label, id=ident))
            for m_index, m in enumerate(info.models):
                ident = f"m{s_index}-{m_index}"
                self._choices[ident] = (info, m.name)
                flag = "● " if m.loaded else "  "
                if first_model is None:
                    first_model = options.option_count
                options.add_option(Option(Text(flag + untrusted.plain(m.name)), id=ident))
        text = self.query_one("#probe-text", Static)
        if not servers:
            options.add_option(Option("no server found (r rescans)", disabled=True))
            self._set_live("no server found; r rescans")
            text.update(HOW_TO_START)
            if self._url is None:
                self.action_focus_address()  # the next step: say where the server is
            return
        if not self.running and not self.streamed:
            text.update("")
        options.highlighted = first_model if first_model is not None else 0
        self._set_live("pick a model (or a server) and press Enter (● = loaded)")
        if self._url is not None:
            info = servers[0]
            names = info.model_names()
            self._start(info, self._model or (names[0] if names else None))

    # ------------------------------------------------------------------ the probe

    def _start(self, info: ServerInfo, model: str | None) -> None:
        if self.running:
            return
        self.running = True
        self._live = _LiveCount()
        self.streamed = ""
        self.query_one("#probe-text", Static).update("")
        self._show_prediction_only()
        self._set_live(f"probing {info.kind} {info.url} – {model or 'loaded model'}…")
        self._probe = self._run(info, model)

    @work(exclusive=True, group="probe-run", exit_on_error=False)
    async def _run(self, info: ServerInfo, model: str | None) -> ProbeResult:
        result = await run_probe(
            info.url,
            info.kind,
            model,
            max_tokens=self._max_tokens,
            prompt_tokens=self._prompt_tokens,
            timeouts=self._timeouts,
            on_text=self._on_text,
            on_progress=self._on_progress,
            api_key=self._api_key,
        )
        context = dict(self._history)
        if context.get("backend") is None and self.prediction is not None:
            context["backend"] = self.prediction.backend  # what calibration looks up
        # Only a run of the predicted model calibrates that prediction.
        context["model_match"] = self._same_model(result)
        record = make_record(result, self.prediction, **context)
        served = result.memory.model_path or result.model
        self.calibration_note = calibration_line(
            refusal(record), result.conditions, record.decode_ratio, served=served
        )
        if self._save_history:
            try:
                append_history(record)
            except OSError as err:  # the measurement stands; only its record is lost
                self.notify(f"The probe history was not written: {err}", severity="warning")
        return result

    def _same_model(self, result: ProbeResult) -> bool:
        """The server ran the model on screen (unknown when no names were given: assumed)."""
        names = self.prediction.model_names if self.prediction is not None else ()
        served = result.memory.model_path or result.model
        return not names or served_model_matches(served, *names)

    def _on_text(self, text: str) -> None:
        """Each streamed piece, called by the probe between reads."""
        self._live.add_text(text)

    def _on_progress(self, tokens: int) -> None:
        """The running token count, called by the probe after each piece."""
        self._live.count(tokens, time.perf_counter())
        self.post_message(self.Streamed(self._live.tail, tokens, self._live.rate()))

    @on(Streamed)
    def _show_streamed(self, message: Streamed) -> None:
        if message.text != self.streamed:
            self.streamed = message.text
            shown = Text(untrusted.lines(message.text))  # the server's words, as text
            self.query_one("#probe-text", Static).update(shown)
            self.query_one("#probe-scroll", VerticalScroll).scroll_end(animate=False)
        if self.running:
            rate = "…" if message.rate is None else f"{message.rate:,.1f} tok/s"
            self._set_live(f"streaming: {message.tokens} tokens, {rate}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker is self._discovery:
            if event.state == WorkerState.SUCCESS and isinstance(worker.result, list):
                self._fill_servers(worker.result)
            elif event.state == WorkerState.ERROR:
                self._error(worker.error)
                self._fill_servers([])
        elif worker is self._probe:
            if event.state == WorkerState.SUCCESS and isinstance(worker.result, ProbeResult):
                self.running = False
                self._show_result(worker.result)
            elif event.state == WorkerState.ERROR:
                self.running = False
                self._error(worker.error)
                self._set_live("probe failed (see the notification); pick a model to try again")
            elif event.state == WorkerState.CANCELLED:
                self.running = False

    def _error(self, error: BaseException | None) -> None:
        if isinstance(error, VramtuiError):
            message = str(error)
        else:
            message = f"{type(error).__name__}: {error}"
        self.notify(
            untrusted.plain(message, 1000), title="Probe", severity="error", timeout=8, markup=False
        )

    # ------------------------------------------------------------------ results

    def _show_prediction_only(self) -> None:
        table = self.query_one("#probe-table", DataTable)
        table.clear()
        p = self.prediction
        for name, unit, value in (
            ("decode", "tok/s", p.decode_tps if p else None),
            ("time to first token", "s", p.ttft_s if p else None),
            ("GPU memory", "bytes", p.device_bytes if p else None),
        ):
            table.add_row(name, "…", format_measure(value, unit), "-")
        note = f"predicted for: {p.label}" if p and p.label else "no prediction given"
        self.query_one("#probe-note", Static).update(untrusted.text(note, limit=400))

    def _show_result(self, result: ProbeResult) -> None:
        self.result = result
        table = self.query_one("#probe-table", DataTable)
        table.clear()
        same = self._same_model(result)
        for row in compare(self.prediction if same else None, result):
            table.add_row(
                row.name,
                format_measure(row.measured, row.unit),
                format_measure(row.predicted, row.unit),
                format_ratio(row.ratio),
            )
        table.add_row("prompt", format_measure(result.prompt_tokens_per_second, "tok/s"), "", "")
        table.add_row("tokens generated", str(result.tokens_generated), "", "")
        table.add_row("first token (client)", format_measure(result.ttft_client_s, "s"), "", "")
        if not same:
            self.query_one("#probe-note", Static).update(
                Text(
                    f"{untrusted.plain(result.model)} is not the model on screen: measured, "
                    "not compared"
                )
            )
        elif self.prediction is not None and self.calibration_note:
            note = f"predicted for: {self.prediction.label}\n{self.calibration_note}"
            self.query_one("#probe-note", Static).update(untrusted.text(note, limit=600))
        source = {"server": "server timings", "client": "client clock", "none": "no tokens"}
        self._set_live(
            f"done: {result.tokens_generated} tokens, "
            f"{format_measure(result.decode_tokens_per_second, 'tok/s')} "
            f"({source[result.decode_source]}) – {untrusted.plain(result.model)}"
        )

    def _set_live(self, text: str) -> None:
        self.query_one("#probe-live", Static).update(untrusted.text(text, limit=400))

    # ------------------------------------------------------------------ actions

    @on(OptionList.OptionSelected, "#probe-servers")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        choice = self._choices.get(event.option.id or "")
        if choice is not None and not self.running:
            self._confirm_and_start(*choice)

    @work(exclusive=True, group="probe-confirm")
    async def _confirm_and_start(self, info: ServerInfo, model: str | None) -> None:
        """A model other than the one on the main screen is measured only when the user says
        so: its numbers are not a check of that prediction (nor calibrate it)."""
        names = self.prediction.model_names if self.prediction is not None else ()
        served = model or ""
        if names and served and not served_model_matches(served, *names):
            answer = await self.app.push_screen_wait(
                PickOne(
                    f"{info.url} serves {served}, not {names[-1]} (the model on screen). "
                    "Its numbers will be recorded for it, not compared with this prediction.",
                    [("measure", f"Measure {served} anyway"), ("cancel", "Cancel")],
                )
            )
            if answer != "measure":
                self._set_live("not measured; pick the model on screen, or load it in the server")
                return
        self._start(info, model)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # r and a type in the address field.
        return not (action in ("rescan", "focus_address") and isinstance(self.focused, Input))

    def action_focus_address(self) -> None:
        self.query_one("#probe-url", Input).focus()

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    def action_rescan(self) -> None:
        if not self.running:
            self._set_live("looking for servers…")
            self._discovery = self._discover()

    def action_close(self) -> None:
        """Esc: cancel the run (its stream closes at once: the connection drops) and any scan."""
        for worker in (self._probe, self._discovery):
            if worker is not None:
                worker.cancel()
        self.dismiss(self.result)
