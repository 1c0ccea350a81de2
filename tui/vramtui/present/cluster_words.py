"""The cluster's advice and notes in words, for the CLI and the app alike."""

from __future__ import annotations

from vramtui.core.cluster.build import ClusterResult
from vramtui.core.cluster.plan import ClusterRecommendation
from vramtui.core.sizes import format_bytes
from vramtui.present.speed_words import decode_words, rate_span


def cluster_notes(result: ClusterResult) -> list[str]:
    """The estimate's notes, then what the split itself calls for."""
    notes = list(result.notes)
    if any(n.layers == 0 for n in result.nodes):
        notes.append("a node gets no layers at this split: it only adds a network hop")
    return notes


def cluster_recommendation_sentence(rec: ClusterRecommendation) -> str:
    """The smallest set of nodes that runs the model, one node alone, or none."""
    alone, state = rec.single_node, rec.single_state
    if alone is not None and state is not None:
        return (
            f"one node runs it alone ({state.machine.id} at "
            f"{format_bytes(state.carve_out_bytes)}: {alone.verdict.label}, "
            f"{decode_words(alone.speed)}): no cluster needed"
        )
    res = rec.result
    if res is None:
        return (
            "no subset of these nodes, at any carve-out their BIOS offers, runs this model at "
            "these settings"
        )
    parts = [
        f"{n.state.machine.id} at {format_bytes(n.state.carve_out_bytes)}"
        for n in res.cluster.nodes
    ]
    ts = ",".join(f"{v:g}" for v in res.cluster.tensor_split or ())
    sp = res.speed
    span = rate_span(sp.decode_tokens_per_second, sp.decode_range())
    speed = f", {span} tok/s" if res.runs else ""
    return (
        f"{len(rec.node_indices)} nodes run it ({'; '.join(parts)}) with -ts {ts}: "
        f"{res.verdict.label}{speed}"
    )
