"""A handful of docs/conformance.md's rows, measured again from the checked-in layouts with the
pinned llama.cpp (`make rpc-oracle`): the table must say what llama.cpp and the estimate say now.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.conformance import archlist
from tools.conformance.__main__ import DOC, LAYOUTS, run_one
from tools.conformance.table import parse_rows, row_cells

pytestmark = [pytest.mark.oracle, pytest.mark.rpc_oracle]

# An exact dense model, a generic-rules one, a recurrent one, a sliding-window one, a hybrid MoE
# started from the catalog table and one started from hints.json.
ARCHS = ["llama", "falcon", "mamba", "gemma2", "qwen35moe", "cohere2moe"]


@pytest.mark.parametrize("arch", ARCHS)
def test_row_matches_a_new_measurement(arch: str, tmp_path: Path) -> None:
    layouts = json.loads(LAYOUTS.read_text(encoding="utf-8"))
    assert layouts[arch]["loaded"], f"{arch} did not load when the table was made"
    result = run_one(arch, layouts, tmp_path, resynth=False)
    entry = next(a for a in archlist.load() if a["name"] == arch)
    table = parse_rows(DOC.read_text(encoding="utf-8"))
    assert row_cells(entry, result) == table[arch]
