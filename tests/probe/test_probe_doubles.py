"""Ollama, LM Studio and a generic OpenAI-compatible server, as loopback doubles shaped after
their documented APIs (streamed chunks included); amdgpu sysfs counters from a fake tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.probe_doubles import (
    LMS_IDLE,
    LMS_LOADED,
    LMS_PIECES,
    LMS_STATS,
    OLLAMA_FINAL,
    OLLAMA_IDLE,
    OLLAMA_LOADED,
    OLLAMA_PIECES,
    OLLAMA_SIZE,
    OLLAMA_SIZE_VRAM,
    OPENAI_PIECES,
    Conn,
    Request,
    lmstudio_double,
    ollama_double,
    openai_double,
    serve,
)
from vramtui.cli.main import main
from vramtui.core.errors import ProbeError
from vramtui.core.probe.results import Prediction, ProbeTimeouts, compare
from vramtui.core.probe.run import run_probe
from vramtui.core.probe.servers import detect_servers, server_info
from vramtui.core.probe.sysfs import read_amdgpu_memory

T = ProbeTimeouts(connect=1, first_token=3, total=5, request=2)


async def test_ollama_models_loaded_first() -> None:
    with serve(ollama_double()) as d:
        info = await server_info(d.url)
    assert info.kind == "ollama"
    assert [m.name for m in info.models] == [OLLAMA_LOADED, OLLAMA_IDLE]
    loaded = info.models[0]
    assert loaded.loaded and loaded.vram_bytes == OLLAMA_SIZE_VRAM
    assert loaded.size_bytes == OLLAMA_SIZE and loaded.context_length == 4096
    assert not info.models[1].loaded and info.models[1].vram_bytes is None


async def test_ollama_probe_reads_eval_counts_and_ps() -> None:
    pieces: list[str] = []
    with serve(ollama_double()) as d:
        result = await run_probe(d.url, "ollama", timeouts=T, on_text=pieces.append, max_tokens=8)
        chat = next(r for r in d.requests if r.path == "/api/chat").json()
    assert chat["model"] == OLLAMA_LOADED  # no --model: the loaded one
    assert chat["options"]["num_predict"] == 8 and chat["stream"] is True
    assert pieces == OLLAMA_PIECES and result.text == "".join(OLLAMA_PIECES)
    ns = 1e9
    assert result.tokens_generated == OLLAMA_FINAL["eval_count"]
    assert result.decode_tokens_per_second == pytest.approx(
        OLLAMA_FINAL["eval_count"] / (OLLAMA_FINAL["eval_duration"] / ns)
    )
    assert result.prompt_tokens == OLLAMA_FINAL["prompt_eval_count"]
    assert result.prompt_tokens_per_second == pytest.approx(
        OLLAMA_FINAL["prompt_eval_count"] / (OLLAMA_FINAL["prompt_eval_duration"] / ns)
    )
    assert result.ttft_server_s == pytest.approx(
        (OLLAMA_FINAL["load_duration"] + OLLAMA_FINAL["prompt_eval_duration"]) / ns
    )
    assert result.decode_source == "server"
    assert result.memory.ollama_vram_bytes == OLLAMA_SIZE_VRAM
    assert result.memory.ollama_size_bytes == OLLAMA_SIZE
    assert result.memory.device_bytes() == OLLAMA_SIZE_VRAM


async def test_ollama_unknown_model_lists_available() -> None:
    with serve(ollama_double()) as d, pytest.raises(ProbeError) as err:
        await run_probe(d.url, "ollama", "mistral:7b", timeouts=T)
    msg = str(err.value)
    assert "\n" not in msg and d.url in msg
    assert "'mistral:7b' not found" in msg and OLLAMA_LOADED in msg and OLLAMA_IDLE in msg


async def test_lmstudio_probe_uses_stats() -> None:
    with serve(lmstudio_double()) as d:
        info = await server_info(d.url)
        result = await run_probe(d.url, "lmstudio", timeouts=T)
        chat = next(r for r in d.requests if r.path == "/api/v0/chat/completions").json()
    assert info.kind == "lmstudio"
    # Loaded first; embedding models are not offered for a chat probe.
    assert [m.name for m in info.models] == [LMS_LOADED, LMS_IDLE]
    assert info.models[0].context_length == 32768
    assert chat["model"] == LMS_LOADED and chat["stream"] is True
    assert result.text == "".join(LMS_PIECES)
    assert result.decode_tokens_per_second == pytest.approx(LMS_STATS["tokens_per_second"])
    assert result.ttft_server_s == pytest.approx(LMS_STATS["time_to_first_token"])
    assert result.tokens_generated == len(LMS_PIECES)
    assert result.prompt_tokens == 24
    assert result.server_timings["stats"]["stop_reason"] == "maxPredictedTokensReached"


async def test_lmstudio_nothing_loaded_asks_for_a_model() -> None:
    with serve(lmstudio_double(loaded=False)) as d, pytest.raises(ProbeError) as err:
        await run_probe(d.url, "lmstudio", timeouts=T)
    assert "no model is loaded" in str(err.value) and LMS_IDLE in str(err.value)


async def test_openai_generic_counts_client_side() -> None:
    with serve(openai_double()) as d:
        info = await server_info(d.url)
        result = await run_probe(d.url, "openai", timeouts=T)
        chat = next(r for r in d.requests if r.path == "/v1/chat/completions").json()
    assert info.kind == "openai" and info.model_names() == ["local-model"]
    assert chat["stream_options"] == {"include_usage": True}
    assert result.text == "".join(OPENAI_PIECES)
    assert result.tokens_generated == len(OPENAI_PIECES)  # from usage
    assert result.prompt_tokens == 20
    assert result.ttft_server_s is None


async def test_detect_finds_each_kind_by_its_answer() -> None:
    with serve(ollama_double()) as o, serve(lmstudio_double()) as lm, serve(openai_double()) as oa:
        # Deliberately swapped ports: the answer decides the kind, not the port.
        found = await detect_servers(
            ports={"llamacpp": lm.port, "lmstudio": o.port, "ollama": oa.port}
        )
    assert sorted((s.kind, s.url) for s in found) == sorted(
        [("lmstudio", lm.url), ("ollama", o.url), ("openai", oa.url)]
    )


def _fake_card(root: Path, vram_used: int, gtt_used: int) -> Path:
    dev = root / "card1" / "device"
    dev.mkdir(parents=True, exist_ok=True)
    (dev / "mem_info_vram_used").write_text(f"{vram_used}\n")
    (dev / "mem_info_vram_total").write_text(f"{512 << 20}\n")
    (dev / "mem_info_gtt_used").write_text(f"{gtt_used}\n")
    (dev / "mem_info_gtt_total").write_text(f"{60 << 30}\n")
    return dev


async def test_amdgpu_counters_before_and_during(tmp_path: Path) -> None:
    sysfs = tmp_path / "drm"
    dev = _fake_card(sysfs, vram_used=100 << 20, gtt_used=1 << 30)
    (sysfs / "card0-eDP-1").mkdir()  # connectors are not cards
    (sysfs / "card0" / "device").mkdir(parents=True)  # a card without amdgpu counters
    d = openai_double()
    inner = d.routes[("POST", "/v1/chat/completions")]

    def chat(req: Request, conn: Conn) -> None:
        # The model "loads" while the request runs: GTT grows by 3 GiB.
        (dev / "mem_info_gtt_used").write_text(f"{4 << 30}\n")
        inner(req, conn)

    d.routes[("POST", "/v1/chat/completions")] = chat
    with serve(d):
        result = await run_probe(d.url, "openai", timeouts=T, sysfs_root=sysfs)
    before = result.memory.amdgpu_before
    assert [s.card for s in before] == ["card1"]
    assert before[0].gtt_total == 60 << 30 and before[0].gtt_used == 1 << 30
    assert result.memory.amdgpu_delta_bytes() == 3 << 30
    assert result.memory.device_bytes() == 3 << 30


def test_no_amdgpu_means_no_evidence(tmp_path: Path) -> None:
    assert read_amdgpu_memory(tmp_path / "missing") == []


async def test_compare_rows_and_ratio() -> None:
    with serve(ollama_double()) as d:
        result = await run_probe(d.url, "ollama", timeouts=T)
    rows = {r.name: r for r in compare(Prediction(50.0, 0.5, 4 << 30), result)}
    assert rows["decode"].ratio == pytest.approx(result.decode_tokens_per_second / 50.0)
    assert rows["GPU memory"].ratio == pytest.approx(OLLAMA_SIZE_VRAM / (4 << 30))
    assert rows["time to first token"].measured == result.ttft_server_s
    assert all(r.ratio is None for r in compare(None, result))


def test_cli_lists_servers(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(ollama_double()) as d:
        assert main(["probe", "--list", "--url", d.url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["kind"] == "ollama"
    assert [m["name"] for m in data[0]["models"]] == [OLLAMA_LOADED, OLLAMA_IDLE]


def test_cli_probe_ollama_json(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(ollama_double()) as d:
        code = main(
            [
                "probe",
                "--url",
                d.url,
                "--server",
                "ollama",
                "--model",
                OLLAMA_IDLE,
                "--json",
                "--no-save",
            ]
        )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["result"]["model"] == OLLAMA_IDLE
    assert data["result"]["memory"]["device_bytes"] is None  # the idle model is not in /api/ps
