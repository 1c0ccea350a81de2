"""The user's own files and caches, broken or hostile: machine presets, scenario presets, the
probe history, discovery's trees and index, and writes that race or fail. Each is reported by
file (and field), skipped or refused with one line; nothing hangs, nothing the user saved is
lost; the probe survives deep JSON and impossible timings."""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.gguf_files import write_tiny_model
from tests.support.http_server import LoopbackServer, Route, serve
from vramtui.cli.main import main
from vramtui.core.discovery.scan import discover_models
from vramtui.core.errors import PresetError, ProbeError
from vramtui.core.hardware.presets import load_machines
from vramtui.core.paths import bundled_presets_dir, cache_dir, user_machines_dir
from vramtui.core.probe.history import history_path, load_history
from vramtui.core.probe.http import MAX_JSON_DEPTH, get_json, new_client, parse_json
from vramtui.core.probe.results import MemoryEvidence, ProbeTimeouts
from vramtui.core.probe.stream import Tally
from vramtui.core.scenario.files import Scenario, load_scenario, preset_path, save_scenario
from vramtui.core.vocab import ServerKind


def _within(seconds: float, work: Callable[[], object]) -> object:
    """Run `work` in a thread and fail, rather than hang the suite, if it does not end."""
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "hung"
    return box[0] if box else None


# -- machine presets ---------------------------------------------------------------------------


def _machine_text(ident: str, **changes: str) -> str:
    text = (bundled_presets_dir() / "desktop-rtx-4090.toml").read_text()
    lines = [f'id = "{ident}"' if line.startswith("id =") else line for line in text.splitlines()]
    for key, value in changes.items():
        lines = [f"{key} = {value}" if line.startswith(f"{key} =") else line for line in lines]
    return "\n".join(lines) + "\n"


def _bad(**changes: str) -> Callable[[Path], None]:
    """A writer of the bundled RTX 4090 preset, as id "x", with `changes`."""
    return lambda path: path.write_text(_machine_text("x", **changes)) and None


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("nan", _bad(bandwidth_gbps="nan"), "bandwidth_gbps: nan"),
        ("inf", _bad(fp16_tflops="inf"), "fp16_tflops: inf"),
        ("huge", _bad(total_ram_gib="1e300"), "total_ram_gib: 1e+300"),
        ("step", _bad(carve_out_steps_mib="[512, nan]"), "carve_out_steps_mib[1]: nan"),
        (
            "steps",
            _bad(carve_out_steps_mib=str(list(range(1, 66)))),
            "carve_out_steps_mib: more than 64 entries",
        ),
        ("deep", lambda p: p.write_text("id = " + "[" * 20_000 + "]" * 20_000), "nested too deep"),
        ("zero", lambda p: p.symlink_to("/dev/zero"), "is a device, not a regular file"),
        ("fifo", os.mkfifo, "is a FIFO"),
        ("big", lambda p: p.write_text("# " + "x" * 300_000), "too large"),
    ],
)
def test_a_bad_machine_preset_is_reported_once_and_skipped(
    name: str, make: Callable[[Path], None], expected: str
) -> None:
    folder = user_machines_dir()
    folder.mkdir(parents=True)
    (folder / "good.toml").write_text(_machine_text("good-box"))
    make(folder / f"{name}.toml")
    catalog = _within(20, load_machines)
    assert catalog is not None
    assert catalog.get("good-box") is not None and catalog.get("x") is None  # type: ignore[attr-defined]
    problems = catalog.problems  # type: ignore[attr-defined]
    assert len(problems) == 1 and expected in problems[0] and f"{name}.toml" in problems[0]
    assert "\n" not in problems[0]


def test_commands_still_run_beside_a_broken_machine_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = user_machines_dir()
    folder.mkdir(parents=True)
    (folder / "bad.toml").write_text(_machine_text("bad", bandwidth_gbps="nan"))
    assert main(["machines"]) == 0
    assert capsys.readouterr().err.count("bad.toml") == 1
    code = main(["check", "llama-3.1-8b:Q4_K_M", "--machine", "desktop-rtx-4090"])
    assert code in (0, 1)


