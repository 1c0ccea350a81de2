"""The cluster as a user describes it: machines in llama.cpp's device order, the link between
them, the tensor split (vramtui.core.cluster.build has the full story)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from vramtui.core.errors import SettingsError
from vramtui.core.fit.placement import desktop_gpu_reserve
from vramtui.core.hardware.links import LinkPreset
from vramtui.core.hardware.pools import MachineState, compute_pools
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import ascii_int, parse_size
from vramtui.core.vocab import Backend, OsName

DEFAULT_RPC_PORT = 50052  # rpc-server's default port (tools/rpc/rpc-server.cpp)


@dataclass(frozen=True)
class ClusterNode:
    """One machine of the cluster, in device order; `host` names it in the commands."""

    state: MachineState
    host: str = ""
    port: int = DEFAULT_RPC_PORT


@dataclass(frozen=True)
class Cluster:
    """Nodes in llama.cpp's device order (the last one runs llama-server), the link between
    them, and the `--tensor-split` (None: llama.cpp's default, by free memory)."""

    nodes: tuple[ClusterNode, ...]
    link: LinkPreset
    tensor_split: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.nodes) < 2:
            raise SettingsError("a cluster needs at least two nodes")
        ts = self.tensor_split
        if ts is not None:
            if len(ts) != len(self.nodes):
                raise SettingsError(
                    f"--tensor-split has {len(ts)} values for {len(self.nodes)} nodes"
                )
            if any(v < 0 for v in ts) or not any(v > 0 for v in ts):
                raise SettingsError("--tensor-split values must be >= 0 and not all zero")

    @property
    def head(self) -> int:
        return len(self.nodes) - 1

    def host_of(self, i: int) -> str:
        return self.nodes[i].host or f"node{i + 1}"


def gpu_capacity(state: MachineState) -> int:
    """Bytes the node's GPU can address for llama.cpp's buffers (the fit's pools, less the
    desktop's own share): what a free-memory split weighs the node by."""
    pools = compute_pools(state)
    return max(pools.gpu_total_bytes - desktop_gpu_reserve(state), 0)


def device_names(cluster: Cluster) -> list[str]:
    """llama.cpp's names: RPC0, RPC1, ... then the head's own GPU (Vulkan0, ROCm0, ...)."""
    names = [f"RPC{i}" for i in range(len(cluster.nodes) - 1)]
    backend = cluster.nodes[-1].state.resolved_backend
    label = {
        Backend.VULKAN: "Vulkan0",
        Backend.ROCM: "ROCm0",
        Backend.CUDA: "CUDA0",
        Backend.METAL: "MTL0",
    }
    names.append(label.get(backend, "CPU"))
    return names


def split_shares(cluster: Cluster) -> tuple[float, ...]:
    """The shares llama.cpp splits the layers by: the tensor split, else free memory."""
    if cluster.tensor_split is not None:
        return cluster.tensor_split
    return tuple(float(gpu_capacity(n.state)) for n in cluster.nodes)


def _split_host(text: str) -> tuple[str, str, int | None]:
    """ "ID[:CARVE]@HOST[:PORT]" -> ("ID[:CARVE]", HOST, PORT)."""
    if "@" not in text:
        return text, "", None
    node, _, where = text.partition("@")
    host, _, port = where.partition(":")
    if not host:
        raise SettingsError(f"node {text!r}: nothing after '@' (HOST[:PORT])")
    if port:
        number = ascii_int(port, 1, 65535)
        if number is None:
            raise SettingsError(f"node {text!r}: port {port!r} is not 1-65535")
        return node, host, number
    return node, host, None


def node_from_text(
    text: str,
    *,
    os: OsName | None = None,
    backend: Backend | None = None,
    gtt_bytes: int | None = None,
) -> ClusterNode:
    """A node as typed: `ID[:CARVE][@HOST[:PORT]]` (machine preset, BIOS carve-out, where it
    listens), on the machine's default OS unless `os` says otherwise."""
    spec, host, port = _split_host(text.strip())
    machine_id, _, carve = spec.partition(":")
    if not machine_id:
        raise SettingsError(f"node {text!r}: no machine id (see `vramtui machines`)")
    machine = get_machine(machine_id)
    changes: dict[str, Any] = {}
    if carve:
        changes["carve_out_bytes"] = parse_size(carve, f"node {machine_id}")
    if os:
        changes["os"] = os
    if backend:
        changes["backend"] = backend
    if gtt_bytes is not None:
        changes["gtt_bytes"] = gtt_bytes
    state = MachineState.default_for(machine, **changes)
    return ClusterNode(state, host=host, port=port or DEFAULT_RPC_PORT)


def tensor_split_from_text(text: str | None, n_nodes: int) -> tuple[float, ...] | None:
    """`--tensor-split A,B,...` as llama.cpp takes it (None: split by free memory)."""
    if text is None or not text.strip():
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise SettingsError(f"--tensor-split {text!r}: not comma-separated numbers") from None
    if len(values) != n_nodes:
        raise SettingsError(f"--tensor-split has {len(values)} values for {n_nodes} nodes")
    if any(v < 0 or not math.isfinite(v) for v in values) or not any(values):
        raise SettingsError(f"--tensor-split {text!r}: values must be >= 0, not all zero")
    return values
