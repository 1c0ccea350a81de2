"""The whole probe path against a real llama.cpp server (xllamacpp) serving a tiny real llama."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from tests.support.tiny_llama import LlamaServer
from vramtui.cli.main import main
from vramtui.core.probe.history import append_history, history_path, load_history, make_record
from vramtui.core.probe.results import MemoryEvidence, Prediction, ProbeResult, ProbeTimeouts
from vramtui.core.probe.run import run_probe
from vramtui.core.probe.servers import detect_servers, server_info

pytestmark = pytest.mark.server

FAST = ProbeTimeouts(connect=2, first_token=20, total=30, request=5)


async def test_completion_counts_tokens_and_reads_server_timings(llama_server: LlamaServer) -> None:
    pieces: list[str] = []
    progress: list[int] = []
    result = await run_probe(
        llama_server.url,
        "llamacpp",
        max_tokens=24,
        timeouts=FAST,
        on_text=pieces.append,
        on_progress=progress.append,
    )
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


async def test_longer_prompt_is_prefilled(llama_server: LlamaServer) -> None:
    short = await run_probe(llama_server.url, "llamacpp", max_tokens=2, timeouts=FAST)
    long = await run_probe(
        llama_server.url, "llamacpp", max_tokens=2, prompt_tokens=30, timeouts=FAST
    )
    assert short.prompt_tokens is not None and long.prompt_tokens is not None
    assert long.prompt_tokens > short.prompt_tokens + 30


async def test_openai_route_on_llamacpp(llama_server: LlamaServer) -> None:
    result = await run_probe(llama_server.url, "openai", max_tokens=12, timeouts=FAST)
    usage = result.server_timings["usage"]
    timings = result.server_timings["timings"]
    assert 1 <= result.tokens_generated <= 12
    assert result.tokens_generated == timings["predicted_n"] == usage["completion_tokens"]
    assert result.prompt_tokens == usage["prompt_tokens"]
    assert result.model == str(llama_server.model_path)


async def test_cancel_mid_stream_closes_at_once(
    llama_server: LlamaServer, slot_idle: Callable[[], Awaitable[bool]]
) -> None:
    seen: list[str] = []

    def on_text(text: str) -> None:
        seen.append(text)
        if len(seen) == 3:
            task.cancel()

    task = asyncio.create_task(
        run_probe(llama_server.url, "llamacpp", max_tokens=1800, timeouts=FAST, on_text=on_text)
    )
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(seen) == 3  # not one more chunk was read after the cancel
    # The connection dropped, so the server let go of the slot at once, long before it could
    # have generated the 1800 tokens, and the next run is complete.
    assert await slot_idle()
    again = await run_probe(llama_server.url, "llamacpp", max_tokens=8, timeouts=FAST)
    assert again.tokens_generated == 8


async def test_identify_and_detect(llama_server: LlamaServer) -> None:
    info = await server_info(llama_server.url)
    assert info.kind == "llamacpp"
    assert [m.name for m in info.models] == [str(llama_server.model_path)]
    assert info.models[0].loaded
    port = int(llama_server.url.rsplit(":", 1)[1])
    found = await detect_servers(ports={"llamacpp": port})
    assert [(s.kind, s.url) for s in found] == [("llamacpp", llama_server.url)]


def test_cli_json_and_history(
    llama_server: LlamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "probe",
            "--url",
            llama_server.url,
            "--max-tokens",
            "16",
            "--json",
            "--backend",
            "cpu",
            "--predict",
            str(llama_server.model_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert data["result"]["tokens_generated"] == 16
    assert data["result"]["kind"] == "llamacpp"
    # No --machine: the prediction is for the machine the probe runs on.
    assert data["prediction"] is not None and data["prediction"]["backend"] == "cpu"
    assert data["model_match"] is True  # the server's model_path is the predicted file
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
        main(
            [
                "probe",
                "--server",
                "llamacpp",
                "--url",
                llama_server.url,
                "--max-tokens",
                "8",
                "--predict",
                str(llama_server.model_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "decode" in out and "measured" in out and "predicted" in out
    assert "server's own timings" in out
    assert main(["probe", "--history"]) == 0
    listing = capsys.readouterr().out
    assert "llamacpp" in listing and llama_server.model_path.name in listing


def test_cli_prediction_beside_measurement(
    llama_server: LlamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "probe",
        "--url",
        llama_server.url,
        "--max-tokens",
        "16",
        "--json",
        "--machine",
        "framework-desktop-128gb",
        "--carve-out",
        "512M",
        "--os",
        "linux",
        "--backend",
        "vulkan",
        "--predict",
        str(llama_server.model_path),
    ]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    # The server's /props model_path, passed with --predict (a server's path is never opened
    # by itself).
    prediction = first["prediction"]
    assert prediction is not None and prediction["backend"] == "vulkan"
    assert "tiny-probe-llama on framework-desktop-128gb" in first["prediction_note"]
    assert prediction["calibration"] is None  # no history yet
    rows = {r["name"]: r for r in first["comparison"]}
    measured = first["result"]["decode_tokens_per_second"]
    assert rows["decode"]["predicted"] == prediction["decode_tps"] > 0
    assert rows["decode"]["ratio"] == pytest.approx(measured / prediction["decode_tps"])
    assert rows["time to first token"]["predicted"] == prediction["ttft_s"]
    (record,) = load_history()
    assert record.machine == "framework-desktop-128gb" and record.backend == "vulkan"
    assert record.carve_out_bytes == 512 << 20 and record.os == "linux"
    assert record.predicted_decode_tps == prediction["decode_tps"]
    assert record.model_ref == str(llama_server.model_path)
    assert record.settings["ctx_size"] == llama_server.n_ctx


def test_cli_calibrated_prediction_keeps_raw_in_history(
    llama_server: LlamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = "framework-desktop-128gb"
    args = [
        "probe",
        "--url",
        llama_server.url,
        "--max-tokens",
        "8",
        "--json",
        "--machine",
        machine,
        "--os",
        "linux",
        "--backend",
        "vulkan",
        "--predict",
        str(llama_server.model_path),
    ]
    assert main([*args, "--no-save"]) == 0
    first = json.loads(capsys.readouterr().out)["prediction"]
    raw = first["decode_tps"]
    # Earlier runs on this machine and backend said: 0.8 of the prediction (measured speeds on
    # this shared test machine vary too much to calibrate from a real run here).
    result = ProbeResult(
        kind="llamacpp",
        url=llama_server.url,
        model="m",
        ttft_client_s=None,
        ttft_server_s=None,
        decode_tokens_per_second=raw * 0.8,
        prompt_tokens_per_second=None,
        tokens_generated=8,
        prompt_tokens=None,
        server_timings={},
        memory=MemoryEvidence(),
    )
    key = first["model_key"]
    other = make_record(
        result,
        Prediction(raw, None, None),
        machine=machine,
        backend="vulkan",
        runtime="llamacpp",
        model_key=key,
        model_match=False,
    )
    append_history(other)  # a run of another model on the server: never calibrates this one
    assert main([*args, "--no-save"]) == 0
    assert json.loads(capsys.readouterr().out)["prediction"]["calibration"] is None
    earlier = make_record(
        result,
        Prediction(raw, None, None),
        machine=machine,
        backend="vulkan",
        runtime="llamacpp",
        model_key=key,
        model_match=True,
    )
    append_history(earlier)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["prediction"]["calibration"] == pytest.approx(0.8)
    assert second["prediction"]["calibrated_decode_tps"] == pytest.approx(raw * 0.8)
    assert second["prediction"]["decode_tps"] == pytest.approx(raw)
    assert second["prediction"]["calibration_note"] == "calibrated x0.80 from 1 probe"
    rows = {r["name"]: r for r in second["comparison"]}
    assert rows["decode"]["predicted"] == pytest.approx(raw * 0.8)  # shown: calibrated
    # The history keeps the raw prediction, so calibration never feeds on itself.
    assert load_history()[-1].predicted_decode_tps == pytest.approx(raw)
