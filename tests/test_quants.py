"""`vramtui quants`: every quant of a model on one machine, and the largest that runs cleanly.

The ZBook article's question (which Qwen3-VL-32B quant fits a 32 GB carve-out under LM Studio
at 16K? Q5_K_M) asked of the catalog, of a folder of real GGUF files, and of a Hugging Face
repository served by a loopback HTTP server shaped after the Hub's tree API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.http_server import LoopbackServer, Route, serve
from vramtui.cli.main import main
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.gguf.writer import write_sparse_gguf
from vramtui.core.remote.hf_listing import group_quants, list_hf_files, quant_name
from vramtui.core.remote.http import RemoteOptions

ZBOOK_SETUP = [
    "--machine",
    "hp-zbook-ultra-g1a-64gb",
    "--carve-out",
    "32G",
    "-c",
    "16384",
    "--runtime",
    "lmstudio",
]
QUANTS = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")
STEM = "Qwen3-VL-32B-Instruct"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def quant_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The catalog's Qwen3-VL-32B quants as sparse GGUF files, with the F16 projector."""
    root = tmp_path_factory.mktemp("qwen3-vl-32b")
    for q in QUANTS:
        spec = open_catalog_model(f"qwen3-vl-32b:{q}")
        assert spec is not None and spec.mmproj is not None
        # The vocabulary by its size (writing 151,936 token strings costs seconds per file).
        spec = replace(spec, metadata={**spec.metadata, "qwen3vl.vocab_size": 151936})
        write_sparse_gguf(root / f"{STEM}-{q}.gguf", spec, tokenizer=False)
    write_sparse_gguf(root / f"mmproj-{STEM}-F16.gguf", spec.mmproj)
    (root / "README.md").write_text("not a model\n")
    return root


def test_catalog_ladder_names_q5_k_m_on_the_zbook(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "quants", "qwen3-vl-32b", *ZBOOK_SETUP, "--json")
    data = json.loads(out)
    assert code == 0
    assert data["largest_clean"] == "Q5_K_M"
    assert data["largest_clean_ref"] == "qwen3-vl-32b:Q5_K_M"
    rows = {r["quant"]: r for r in data["quants"]}
    assert list(rows) == list(QUANTS)  # smallest file first
    assert rows["Q5_K_M"]["clean"] and rows["Q5_K_M"]["file_size"] == "23.21 GB"
    assert rows["Q6_K"]["verdict"] == "fits_with_warnings"  # spills: the article's "much slower"
    assert "spills_to_shared" in rows["Q6_K"]["reasons"]
    assert rows["Q8_0"]["verdict"] == "will_not_fit"
    assert rows["Q8_0"]["decode_tokens_per_second"] is None
    for q in ("Q4_K_M", "Q5_K_M"):
        assert rows[q]["max_clean_context"] >= 16384
        assert rows[q]["gpu_memory_used_bytes"] < 32 << 30
    code, out, _ = _run(capsys, "quants", "qwen3-vl-32b", *ZBOOK_SETUP)
    assert code == 0
    star = [line for line in out.splitlines() if line.startswith("*")]
    assert len(star) == 2 and "Q5_K_M" in star[0] and "Q5_K_M" in star[1]


def test_settings_change_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    """The ZBook article: 24K is the practical limit at 32 GB; at 32K only Q4_K_M runs cleanly."""
    code, out, _ = _run(capsys, "quants", "qwen3-vl-32b", *ZBOOK_SETUP, "-c", "32K", "--json")
    assert json.loads(out)["largest_clean"] in ("Q4_K_M", None)
    code, out, _ = _run(
        capsys,
        "quants",
        "qwen3-vl-32b",
        *ZBOOK_SETUP[:2],
        "--carve-out",
        "512M",
        "-c",
        "16K",
        "--runtime",
        "lmstudio",
        "--json",
    )
    data = json.loads(out)
    assert data["largest_clean"] is None and code == 1  # everything spills at 512 MB


def test_folder_of_quants(quant_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "quants", str(quant_folder), *ZBOOK_SETUP, "--json")
    data = json.loads(out)
    assert code == 0 and data["source"] == "folder"
    rows = data["quants"]
    assert [r["quant"] for r in rows] == list(QUANTS)  # the projector and README left out
    for r in rows:
        path = Path(r["ref"])
        assert r["file_size_bytes"] == path.stat().st_size and r["file_size_source"] == "disk"
    assert data["largest_clean"] == "Q5_K_M"


