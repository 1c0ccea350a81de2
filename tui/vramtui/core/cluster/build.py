"""A model over several machines with llama.cpp's RPC backend: the split, each node's memory
and verdict, the speed across the wire and the commands that start it.

The cluster: every node but the last runs `rpc-server` (one RPC device each, its GPU); the last
node (the head) runs `llama-server --rpc ...` and adds its own GPU as the last device, which is
the order llama.cpp gives devices (RPC servers first, then local GPUs: src/llama.cpp). So the
nodes are listed in device order, `--tensor-split` values follow that order, and the head holds
the output layer (the last device) and, on its CPU, the input embeddings, the logits buffer and
the host compute buffer (cluster_memory).

Each node is judged with the single-machine fit's pool rules on its own machine and carve-out
(vramtui.core.fit.fit.judge_memory): device buffers into dedicated memory then GTT / shared
memory (fit/placement.py), the RAM left for its OS and the load peak (fit/ram.py). The whole
cluster fits when every node does.

Without `--tensor-split` llama.cpp splits by each device's free memory; vramtui takes the memory
each node's GPU can address (the fit's pools, less the desktop reserve) as that figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vramtui.core.cluster.commands import ClusterCommands, cluster_commands
from vramtui.core.cluster.memory import ClusterBuffers, DeviceBuffers, cluster_buffers
from vramtui.core.cluster.speed import ClusterSpeed, cluster_speed
from vramtui.core.cluster.types import (
    DEFAULT_RPC_PORT,
    Cluster,
    ClusterNode,
    device_names,
    gpu_capacity,
    split_shares,
)
from vramtui.core.errors import SettingsError
from vramtui.core.estimate.breakdown import Buffer, MemoryBreakdown
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import judge_memory, resolve_settings
from vramtui.core.fit.types import Reason
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.vocab import BufferKind, Place, Verdict


@dataclass(frozen=True)
class NodeResult:
    index: int
    role: str  # "rpc" | "head"
    device: str  # llama.cpp's device name: RPC0.. for rpc-server nodes, the head's GPU last
    state: MachineState
    layers: int
    layer_range: tuple[int, int]
    output_layer: bool
    buffers: DeviceBuffers
    host_buffers: DeviceBuffers | None  # the head's CPU-side buffers
    verdict: Verdict
    reasons: tuple[Reason, ...]
    gpu_capacity_bytes: int
    gpu_used_bytes: int
    system_ram_left_bytes: int
    load_peak_bytes: int

    def to_json(self) -> dict[str, Any]:
        """The node's figures and reason codes; the face adds the reasons' sentences."""
        b = self.buffers
        out: dict[str, Any] = {
            "index": self.index,
            "role": self.role,
            "device": self.device,
            "machine": self.state.machine.id,
            "carve_out_bytes": self.state.carve_out_bytes,
            "os": self.state.os,
            "layers": self.layers,
            "layer_range": list(self.layer_range),
            "output_layer": self.output_layer,
            "weights_bytes": b.weights,
            "kv_bytes": b.kv,
            "recurrent_state_bytes": b.recurrent,
            "compute_bytes": b.compute,
            "gpu_capacity_bytes": self.gpu_capacity_bytes,
            "gpu_used_bytes": self.gpu_used_bytes,
            "verdict": self.verdict,
            "reasons": [r.code for r in self.reasons],
            "system_ram_left_bytes": (
                self.system_ram_left_bytes if self.verdict != Verdict.WILL_NOT_FIT else None
            ),
            "load_peak_bytes": self.load_peak_bytes,
        }
        if self.host_buffers is not None:
            h = self.host_buffers
            out["host_weights_bytes"] = h.weights
            out["host_kv_bytes"] = h.kv + h.recurrent
            out["host_compute_bytes"] = h.compute
        return out


@dataclass(frozen=True)
class ClusterResult:
    cluster: Cluster
    settings: RuntimeSettings
    shares: tuple[float, ...]  # the split llama.cpp is given (or takes from free memory)
    buffers: ClusterBuffers
    nodes: tuple[NodeResult, ...]
    verdict: Verdict
    speed: ClusterSpeed
    commands: ClusterCommands
    # The estimate's notes on the buffers; `vramtui.present.cluster_words.cluster_notes` adds
    # what the split itself calls for.
    notes: tuple[str, ...] = field(default=())

    @property
    def runs(self) -> bool:
        """False when a node will not fit: then the cluster has no speed."""
        return self.verdict != Verdict.WILL_NOT_FIT

    def to_json(self) -> dict[str, Any]:
        sp = self.speed
        return {
            "nodes": [n.to_json() for n in self.nodes],
            "verdict": self.verdict,
            "decode_tokens_per_second": round(sp.decode_tokens_per_second, 2)
            if self.runs
            else None,
            "prefill_tokens_per_second": (
                round(sp.prefill_tokens_per_second, 1) if self.runs else None
            ),
            "decode_tokens_per_second_range": sp.decode_range_json() if self.runs else None,
            "speed": sp.to_json() if self.runs else None,
            "commands": self.commands.to_json(),
            "tensor_split": list(self.cluster.tensor_split or ()),
            "split_shares": [round(s, 6) for s in self.shares],
            "link": self.cluster.link.to_json(),
            "n_ctx": self.buffers.n_ctx,
            "flash_attn": self.buffers.flash_attn,
            "host_output_bytes": self.buffers.output_bytes,
            "notes": list(self.notes),
        }


def _node_breakdown(
    bufs: DeviceBuffers,
    host: DeviceBuffers | None,
    *,
    output_bytes: int,
    settings: RuntimeSettings,
    n_ctx: int,
    layers: int,
    flash_attn: bool,
) -> MemoryBreakdown:
    """The node's buffers in the shape the single-machine fit judges."""
    buffers = [
        Buffer(Place.DEVICE, BufferKind.WEIGHTS, bufs.weights, "model buffer"),
        Buffer(Place.DEVICE, BufferKind.KV_CACHE, bufs.kv, "KV buffer"),
        Buffer(Place.DEVICE, BufferKind.RECURRENT_STATE, bufs.recurrent, "RS buffer"),
        Buffer(Place.DEVICE, BufferKind.COMPUTE, bufs.compute, "compute buffer"),
    ]
    if host is not None:
        buffers += [
            Buffer(Place.HOST, BufferKind.WEIGHTS, host.weights, "CPU model buffer"),
            Buffer(Place.HOST, BufferKind.KV_CACHE, host.kv, "CPU KV buffer"),
            Buffer(Place.HOST, BufferKind.RECURRENT_STATE, host.recurrent, "CPU RS buffer"),
            Buffer(Place.HOST, BufferKind.COMPUTE, host.compute, "CPU compute buffer"),
            Buffer(Place.HOST, BufferKind.OUTPUT, output_bytes, "CPU output buffer"),
        ]
    return MemoryBreakdown(
        buffers=tuple(b for b in buffers if b.n_bytes > 0),
        settings=settings,
        n_ctx=n_ctx,
        n_layers=layers,
        n_gpu_layers=layers + 1,
        flash_attn=flash_attn,
    )


