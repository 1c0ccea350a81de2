"""Speed of a model split over a llama.cpp RPC cluster: each node's own work plus the wire.

Decode (one token): the layers run one device after another, so the time is the sum of
  - each node's share of the work, from the single-machine speed model on that node's machine
    (vramtui.core.speed.predict: the node's layers, and the output layer on the last device, read
    at its bandwidth with its fitted constants);
  - for every rpc-server node that holds layers: one TCP round trip of the link (the scheduler
    waits for the node's result), `RPC_COMMAND_S` of RPC software per device per token, and the
    bytes it exchanges over the link's bandwidth: the activations in and out
    (n_embd x `ACT_BYTES` each way; two devices on different servers exchange them through
    the head: ggml-rpc.cpp `ggml_backend_rpc_buffer_cpy_tensor` copies only within one server,
    so a copy between servers is a get_tensor to the head and a set_tensor from it), the KQ
    mask over the cached positions (F16 with flash attention, F32 without) and the positions;
    the device with the output layer sends the logits (n_vocab x 4 bytes) instead.
Prefill (a prompt in ubatches of n_ubatch tokens): per ubatch every node computes its layers
(the single-machine prefill model, scaled to its share of the layers) and every rpc-server node
exchanges n_ubatch times the bytes above. With every layer offloaded llama.cpp overlaps the
ubatches of a batch across devices (pipeline parallelism, llama-context.cpp): a batch of k
ubatches takes one pass through every stage plus k - 1 times its slowest stage, where the head's
network interface, which carries every transfer, is a stage of its own. So a slow link limits
prefill even when it barely shows in decode.

Constants: `RPC_COMMAND_S` was fitted on one public row and checked on the others
(bench/bench_cluster.py prints both); the links' bandwidth and round trip are in links.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vramtui.core.cluster.memory import ClusterBuffers
from vramtui.core.cluster.types import Cluster
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.estimate.memory import estimate_memory, kv_cells
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.speed.bands import speed_band
from vramtui.core.speed.constants import REQUEST_OVERHEAD_S, constants_for
from vramtui.core.speed.features import SpeedInputs, decode_terms, prefill_terms
from vramtui.core.speed.predict import (
    DEFAULT_PROMPT_TOKENS,
    default_decode_depth,
    rounded_range,
    speed_inputs,
)

ACT_BYTES = 4  # the residual stream between devices is F32 (llama-graph.cpp builds it in F32)
# RPC software per device per token beyond the wire: the scheduler's split bookkeeping, the
# graph (re)compute command and its reply, the server's dispatch. Fitted on one differential
# row: two DGX Sparks against one, same model and binary, `--rpc` the only change, decode
# 12.83 -> 12.42 tok/s (defilantech/LLMKube #1423): 1/12.42 - 1/12.83 = 2.57 ms per token for
# one rpc-server device, less an 80 us round trip and 42 KB at 17.8 Gbit/s = 2.47 ms. Check
# rows (kyuz0's two Framework Desktops over 50 GbE) in bench/bench_cluster.py.
RPC_COMMAND_S = 2.47e-3
_HOST_TERMS = frozenset({"cpu", "cpulayer", "p.host", "p.cpu"})
_FLOP_TERMS = frozenset({"p.q", "p.mx", "p.f16", "p.bf16", "p.attn", "p.score"})


@dataclass(frozen=True)
class NodeSpeed:
    decode_compute_s: float  # this node's layers for one token
    decode_network_s: float  # this node's round trip, RPC commands and bytes for one token
    prefill_compute_s: float  # this node's layers for one ubatch
    prefill_network_s: float  # this node's transfers for one ubatch (round trip included)
    prefill_wire_s: float = 0.0  # of which bytes on the wire (what the head's link carries)

    def to_json(self) -> dict[str, Any]:
        return {
            "decode_compute_ms": round(self.decode_compute_s * 1e3, 3),
            "decode_network_ms": round(self.decode_network_s * 1e3, 3),
            "prefill_ubatch_compute_ms": round(self.prefill_compute_s * 1e3, 2),
            "prefill_ubatch_network_ms": round(self.prefill_network_s * 1e3, 2),
        }


@dataclass(frozen=True)
class ClusterSpeed:
    decode_tokens_per_second: float
    prefill_tokens_per_second: float
    time_to_first_token_s: float
    prompt_tokens: int
    nodes: tuple[NodeSpeed, ...]
    pipeline: bool  # llama.cpp overlaps ubatches across devices
    prefill_limited_by_link: bool
    basis: str
    # measured / predicted, [low, high], over the nodes that hold layers (`_cluster_ratio`)
    decode_ratio: tuple[float, float] = (1.0, 1.0)
    prefill_ratio: tuple[float, float] = (1.0, 1.0)

    def decode_range(self) -> tuple[float, float]:
        lo, hi = self.decode_ratio
        return (self.decode_tokens_per_second * lo, self.decode_tokens_per_second * hi)

    def prefill_range(self) -> tuple[float, float]:
        lo, hi = self.prefill_ratio
        return (self.prefill_tokens_per_second * lo, self.prefill_tokens_per_second * hi)

    def decode_range_json(self) -> list[float] | None:
        return rounded_range(self.decode_range(), 2)

    @property
    def decode_network_share(self) -> float:
        total = sum(n.decode_compute_s + n.decode_network_s for n in self.nodes)
        return sum(n.decode_network_s for n in self.nodes) / total if total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "decode_tokens_per_second": round(self.decode_tokens_per_second, 2),
            "prefill_tokens_per_second": round(self.prefill_tokens_per_second, 1),
            "time_to_first_token_s": round(self.time_to_first_token_s, 3),
            "decode_tokens_per_second_range": self.decode_range_json(),
            "prefill_tokens_per_second_range": rounded_range(self.prefill_range(), 1),
            "prompt_tokens": self.prompt_tokens,
            "decode_network_share": round(self.decode_network_share, 4),
            "pipeline_parallel": self.pipeline,
            "prefill_limited_by_link": self.prefill_limited_by_link,
            "nodes": [n.to_json() for n in self.nodes],
            "basis": self.basis,
        }


def _node_inputs(
    spec: ModelSpec, settings: RuntimeSettings, cluster: Cluster, i: int
) -> SpeedInputs:
    st = cluster.nodes[i].state
    full = estimate_memory(spec, settings.with_changes(n_gpu_layers=None), backend="gpu")
    return speed_inputs(
        spec=spec, machine=st.machine, backend=st.resolved_backend, os=st.os, breakdown=full
    )


def _node_seconds(
    inp: SpeedInputs, layers: int, output: bool, depth: float, prompt: int
) -> tuple[float, float]:
    """(decode seconds per token, prefill seconds per prompt token) for `layers` layers."""
    n = max(inp.profile.n_layers, 1)
    mine = replace(inp, n_dev_layers=min(layers, n), output_on_device=output)
    theta = constants_for(inp.key)
    dec = sum(
        theta.get(t, 0.0) * x for t, x in decode_terms(mine, depth).items() if t not in _HOST_TERMS
    )
    share = min(layers, n) / n
    pre = 0.0
    for t, x in prefill_terms(mine, prompt, 0.0).items():
        if t in _HOST_TERMS:
            continue
        pre += theta.get(t, 0.0) * x * (share if t in _FLOP_TERMS else 1.0)
    return dec, pre


def _wire_bytes(
    n_embd: int, n_vocab: int, n_tokens: int, *, n_kv: int, n_masks: int, fa: bool, output: bool
) -> int:
    """Bytes one rpc-server device exchanges for `n_tokens` tokens (module doc)."""
    act_in = ACT_BYTES * n_embd * n_tokens
    out = 4 * n_vocab if output else ACT_BYTES * n_embd * n_tokens
    mask = (2 if fa else 4) * n_kv * n_tokens * n_masks
    return act_in + out + mask + 4 * n_tokens


def cluster_speed(
    spec: ModelSpec,
    settings: RuntimeSettings,
    cluster: Cluster,
    cb: ClusterBuffers,
    *,
    prompt_tokens: int | None = None,
    decode_depth: int | None = None,
) -> ClusterSpeed:
    """Decode and prefill speed (module doc). Decode is taken at `decode_depth` cached tokens,
    by default where the single-machine model takes it (speed.predict.default_decode_depth)."""
    prompt = prompt_tokens or DEFAULT_PROMPT_TOKENS
    depth = default_decode_depth(cb.n_ctx, prompt) if decode_depth is None else decode_depth
    link = cluster.link
    bps = link.bytes_per_second
    ub = cb.n_ubatch
    inputs = [_node_inputs(spec, settings, cluster, i) for i in range(len(cluster.nodes))]
    hp = ModelHparams.from_spec(spec)
    n_embd, n_vocab = hp.n_embd, hp.n_vocab
    # one KQ mask per cache the graph attends (full, and the windowed one of an iSWA model)
    n_masks = 1 + hp.has_swa_cache
    nodes: list[NodeSpeed] = []
    head = cluster.head
    for i, inp in enumerate(inputs):
        layers = cb.split.layers(i)
        output = cb.split.output_device == i
        dec, pre = _node_seconds(inp, layers, output, depth, prompt) if layers or output else (0, 0)
        net_dec = net_pre = wire_pre = 0.0
        if i != head and (layers or output):
            per_call = link.rtt_s + RPC_COMMAND_S
            kv_dec = kv_cells(depth + 1)
            net_dec = (
                per_call
                + _wire_bytes(
                    n_embd,
                    n_vocab,
                    1,
                    n_kv=kv_dec,
                    n_masks=n_masks,
                    fa=cb.flash_attn,
                    output=output,
                )
                / bps
            )
            kv_pre = kv_cells(prompt)
            wire_pre = (
                _wire_bytes(
                    n_embd, 0, ub, n_kv=kv_pre, n_masks=n_masks, fa=cb.flash_attn, output=False
                )
                / bps
            )
            net_pre = per_call + wire_pre
        nodes.append(NodeSpeed(dec, net_dec, pre * ub, net_pre, wire_pre))
    t_dec = sum(n.decode_compute_s + n.decode_network_s for n in nodes)
    t_pp, link_bound = _prefill_seconds(
        nodes, prompt, ub=ub, n_batch=settings.batch_size, pipeline=cb.pipeline
    )
    decode = 1.0 / t_dec if t_dec > 0 else 0.0
    prefill = prompt / t_pp if t_pp > 0 else 0.0
    basis = (
        f"{len(cluster.nodes)} nodes over {link.name} ({link.bandwidth_gbps:.1f} Gbit/s, "
        f"{link.rtt_s * 1e3:.2f} ms round trip): {sum(n.decode_network_s for n in nodes) * 1e3:.1f}"
        f" ms of {t_dec * 1e3:.1f} ms per token on the wire"
    )
    return ClusterSpeed(
        decode_tokens_per_second=decode,
        prefill_tokens_per_second=prefill,
        time_to_first_token_s=REQUEST_OVERHEAD_S + t_pp + t_dec,
        prompt_tokens=prompt,
        nodes=tuple(nodes),
        pipeline=cb.pipeline,
        prefill_limited_by_link=link_bound,
        basis=basis,
        decode_ratio=_cluster_ratio(inputs, nodes, "decode"),
        prefill_ratio=_cluster_ratio(inputs, nodes, "prefill"),
    )


def _cluster_ratio(
    inputs: list[SpeedInputs], nodes: list[NodeSpeed], figure: str
) -> tuple[float, float]:
    """The cluster's range as measured / predicted: its time is a sum of node times, each off
    by its class's ratio (core/speed/bands.py), and the wire's (taken as exact, ratio 1), so its
    ratio lies between the smallest low and the largest high of the nodes that do work."""
    lows, highs = [1.0], [1.0]
    for inp, node in zip(inputs, nodes, strict=True):
        if node.decode_compute_s or node.prefill_compute_s:
            band = speed_band(inp.key, figure)
            lows.append(band.low)
            highs.append(band.high)
    return (min(lows), max(highs))


def _prefill_seconds(
    nodes: list[NodeSpeed], prompt: int, *, ub: int, n_batch: int, pipeline: bool
) -> tuple[float, bool]:
    """Seconds for the prompt, and whether the head's link is the slowest stage."""
    fill = sum(n.prefill_compute_s + n.prefill_network_s for n in nodes)
    slowest_node = max((n.prefill_compute_s for n in nodes), default=0.0)
    nic = sum(n.prefill_wire_s for n in nodes)  # every transfer passes the head's link
    slowest = max(slowest_node, nic)
    per_batch = max(n_batch // ub, 1)
    n_ub = -(-prompt // ub)
    total = 0.0
    while n_ub > 0:
        k = min(per_batch, n_ub)
        total += fill + (k - 1) * (slowest if pipeline else fill)
        n_ub -= k
    # The last ubatch may be partial: scale by the tokens actually there.
    total *= prompt / (-(-prompt // ub) * ub)
    return total, nic > slowest_node