@pytest.fixture
def hub(quant_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """`org/qwen3-vl-gguf` as the Hub serves it: the tree listing (two pages, LFS sizes) and
    /resolve/ URLs with Range support. The F32 files are listed but not served."""
    with serve() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url(""))
        files = sorted(quant_folder.glob("*.gguf"))
        entries = [
            {"type": "directory", "path": "docs", "oid": "d0", "size": 0},
            {"type": "file", "path": "README.md", "oid": "r0", "size": 11},
        ]
        for f in files:
            size = f.stat().st_size
            entries.append(
                {
                    "type": "file",
                    "path": f.name,
                    "oid": "x",
                    "size": size,
                    "lfs": {"oid": "sha", "size": size, "pointerSize": 135},
                }
            )
            server.add_file(f"/org/qwen3-vl-gguf/resolve/main/{f.name}", f)
        f32 = {
            "type": "file",
            "path": f"F32/{STEM}-F32-00001-of-00002.gguf",
            "oid": "b",
            "size": 70_000_000_000,
            "lfs": {"oid": "s", "size": 70_000_000_000, "pointerSize": 135},
        }
        f32b = {
            **f32,
            "path": f"F32/{STEM}-F32-00002-of-00002.gguf",
            "size": 61_100_000_000,
            "lfs": {"oid": "t", "size": 61_100_000_000},
        }
        first, second = entries[:4], [*entries[4:], f32, f32b]
        page2 = server.url("/api/models/org/qwen3-vl-gguf/tree-page-2")
        server.routes["/api/models/org/qwen3-vl-gguf/tree/main"] = Route(
            body=json.dumps(first).encode(),
            content_type="application/json",
            headers={"Link": f'<{page2}?cursor=abc>; rel="next"'},
        )
        server.routes["/api/models/org/qwen3-vl-gguf/tree-page-2"] = Route(
            body=json.dumps(second).encode(), content_type="application/json"
        )
        yield server


def test_hub_listing_follows_pages_and_groups_shards(hub: LoopbackServer) -> None:
    hf, files = list_hf_files("hf:org/qwen3-vl-gguf", options=RemoteOptions(total_timeout=10))
    assert hf.repo == "org/qwen3-vl-gguf"
    assert "README.md" in [f.path for f in files] and "docs" not in [f.path for f in files]
    quants = group_quants(files)
    assert [q.quant for q in quants] == [*QUANTS, "F32"]
    assert quants[-1].size == 131_100_000_000 and len(quants[-1].paths) == 2
    assert quant_name("Q8_0/M-Q8_0-00001-of-00003.gguf") == "Q8_0"


def test_hub_ladder_reads_only_the_headers_it_needs(
    hub: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "quants", "hf:org/qwen3-vl-gguf", *ZBOOK_SETUP, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["source"] == "hf" and data["largest_clean"] == "Q5_K_M"
    rows = {r["quant"]: r for r in data["quants"]}
    assert rows["Q5_K_M"]["file_size_source"] == "hub"
    assert rows["Q5_K_M"]["ref"] == f"hf:org/qwen3-vl-gguf/{STEM}-Q5_K_M.gguf"
    # The 131 GB F32 cannot load on a 64 GB machine: judged without reading its header.
    assert rows["F32"]["verdict"] == "will_not_fit" and "not read" in rows["F32"]["messages"][0]
    paths = [r.path for r in hub.gets()]
    assert paths[0] == "/api/models/org/qwen3-vl-gguf/tree/main?recursive=true"
    assert paths[1] == "/api/models/org/qwen3-vl-gguf/tree-page-2?cursor=abc"
    assert not any("F32" in p or "README" in p for p in paths)
    assert sum("mmproj" in p for p in paths) >= 1
    first_gets = len(hub.gets())
    # Judged as the catalog's synthesized quants are (the files were written from them).
    _, cat, _ = _run(capsys, "quants", "qwen3-vl-32b", *ZBOOK_SETUP, "--json")
    for r in json.loads(cat)["quants"]:
        assert rows[r["quant"]]["verdict"] == r["verdict"]
        assert rows[r["quant"]]["reasons"] == r["reasons"]
    hub.clear_log()
    code, out, _ = _run(capsys, "quants", "hf:org/qwen3-vl-gguf", *ZBOOK_SETUP, "--json")
    assert json.loads(out)["largest_clean"] == "Q5_K_M"
    # Second time the headers come from the cache: no range reads of the model files.
    ranged = [r for r in hub.gets() if r.range is not None]
    assert not ranged and len(hub.gets()) < first_gets


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("qwen3-vl-32b:Q4_K_M", "without a quant"),
        ("no-such-model", "without a quant"),
        ("hf:org/repo/file.gguf", "repository alone"),
    ],
)
def test_bad_models_exit_2_with_one_line(
    model: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "quants", model, *ZBOOK_SETUP)
    assert code == 2 and err.count("\n") == 1 and words in err


