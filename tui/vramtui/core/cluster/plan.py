"""Advice for a cluster: the smallest set of the given nodes, and the carve-out on each, that
runs the model; and the tensor split that balances nodes with unequal memory.

The balanced split gives each device layers in proportion to the memory it has left for them:
what its GPU can address (the fit's pools) less what it holds whatever its share (its compute
buffer; the last device also the output layer). llama.cpp's own default weighs devices by the
free memory they report, which leaves the head's extra buffers and unequal compute buffers out.

The search: node counts from the fewest up, subsets of the given nodes in their order (the last
of a subset is its head), and for each machine the carve-outs its BIOS offers (the same on
every node of that machine, as people set up identical boxes); the first count at which some
choice runs is the answer, the best verdict and then the most RAM left on the tightest node
winning among those.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from vramtui.core.cluster.build import ClusterResult, evaluate_cluster
from vramtui.core.cluster.split import balanced_split
from vramtui.core.cluster.types import Cluster, ClusterNode, gpu_capacity
from vramtui.core.errors import SettingsError
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.vocab import Verdict

MAX_EVALUATIONS = 400  # a bound on the search (subsets x carve-out choices)
_RANK = {Verdict.FITS: 0, Verdict.FITS_WITH_WARNINGS: 1, Verdict.WILL_NOT_FIT: 2}


def balanced_tensor_split(
    spec: ModelSpec, settings: RuntimeSettings, cluster: Cluster
) -> tuple[float, ...]:
    """A `--tensor-split` in whole GiB-proportional numbers that balances the nodes (module
    doc); the cluster's own split is ignored."""
    probe = evaluate_cluster(spec, settings, replace(cluster, tensor_split=None))
    caps = [gpu_capacity(n.state) for n in cluster.nodes]
    fixed = []
    for i, dev in enumerate(probe.buffers.devices):
        extra = dev.compute
        if probe.buffers.split.output_device == i:
            extra += _output_weights(probe, i)
        fixed.append(extra)
    values = balanced_split(caps, fixed)
    if not any(values):
        return tuple(float(c) for c in caps)
    return tuple(float(v) for v in values)


def _output_weights(res: ClusterResult, i: int) -> int:
    """Weights on device i beyond its repeating layers (the output layer), estimated from the
    per-layer average of the other bytes on that device."""
    dev = res.buffers.devices[i]
    layers = res.buffers.split.layers(i)
    total_layers = sum(res.buffers.split.layers(d) for d in range(len(res.buffers.devices)))
    all_weights = sum(d.weights for d in res.buffers.devices)
    per_layer = all_weights / max(total_layers, 1)
    return max(int(dev.weights - per_layer * layers), 0)


@dataclass(frozen=True)
class ClusterRecommendation:
    """The search's answer (`vramtui.present.cluster_words` says it in words)."""

    result: ClusterResult | None  # None: no subset runs it, or one node alone does
    node_indices: tuple[int, ...]  # which of the given nodes, in device order
    evaluated: int
    single_node: FitResult | None = None  # one of the nodes runs the model by itself
    single_state: MachineState | None = None  # that node's machine, at its carve-out

    def to_json(self) -> dict[str, Any]:
        r = self.result
        if self.single_node is not None:
            fit = self.single_node
            return {
                "runs": True,
                "nodes": list(self.node_indices),
                "single_node": True,
                "verdict": fit.verdict,
                "decode_tokens_per_second": round(fit.speed.decode_tokens_per_second, 2),
                "decode_tokens_per_second_range": fit.speed.decode_range_json(),
                "evaluated": self.evaluated,
            }
        return {
            "runs": r is not None,
            "single_node": False,
            "nodes": list(self.node_indices),
            "machines": [n.state.machine.id for n in r.cluster.nodes] if r else [],
            "carve_outs_bytes": [n.state.carve_out_bytes for n in r.cluster.nodes] if r else [],
            "tensor_split": list(r.cluster.tensor_split or ()) if r else [],
            "verdict": r.verdict if r else Verdict.WILL_NOT_FIT,
            "decode_tokens_per_second": (
                round(r.speed.decode_tokens_per_second, 2) if r and r.runs else None
            ),
            "decode_tokens_per_second_range": (
                r.speed.decode_range_json() if r and r.runs else None
            ),
            "commands": r.commands.to_json() if r else None,
            "evaluated": self.evaluated,
        }


def _carve_choices(nodes: Sequence[ClusterNode]) -> list[dict[str, int]]:
    """Every assignment of one BIOS carve-out step per machine id (the current carve-out first,
    then the steps from the smallest)."""
    per_machine: dict[str, list[int]] = {}
    for n in nodes:
        m = n.state.machine
        if m.id in per_machine:
            continue
        steps = [n.state.carve_out_bytes] + [
            s for s in m.carve_out_steps if s != n.state.carve_out_bytes
        ]
        per_machine[m.id] = steps
    ids = list(per_machine)
    return [
        dict(zip(ids, combo, strict=True))
        for combo in itertools.product(*(per_machine[i] for i in ids))
    ]


def _with_carve(node: ClusterNode, carve: dict[str, int]) -> ClusterNode | None:
    st = node.state
    try:
        state = replace(st, carve_out_bytes=carve[st.machine.id])
    except SettingsError:
        return None
    return replace(node, state=state)


def _key(res: ClusterResult) -> tuple[int, int]:
    tightest = min(n.system_ram_left_bytes for n in res.nodes)
    return (_RANK[res.verdict], -tightest)


def recommend_cluster(
    spec: ModelSpec, settings: RuntimeSettings, cluster: Cluster, *, min_nodes: int = 1
) -> ClusterRecommendation:
    """The smallest runnable choice among the cluster's nodes (module doc)."""
    evaluated = 0
    nodes = cluster.nodes
    if min_nodes <= 1:
        alone = _single_node(spec, settings, nodes)
        if alone is not None:
            i, fit = alone
            return ClusterRecommendation(None, (i,), len(nodes), fit, nodes[i].state)
    for k in range(max(min_nodes, 2), len(nodes) + 1):
        best: tuple[tuple[int, int], ClusterResult, tuple[int, ...]] | None = None
        for subset in itertools.combinations(range(len(nodes)), k):
            chosen = [nodes[i] for i in subset]
            for carve in _carve_choices(chosen):
                if evaluated >= MAX_EVALUATIONS:
                    break
                picked = [_with_carve(n, carve) for n in chosen]
                if any(p is None for p in picked):
                    continue
                base = Cluster(tuple(p for p in picked if p is not None), cluster.link)
                ts = balanced_tensor_split(spec, settings, base)
                res = evaluate_cluster(spec, settings, replace(base, tensor_split=ts))
                evaluated += 1
                if res.verdict == Verdict.WILL_NOT_FIT:
                    continue
                if best is None or _key(res) < best[0]:
                    best = (_key(res), res, subset)
        if best is not None:
            _, res, subset = best
            return ClusterRecommendation(res, subset, evaluated)
    return ClusterRecommendation(None, (), evaluated)


def _single_node(
    spec: ModelSpec, settings: RuntimeSettings, nodes: Sequence[ClusterNode]
) -> tuple[int, FitResult] | None:
    """The node that runs the model alone, at its current carve-out, with the best verdict."""
    best: tuple[int, FitResult] | None = None
    for i, n in enumerate(nodes):
        fit = evaluate_fit(spec, settings, n.state)
        if fit.verdict == Verdict.WILL_NOT_FIT:
            continue
        if best is None or _RANK[fit.verdict] < _RANK[best[1].verdict]:
            best = (i, fit)
    return best