def _judge_node(
    i: int, cluster: Cluster, cb: ClusterBuffers, settings: RuntimeSettings, device: str
) -> NodeResult:
    state = cluster.nodes[i].state
    head = i == cluster.head
    bufs = cb.devices[i]
    host = cb.host if head else None
    layers = cb.split.layers(i)
    bd = _node_breakdown(
        bufs,
        host,
        output_bytes=cb.output_bytes if head else 0,
        settings=settings,
        n_ctx=cb.n_ctx,
        layers=layers,
        flash_attn=cb.flash_attn,
    )
    judged = judge_memory(bd, state, settings)
    return NodeResult(
        index=i,
        role="head" if head else "rpc",
        device=device,
        state=state,
        layers=layers,
        layer_range=cb.split.ranges[i],
        output_layer=cb.split.output_device == i,
        buffers=bufs,
        host_buffers=host,
        verdict=judged.verdict,
        reasons=judged.reasons,
        gpu_capacity_bytes=gpu_capacity(state),
        gpu_used_bytes=judged.gpu_used_bytes,
        system_ram_left_bytes=judged.system_ram_left_bytes,
        load_peak_bytes=judged.load_peak_bytes,
    )


def _check_settings(settings: RuntimeSettings) -> None:
    """Settings whose placement across RPC nodes vramtui does not model: refused by name
    rather than answered wrongly (expert overrides put tensors on the head's CPU and turn
    llama.cpp's pipeline parallelism off; a draft model adds a second split)."""
    given = [
        flag
        for flag, on in (
            ("--override-tensor", bool(settings.override_tensor)),
            ("--cpu-moe", settings.cpu_moe),
            ("--n-cpu-moe", settings.n_cpu_moe > 0),
            ("--model-draft", bool(settings.model_draft)),
        )
        if on
    ]
    if given:
        raise SettingsError(
            f"{', '.join(given)}: not modelled for a cluster (vramtui cluster "
            "places every layer on the nodes' GPUs)"
        )


def evaluate_cluster(
    spec: ModelSpec,
    settings: RuntimeSettings,
    cluster: Cluster,
    *,
    prompt_tokens: int | None = None,
) -> ClusterResult:
    """Split `spec` over the cluster as llama.cpp would, judge every node, estimate the speed."""
    _check_settings(settings)
    s = resolve_settings(spec, settings, cluster.nodes[-1].state)
    shares = split_shares(cluster)
    if not any(shares):
        raise SettingsError("no node has GPU memory to split the model by")
    cb = cluster_buffers(spec, s, shares)
    names = device_names(cluster)
    nodes = tuple(_judge_node(i, cluster, cb, s, names[i]) for i in range(len(cluster.nodes)))
    verdict = Verdict.from_severities(
        {sev for n in nodes for sev in (r.severity for r in n.reasons)}
    )
    speed = cluster_speed(spec, s, cluster, cb, prompt_tokens=prompt_tokens)
    commands = cluster_commands(spec, s, cluster, cb)
    return ClusterResult(
        cluster=cluster,
        settings=s,
        shares=tuple(shares),
        buffers=cb,
        nodes=nodes,
        verdict=verdict,
        speed=speed,
        commands=commands,
        notes=cb.notes,
    )


__all__ = [
    "DEFAULT_RPC_PORT",
    "Cluster",
    "ClusterNode",
    "ClusterResult",
    "NodeResult",
    "evaluate_cluster",
    "gpu_capacity",
]