ZBOOK_16K_LMSTUDIO = ["--machine", "hp-zbook-ultra-g1a-64gb", "--runtime", "lmstudio", "-c", "16K"]


def test_without_a_carve_out_each_quant_is_rated_at_its_best_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No --carve-out: every quant at the step `recommend` picks for it, so the answer is the
    2026-02-02 article's (Q5_K_M at 16K under LM Studio), not the preset's 512 MiB default."""
    code, out, _ = _run(capsys, "quants", "qwen3-vl-32b", *ZBOOK_16K_LMSTUDIO, "--json")
    data = json.loads(out)
    assert code == 0 and data["largest_clean"] == "Q5_K_M"
    assert data["carve_out_choice"] == "best_step" and data["carve_out_bytes"] is None
    assert data["largest_clean_carve_out_bytes"] == 32 << 30
    rows = {r["quant"]: r for r in data["quants"]}
    for q in QUANTS:
        _, rec, _ = _run(capsys, "recommend", f"qwen3-vl-32b:{q}", *ZBOOK_16K_LMSTUDIO, "--json")
        step = json.loads(rec)["recommended_carve_out_bytes"]
        assert rows[q]["carve_out_bytes"] == step, q  # the step recommend stars
    # Q8_0 loads at no step: no step named, and no speed or RAM left.
    q8 = rows["Q8_0"]
    assert q8["verdict"] == "will_not_fit" and q8["carve_out_bytes"] is None
    assert q8["decode_tokens_per_second"] is None and q8["system_ram_left_bytes"] is None
    # The same quant checked at its step gives the same figures.
    _, chk, _ = _run(
        capsys, "check", "qwen3-vl-32b:Q5_K_M", *ZBOOK_16K_LMSTUDIO, "--carve-out", "32G", "--json"
    )
    checked = json.loads(chk)
    assert rows["Q5_K_M"]["verdict"] == checked["verdict"]
    assert rows["Q5_K_M"]["system_ram_left_bytes"] == checked["system_ram_left_bytes"]
    code, out, _ = _run(capsys, "quants", "qwen3-vl-32b", *ZBOOK_16K_LMSTUDIO)
    assert code == 0 and "best BIOS carve-out step" in out
    cells = {c[0]: c for c in (line.lstrip("* ").split() for line in out.splitlines()) if c}
    assert cells["Q5_K_M"][3:5] == ["32", "GiB"]
    assert next(line for line in out.splitlines() if line.startswith("*")).split()[1] == "Q5_K_M"
    assert cells["Q8_0"][3:5] == ["-", "no"]  # no step loads it: will not fit
    assert "Q5_K_M (23.21 GB) at a 32 GiB carve-out" in out


def test_a_given_carve_out_rates_every_quant_there(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["glm-4.7-flash", "--machine", "hp-zbook-ultra-g1a-64gb"]
    code, out, _ = _run(capsys, "quants", *base, "--json")
    best = json.loads(out)
    assert code == 0 and best["largest_clean"] is not None
    code, out, _ = _run(capsys, "quants", *base, "--carve-out", "512M", "--json")
    given = json.loads(out)
    assert code == 1 and given["largest_clean"] is None  # everything spills at 512 MiB
    assert given["carve_out_choice"] == "given" and given["carve_out_bytes"] == 512 << 20
    assert {r["carve_out_bytes"] for r in given["quants"]} == {512 << 20}
    code, out, _ = _run(capsys, "quants", *base, "--carve-out", "512M")
    assert "No quant runs cleanly here" in out and "carve-out 512 MiB" in out
