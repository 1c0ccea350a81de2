"""The whole probe path against a real llama.cpp server (xllamacpp) serving a tiny real llama."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import types
from typing import Any

import pytest
from probe_tiny_llama import LlamaServer

from tui.cli.main import main
from tui.core.probe import ProbeTimeouts, detect_servers, run_probe, server_info
from tui.core.probe_history import history_path, load_history

pytestmark = pytest.mark.server

FAST = ProbeTimeouts(connect=2, first_token=20, total=30, request=5)


def test_completion_counts_tokens_and_reads_server_timings(llama_server: LlamaServer) -> None:
    pieces: list[str] = []
    progress: list[int] = []
    result = run_probe(
        llama_server.url, "llamacpp", max_tokens=24, timeouts=FAST, on_text=pieces.append,
        on_progress=progress.append,
    )  # fmt: skip
    timings = result.server_timings["timings"]
    # ignore_eos makes the server generate exactly the tokens asked for.
    assert timings["predicted_n"] == 24
    assert result.tokens_generated == 24
    assert result.decode_source == "server"
    assert result.decode_tokens_per_second == pytest.approx(timings["predicted_per_second"])
    assert result.prompt_tokens == timings["prompt_n"] + timings.get("cache_n", 0)
    assert result.prompt_tokens_per_second == pytest.approx(timings["prompt_per_second"])
    assert result.ttft_server_s == pytest.approx(timings["prompt_ms"] / 1000)
    assert result.ttft_client_s is not None and result.ttft_client_s > 0
    # The text handed to on_text, piece by piece, is the whole answer.
    assert pieces and "".join(pieces) == result.text
    # The running count comes from the server's per-chunk `tokens` and ends at the total.
    assert progress == sorted(progress) and progress[-1] == 24
    # Memory evidence from /props and /slots.
    assert result.memory.n_ctx == llama_server.n_ctx
    assert result.memory.slots_n_ctx == [llama_server.n_ctx]
    assert result.memory.model_path == str(llama_server.model_path)
    assert not result.cancelled


def test_longer_prompt_is_prefilled(llama_server: LlamaServer) -> None:
    short = run_probe(llama_server.url, "llamacpp", max_tokens=2, timeouts=FAST)
    long = run_probe(llama_server.url, "llamacpp", max_tokens=2, prompt_tokens=30, timeouts=FAST)
    assert short.prompt_tokens is not None and long.prompt_tokens is not None
    assert long.prompt_tokens > short.prompt_tokens + 30


def test_openai_route_on_llamacpp(llama_server: LlamaServer) -> None:
    result = run_probe(llama_server.url, "openai", max_tokens=12, timeouts=FAST)
    usage = result.server_timings["usage"]
    timings = result.server_timings["timings"]
    assert 1 <= result.tokens_generated <= 12
    assert result.tokens_generated == timings["predicted_n"] == usage["completion_tokens"]
    assert result.prompt_tokens == usage["prompt_tokens"]
    assert result.model == str(llama_server.model_path)


def test_cancel_mid_stream_closes_at_once(llama_server: LlamaServer) -> None:
    cancel = threading.Event()
    seen: list[str] = []

    def on_text(text: str) -> None:
        seen.append(text)
        if len(seen) == 3:
            cancel.set()

    result = run_probe(
        llama_server.url, "llamacpp", max_tokens=1800, timeouts=FAST, on_text=on_text,
        cancel=cancel,
    )  # fmt: skip
    assert result.cancelled
    assert len(seen) == 3  # not one more chunk was read after the cancel
    assert result.tokens_generated < 1800
    assert result.server_timings == {}  # no final chunk was read
    # The server let go of the slot: the next run is complete.
    again = run_probe(llama_server.url, "llamacpp", max_tokens=8, timeouts=FAST)
    assert again.tokens_generated == 8 and not again.cancelled


def test_cancel_before_start_sends_nothing(llama_server: LlamaServer) -> None:
    cancel = threading.Event()
    cancel.set()
    result = run_probe(llama_server.url, "llamacpp", max_tokens=8, cancel=cancel)
    assert result.cancelled and result.tokens_generated == 0


def test_identify_and_detect(llama_server: LlamaServer) -> None:
    info = server_info(llama_server.url)
    assert info.kind == "llamacpp"
    assert [m.name for m in info.models] == [str(llama_server.model_path)]
    assert info.models[0].loaded
    port = int(llama_server.url.rsplit(":", 1)[1])
    found = detect_servers(ports={"llamacpp": port})
    assert [(s.kind, s.url) for s in found] == [("llamacpp", llama_server.url)]


def test_cli_json_and_history(
    llama_server: LlamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["probe", "--url", llama_server.url, "--max-tokens", "16", "--json",
                 "--backend", "cpu"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert data["result"]["tokens_generated"] == 16
    assert data["result"]["kind"] == "llamacpp"
    assert data["prediction"] is None and "--machine" in data["prediction_note"]
    lines = history_path().read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    for key in ("machine", "backend", "predicted_decode_tps", "measured_decode_tps"):
        assert key in record
    assert record["backend"] == "cpu"
    assert record["measured_decode_tps"] == pytest.approx(
        data["result"]["decode_tokens_per_second"]
    )
    # The server's context became the settings the prediction would use.
    assert record["settings"]["ctx_size"] == llama_server.n_ctx
    assert load_history()[0].model == str(llama_server.model_path)


def test_cli_human_table(
    llama_server: LlamaServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    assert (
        main(["probe", "--server", "llamacpp", "--url", llama_server.url, "--max-tokens", "8"]) == 0
    )
    out = capsys.readouterr().out
    assert "decode" in out and "measured" in out and "predicted" in out
    assert "server's own timings" in out
    assert main(["probe", "--history"]) == 0
    listing = capsys.readouterr().out
    assert "llamacpp" in listing and llama_server.model_path.name in listing


class _FitStub:
    """Stands in for tui.core.fit / tui.core.machines (helper C's interface) and records calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any, Any]] = []
        self.fit = types.ModuleType("tui.core.fit")
        self.machines = types.ModuleType("tui.core.machines")
        self.fit.evaluate_fit = self.evaluate_fit  # type: ignore[attr-defined]
        self.machines.get_machine = lambda ident: types.SimpleNamespace(id=ident)  # type: ignore[attr-defined]
        self.machines.MachineState = _State  # type: ignore[attr-defined]

    def evaluate_fit(self, spec: Any, settings: Any, state: Any) -> Any:
        self.calls.append((spec, settings, state))
        return types.SimpleNamespace(
            speed=types.SimpleNamespace(
                decode_tokens_per_second=2000.0, time_to_first_token_s=0.01
            ),
            breakdown=types.SimpleNamespace(device_bytes=3 << 20),
        )


@dataclasses.dataclass(frozen=True)
class _State:
    machine: Any
    carve_out_bytes: int = 0

    @classmethod
    def default_for(cls, machine: Any) -> _State:
        return cls(machine)


def test_cli_prediction_beside_measurement(
    llama_server: LlamaServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub = _FitStub()
    monkeypatch.setitem(sys.modules, "tui.core.fit", stub.fit)
    monkeypatch.setitem(sys.modules, "tui.core.machines", stub.machines)
    code = main(["probe", "--url", llama_server.url, "--max-tokens", "16", "--json",
                 "--machine", "test-box", "--carve-out", "512M", "--backend", "cpu"])  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    # No --predict: the model came from the server's /props model_path, read from disk.
    ((spec, settings, state),) = stub.calls
    assert spec.name == "tiny-probe-llama"
    assert settings.ctx_size == llama_server.n_ctx and settings.parallel == 1
    assert state.machine.id == "test-box" and state.carve_out_bytes == 512 << 20
    rows = {r["name"]: r for r in data["comparison"]}
    measured = data["result"]["decode_tokens_per_second"]
    assert rows["decode"]["predicted"] == 2000.0
    assert rows["decode"]["ratio"] == pytest.approx(measured / 2000.0)
    (record,) = load_history()
    assert record.machine == "test-box" and record.carve_out_bytes == 512 << 20
    assert record.predicted_decode_tps == 2000.0
    assert record.model_ref == str(llama_server.model_path)
    # A second run sees the first in the history: the calibration factor.
    main(["probe", "--url", llama_server.url, "--max-tokens", "16", "--json",
          "--machine", "test-box", "--backend", "cpu"])  # fmt: skip
    again = json.loads(capsys.readouterr().out)
    assert again["calibration"]["runs"] == 1
    assert again["calibration"]["decode_efficiency"] == pytest.approx(record.decode_ratio)