# -- scenario presets: reads, imports, exclusive saves, write errors ----------------------------


def test_import_refuses_what_is_not_a_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "p.toml"
    os.mkfifo(fifo)
    for source in ("/dev/zero", str(fifo)):
        assert _within(20, lambda source=source: main(["preset", "import", source])) == 2
        assert "not a regular file" in capsys.readouterr().err
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 20_000 + "]" * 20_000)
    with pytest.raises(PresetError, match="nested too deep"):
        load_scenario(str(deep))


def _race(name: str, description: str) -> int:
    scenario = Scenario(
        name=name,
        model_ref="llama-3.1-8b:Q4_K_M",
        machine_id="desktop-rtx-4090",
        description=description,
    )
    try:
        save_scenario(scenario)
    except PresetError:
        return 2
    return 0


def test_concurrent_saves_exactly_one_wins() -> None:
    """20 processes save the same new name at once: one succeeds, 19 are told it exists, and
    the file holds the winner's preset, whole."""
    context = multiprocessing.get_context("fork")
    with context.Pool(20) as pool:
        jobs = pool.starmap_async(_race, [("race", f"writer {i}") for i in range(20)])
        codes = jobs.get(timeout=120)
    assert sorted(codes) == [0] + [2] * 19
    winner = codes.index(0)
    assert load_scenario("race").description == f"writer {winner}"
    assert [p.name for p in preset_path("race").parent.iterdir()] == ["race.toml"]  # no temp


