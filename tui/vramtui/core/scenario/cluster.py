"""A scenario preset can hold a cluster: the nodes as typed on the command line, the tensor
split and the link, so a shared file reproduces `vramtui cluster` (and the app's cluster view).

In the file:
    [cluster]
    nodes = ["framework-desktop-128gb:96G", "framework-desktop-128gb:96G@10.0.0.2"]
    tensor_split = "1,1"            # optional: llama.cpp's -ts, one value per node
    link = "10gbe"                  # optional: see vramtui.core.hardware.links
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vramtui.core.errors import PresetError
from vramtui.core.hardware.links import DEFAULT_LINK, link_ids

MAX_NODES = 16
_KEYS = ("nodes", "tensor_split", "link")


@dataclass(frozen=True)
class ClusterPreset:
    nodes: tuple[str, ...]  # `ID[:CARVE][@HOST[:PORT]]`, in llama.cpp's device order
    tensor_split: str = ""
    link: str = DEFAULT_LINK

    def to_toml_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"nodes": list(self.nodes), "link": self.link}
        if self.tensor_split:
            data["tensor_split"] = self.tensor_split
        return data


def cluster_from_table(raw: Any, source: str) -> ClusterPreset:
    """The [cluster] table, validated; PresetError names the field."""
    if not isinstance(raw, dict):
        raise PresetError(source, "cluster", "expected a [cluster] table")
    for key in raw:
        if key not in _KEYS:
            raise PresetError(source, f"cluster.{key}", "unknown key")
    nodes = raw.get("nodes")
    if not isinstance(nodes, list) or not all(isinstance(n, str) and n.strip() for n in nodes):
        raise PresetError(source, "cluster.nodes", "expected a list of machine[:carve-out]")
    if not 2 <= len(nodes) <= MAX_NODES:
        raise PresetError(source, "cluster.nodes", f"needs 2 to {MAX_NODES} nodes")
    split = raw.get("tensor_split", "")
    if not isinstance(split, str):
        raise PresetError(source, "cluster.tensor_split", 'expected a string like "1,1"')
    link = raw.get("link", DEFAULT_LINK)
    if link not in link_ids():
        raise PresetError(source, "cluster.link", f"one of {', '.join(link_ids())}")
    return ClusterPreset(tuple(n.strip() for n in nodes), split.strip(), link)
