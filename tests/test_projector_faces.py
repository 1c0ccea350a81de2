"""The vision projector is one figure on every face: `inspect`, `estimate`, `check` and the
app's model card call "projector" what it occupies loaded (its weights plus the compute graph it
allocates for one image); its weights alone are labelled as weights."""

from __future__ import annotations

import json

import pytest

from vramtui.cli.main import main
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.estimate.memory import projector_size
from vramtui.core.sizes import format_bytes

MODEL = "qwen3-vl-32b:Q6_K"
SCENARIO = ["--machine", "hp-zbook-ultra-g1a-64gb", "--carve-out", "32G", "-c", "16K"]


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(list(argv))
    return capsys.readouterr().out


def test_every_cli_face_gives_one_projector_figure(capsys: pytest.CaptureFixture[str]) -> None:
    spec = open_catalog_model(MODEL)
    assert spec is not None and spec.mmproj is not None
    size = projector_size(spec.mmproj)
    assert size.weights_bytes == spec.mmproj.weights_bytes and size.compute_bytes > 0
    assert format_bytes(size.weights_bytes) == "1.1 GiB"  # the F16 file's tensors
    assert format_bytes(size.loaded_bytes) == "1.5 GiB"  # with the graph for one image

    inspected = json.loads(_out(capsys, "inspect", MODEL, "--json"))["mmproj"]
    assert inspected["weights_bytes"] == size.weights_bytes
    assert inspected["loaded_bytes"] == size.loaded_bytes
    estimated = json.loads(_out(capsys, "estimate", MODEL, *SCENARIO, "--json"))
    assert estimated["mmproj_bytes"] == size.loaded_bytes
    checked = json.loads(_out(capsys, "check", MODEL, *SCENARIO, "--json"))
    in_pools = sum(
        seg["bytes"]
        for pool in checked["pool_usage"]
        for seg in pool["segments"]
        if seg["kind"] == "projector"
    )
    assert in_pools == size.loaded_bytes == checked["estimate"]["mmproj_bytes"]

    text = _out(capsys, "inspect", MODEL)
    loaded = next(line for line in text.splitlines() if "projector loaded" in line)
    assert "1.5 GiB (1.1 GiB weights + " in loaded
    assert "projector 1.5 GiB" in _out(capsys, "check", MODEL, *SCENARIO)
    assert "mmproj weights + compute" in _out(capsys, "estimate", MODEL, *SCENARIO)
