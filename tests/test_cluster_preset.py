"""A scenario preset can hold a cluster: `vramtui cluster ... --save-preset NAME` writes it,
`vramtui cluster --preset NAME` answers the same, and a bad [cluster] table names its field."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest

from vramtui.cli.main import main
from vramtui.core.errors import PresetError
from vramtui.core.scenario.files import scenario_from_toml

NODES = ["--node", "framework-desktop-128gb:32G", "--node", "framework-desktop-128gb:64G"]


def _cluster(*argv: str) -> dict[str, Any]:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["cluster", *argv, "--json"]) in (0, 1, 3)
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def test_a_saved_cluster_answers_the_same() -> None:
    first = _cluster(
        "qwen3-32b:Q4_K_M", *NODES, "-ts", "1,3", "-c", "8192", "--save-preset", "two-boxes"
    )
    again = _cluster("--preset", "two-boxes")
    assert again["nodes"] == first["nodes"] and again["tensor_split"] == [1.0, 3.0]
    assert again["n_ctx"] == 8192
    # Flags beside the preset win.
    wider = _cluster("--preset", "two-boxes", "-ts", "1,1")
    assert wider["tensor_split"] == [1.0, 1.0]


def test_the_json_carries_the_words_present_writes() -> None:
    """A node with no layers gets the note, and --recommend its sentence, in the JSON too."""
    data = _cluster("qwen3-32b:Q4_K_M", *NODES, "-ts", "1,0", "--recommend")
    assert data["nodes"][1]["layers"] == 0
    assert "a node gets no layers at this split: it only adds a network hop" in data["notes"]
    rec = data["recommendation"]
    assert rec["single_node"] and rec["sentence"].endswith("no cluster needed")


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('nodes = ["framework-desktop-128gb"]', "cluster.nodes"),
        ('nodes = "x"', "cluster.nodes"),
        ('nodes = ["a", "b"]\nlink = "carrier-pigeon"', "cluster.link"),
        ('nodes = ["a", "b"]\nspeed = 3', "cluster.speed"),
    ],
)
def test_a_bad_cluster_table_names_its_field(table: str, field: str) -> None:
    text = f'name = "c"\nmodel = "m"\n[machine]\nid = "x"\n[cluster]\n{table}\n'
    with pytest.raises(PresetError, match=field.replace(".", r"\.")):
        scenario_from_toml(text, "c.toml")
