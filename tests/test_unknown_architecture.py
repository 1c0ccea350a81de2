"""An architecture the estimate does not know (one llama.cpp loads, from the conformance
layouts) is still answered, with the generic dense-GQA rules, and flagged
`approximate_estimate` by `estimate --json` and `check --json`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tools.conformance.__main__ import LAYOUTS
from tools.conformance.synth import Layout, write_layout
from vramtui.cli.main import main
from vramtui.core.estimate.hparams import KNOWN_ARCHITECTURES

MACHINE = ["--machine", "hp-zbook-ultra-g1a-64gb", "-c", "4096", "-np", "1"]


# Plain dense attention on every layer in llama.cpp, none in KNOWN_ARCHITECTURES (the first
# that loaded is used); llama as the known one.
UNKNOWN = ("falcon", "starcoder2", "bloom", "orion")


def _model(tmp_path: Path, known: bool) -> tuple[Layout, Path]:
    layouts = json.loads(LAYOUTS.read_text(encoding="utf-8"))
    names = ("llama",) if known else UNKNOWN
    arch = next(a for a in names if layouts.get(a, {}).get("loaded"))
    assert (arch in KNOWN_ARCHITECTURES) == known
    layout = Layout.from_json(arch, layouts[arch])
    return layout, write_layout(layout, tmp_path / f"{arch}.gguf")


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    main(argv)
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_unknown_architecture_is_estimated_and_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout, path = _model(tmp_path, known=False)
    est = _json(capsys, ["estimate", str(path), *MACHINE, "--json"])
    assert est["reasons"] == ["approximate_estimate"]
    assert est["approximate"] is True
    # generic rules: K and V, f16, on every layer, for all 4096 cells
    md = layout.metadata
    n_layer = md[f"{layout.arch}.block_count"]
    n_embd = md[f"{layout.arch}.embedding_length"]
    n_kv = (
        md[f"{layout.arch}.attention.head_count_kv"]
        * n_embd
        // md[f"{layout.arch}.attention.head_count"]
    )
    assert est["kv_bytes"] == 2 * 2 * 4096 * n_kv * n_layer
    # f32 vectors, f16 matrices, as written; llama.cpp loads a tied output matrix twice
    file_bytes = sum((4 if len(s) == 1 else 2) * math.prod(s) for s in layout.tensors.values())
    assert est["weights_bytes"] >= file_bytes  # type: ignore[operator]
    check = _json(capsys, ["check", str(path), *MACHINE, "--json"])
    assert "approximate_estimate" in check["reasons"]  # type: ignore[operator]


def test_known_architecture_is_not_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, path = _model(tmp_path, known=True)
    est = _json(capsys, ["estimate", str(path), *MACHINE, "--json"])
    assert est["reasons"] == []
    check = _json(capsys, ["check", str(path), *MACHINE, "--json"])
    assert "approximate_estimate" not in check["reasons"]  # type: ignore[operator]