def test_write_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "config-file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("VRAMTUI_CONFIG_DIR", str(not_a_folder))
    code = main(["preset", "save", "x", "llama-3.1-8b:Q4_K_M", "--machine", "desktop-rtx-4090"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot write" in err
    if os.geteuid() != 0:  # root writes into read-only folders
        folder = tmp_path / "ro"
        (folder / "presets").mkdir(parents=True)
        (folder / "presets").chmod(0o555)
        monkeypatch.setenv("VRAMTUI_CONFIG_DIR", str(folder))
        assert (
            main(["preset", "save", "x", "llama-3.1-8b:Q4_K_M", "--machine", "desktop-rtx-4090"])
            == 2
        )
        assert "cannot write" in capsys.readouterr().err


# -- probe history -----------------------------------------------------------------------------


def _nested(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


def test_history_lines_of_any_shape_or_depth_are_skipped() -> None:
    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    good = {"timestamp": "2026-01-01T00:00:00+00:00", "url": "u", "kind": "llamacpp", "model": "m"}
    lines = [
        json.dumps(good),
        "[" * 30_000 + "]" * 30_000,  # deep: RecursionError in Python's json
        json.dumps({**good, "settings": {"a": _nested(200)}}),  # parses, but too deep to keep
        json.dumps({**good, "measured": "not an object"}),
        "x" * 200_000,  # one very long line
        json.dumps(good),
    ]
    path.write_text("\n".join(lines) + "\n")
    problems: list[str] = []
    records = load_history(problems=problems)
    assert len(records) == 2 and len(problems) == 4
    assert main(["probe", "--history"]) == 0


def test_history_that_is_a_fifo_is_not_read(capsys: pytest.CaptureFixture[str]) -> None:
    history_path().parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(history_path())
    problems: list[str] = []
    assert _within(20, lambda: load_history(problems=problems)) == []
    assert "not a regular file" in problems[0]


# -- the probe: deep JSON, impossible timings ---------------------------------------------------


def test_deep_json_from_a_server_is_refused() -> None:
    with pytest.raises(ValueError, match="nested"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ValueError, match="nested"):
        parse_json(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    assert parse_json(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    with serve() as server:
        server.routes["/props"] = Route(body=b'{"a":' * 50_000 + b"1" + b"}" * 50_000)
        timeouts = ProbeTimeouts(connect=1.0, first_token=2.0, total=5.0, request=2.0)

        async def ask(loopback: LoopbackServer) -> object:
            base = loopback.url("")
            async with new_client(timeouts, base) as client:
                return await get_json(client, base, "/props", timeouts)

        with pytest.raises(ProbeError, match="not usable JSON"):
            asyncio.run(ask(server))


@pytest.mark.parametrize(
    ("final", "field", "note"),
    [
        (
            {"timings": {"predicted_per_second": -5.0, "predicted_n": 8}},
            "decode_tokens_per_second",
            "decode speed",
        ),
        ({"timings": {"prompt_ms": -100.0, "prompt_n": 10}}, "ttft_server_s", "server time"),
        ({"timings": {"prompt_per_second": -1.0}}, "prompt_tokens_per_second", "prompt speed"),
        ({"stats": {"time_to_first_token": -0.5}}, "ttft_server_s", "server time"),
    ],
)
def test_negative_timings_are_discarded_with_a_note(
    final: dict[str, object], field: str, note: str
) -> None:
    tally = Tally(t_sent=1.0, finished=True, final=final)  # type: ignore[arg-type]
    result = tally.result(kind=ServerKind.LLAMACPP, url="u", model="m", memory=MemoryEvidence())
    assert getattr(result, field) is None
    assert any(note in n and "discarded" in n for n in result.notes)
    assert field not in json.dumps(result.to_json()) or result.to_json()[field] is None


# -- discovery ---------------------------------------------------------------------------------


def _roots(*pairs: tuple[str, Path]) -> list[tuple[str, str]]:
    return [(source, str(path)) for source, path in pairs]


def test_discovery_skips_fifos_links_out_and_escaping_digests(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    write_tiny_model(tree / "real-Q8_0.gguf")
    os.mkfifo(tree / "trap.gguf")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write_tiny_model(outside / "secret.gguf")
    (tree / "link-out.gguf").symlink_to(outside / "secret.gguf")
    (tree / "link-in.gguf").symlink_to(tree / "real-Q8_0.gguf")
    ollama = tmp_path / "ollama"
    manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / "evil" / "latest"
    manifest.parent.mkdir(parents=True)
    (ollama / "blobs").mkdir()
    manifest.write_text(
        json.dumps(
            {
                "layers": [
                    {
                        "mediaType": "application/vnd.ollama.image.model",
                        "digest": "../../elsewhere/x.gguf",
                    },
                ]
            }
        )
    )
    good = hashlib.sha256(b"ok").hexdigest()
    write_tiny_model(ollama / "blobs" / f"sha256-{good}")
    ok = ollama / "manifests" / "registry.ollama.ai" / "library" / "fine" / "latest"
    ok.parent.mkdir(parents=True)
    ok.write_text(
        json.dumps(
            {
                "layers": [
                    {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{good}"},
                ]
            }
        )
    )
    result = _within(30, lambda: discover_models(roots=_roots(("user", tree), ("ollama", ollama))))
    names = sorted(m.name for m in result.models)  # type: ignore[attr-defined]
    problems = " | ".join(result.problems)  # type: ignore[attr-defined]
    # The link inside the tree is followed (and, being the same file, listed once).
    assert names in (["fine:latest", "link-in"], ["fine:latest", "real-Q8_0"])
    assert "secret" not in " ".join(m.path for m in result.models)  # type: ignore[attr-defined]
    assert "trap.gguf" in problems and "outside the folders scanned" in problems
    assert "not a sha256 name" in problems


def test_a_damaged_discovery_index_is_read_again(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    path = write_tiny_model(tree / "m-Q8_0.gguf")
    discover_models(roots=_roots(("user", tree)))
    index = cache_dir() / "discovery-index.json"
    data = json.loads(index.read_text())
    data["entries"][str(path)] = {
        **data["entries"][str(path)],
        "architecture": [[["x"]]],
        "error": {"no": 1},
    }
    index.write_text(json.dumps(data))
    result = discover_models(roots=_roots(("user", tree)))
    assert [m.architecture for m in result.models] == ["llama"] and result.problems == []
    index.unlink()
    os.mkfifo(index)
    result = _within(20, lambda: discover_models(roots=_roots(("user", tree))))
    assert [m.architecture for m in result.models] == ["llama"]  # type: ignore[attr-defined]
