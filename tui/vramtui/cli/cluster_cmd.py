"""`vramtui cluster MODEL --node ID[:CARVE][@HOST[:PORT]] --node ... [--tensor-split A,B,...]
[--link NAME] [settings] [--json]`: a model over several machines with llama.cpp's RPC backend.

Nodes are given in llama.cpp's device order: every node but the last runs `rpc-server`, the last
runs `llama-server --rpc ...` with its own GPU as the last device. `--recommend` also searches
the smallest set of these nodes and carve-outs that runs the model, with a balanced split.

Exit codes as `check`: 0 every node fits, 1 with warnings, 3 a node will not fit, 2 bad input.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from vramtui.cli.common import (
    add_remote_args,
    add_runtime_args,
    bounded_int,
    console,
    enum_flag,
    finish,
    guarded,
    print_json,
    remote_args,
    settings_from_args,
    warn,
)
from vramtui.core.cluster.types import ClusterNode, node_from_text, tensor_split_from_text
from vramtui.core.errors import SettingsError
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.hardware.links import DEFAULT_LINK
from vramtui.core.scenario.cluster import ClusterPreset
from vramtui.core.scenario.files import Scenario, check_name, load_scenario, save_scenario
from vramtui.core.sizes import format_bytes, parse_size
from vramtui.core.vocab import Backend, OsName, Verdict
from vramtui.present import untrusted
from vramtui.present.plan_words import PATH_HINT
from vramtui.present.reasons import reason_text, with_messages
from vramtui.present.speed_words import rate_span
from vramtui.present.untrusted import command, plain

if TYPE_CHECKING:
    from vramtui.core.cluster.build import ClusterResult
    from vramtui.core.cluster.plan import ClusterRecommendation

MAX_NODES = 16


def register(sub: argparse._SubParsersAction[Any]) -> None:
    from vramtui.core.hardware.links import DEFAULT_LINK, link_ids  # noqa: PLC0415

    p = sub.add_parser(
        "cluster", help="a model over several machines with llama.cpp's RPC backend (rpc-server)"
    )
    p.add_argument(
        "model",
        nargs="?",
        help="GGUF file, folder, hf:ORG/REPO/FILE.gguf, URL or catalog id (optional with --preset)",
    )
    p.add_argument(
        "--preset",
        metavar="NAME|FILE",
        help="a scenario preset holding a [cluster]: its model, nodes, split, link and "
        "settings; flags given beside it win",
    )
    p.add_argument(
        "--save-preset", metavar="NAME", help="also save this cluster as a scenario preset to share"
    )
    p.add_argument("--mmproj", default="none", help="projector: none (default), auto or a path")
    add_remote_args(p)
    p.add_argument(
        "--node",
        action="append",
        metavar="ID[:CARVE][@HOST[:PORT]]",
        help="a machine preset id, its carve-out and how the head reaches it; once per node, in "
        "llama.cpp's device order (the last one runs llama-server)",
    )
    p.add_argument(
        "--tensor-split",
        "-ts",
        metavar="A,B,...",
        help="llama.cpp's --tensor-split, one value per node in device order",
    )
    p.add_argument(
        "--link", choices=link_ids(), help=f"the network between the nodes (default {DEFAULT_LINK})"
    )
    p.add_argument(
        "--os",
        dest="os_name",
        choices=[o.value for o in OsName],
        help="the OS on every node (default: each machine's)",
    )
    p.add_argument(
        "--backend",
        choices=[b.value for b in Backend],
        help="the GPU backend on every node (default: each machine's)",
    )
    p.add_argument("--gtt", help="Linux GTT size on every node, e.g. 120G")
    p.add_argument(
        "--prompt-tokens",
        type=bounded_int(1, 1 << 24),
        help="prompt length for prefill and time to first token",
    )
    p.add_argument(
        "--recommend",
        action="store_true",
        help="also: the fewest of these nodes and the carve-outs that run the model, "
        "with a balanced tensor split",
    )
    add_runtime_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=guarded(run_cluster))


def parse_node(text: str, args: argparse.Namespace) -> ClusterNode:
    """One `--node` value, with the OS, backend and GTT flags applied to every node."""
    gtt = parse_size(args.gtt, "--gtt") if args.gtt else None
    os_name, backend = enum_flag(OsName, args.os_name), enum_flag(Backend, args.backend)
    return node_from_text(text, os=os_name, backend=backend, gtt_bytes=gtt)


def _save_preset(name: str, model: str, settings: RuntimeSettings, held: ClusterPreset) -> None:
    """The cluster as a scenario preset; its [machine] is the head node's."""
    head = held.nodes[-1].partition("@")[0]
    machine_id, _, carve = head.partition(":")
    scenario = Scenario(
        name=check_name(name),
        model_ref=model,
        machine_id=machine_id,
        carve_out_bytes=parse_size(carve, "--node") if carve else None,
        settings=settings,
        cluster=held,
    )
    path = save_scenario(scenario)
    warn(f"saved preset {scenario.name} to {path}")


def run_cluster(args: argparse.Namespace) -> int:
    from vramtui.core.cluster.build import evaluate_cluster  # noqa: PLC0415
    from vramtui.core.cluster.plan import recommend_cluster  # noqa: PLC0415
    from vramtui.core.cluster.types import Cluster  # noqa: PLC0415
    from vramtui.core.hardware.links import get_link  # noqa: PLC0415
    from vramtui.core.model.source import open_model  # noqa: PLC0415

    preset = load_scenario(args.preset) if args.preset else None
    held = preset.cluster if preset is not None else None
    node_texts = args.node or (list(held.nodes) if held else [])
    if not 2 <= len(node_texts) <= MAX_NODES:
        raise SettingsError(
            f"a cluster needs 2 to {MAX_NODES} --node values, got {len(node_texts)}"
        )
    nodes = tuple(parse_node(t, args) for t in node_texts)
    split = (
        args.tensor_split
        if args.tensor_split is not None
        else (held.tensor_split if held else None)
    )
    link = args.link or (held.link if held else DEFAULT_LINK)
    cluster = Cluster(nodes, get_link(link), tensor_split_from_text(split, len(nodes)))
    settings = settings_from_args(args, preset.settings if preset else None)
    model = args.model or (preset.model_ref if preset else None)
    if not model:
        raise SettingsError("no model given: pass MODEL or --preset NAME")
    spec = open_model(model, mmproj=args.mmproj, **remote_args(args))
    if args.save_preset:
        kept = ClusterPreset(tuple(node_texts), split or "", link)
        _save_preset(args.save_preset, model, settings, kept)
    result = evaluate_cluster(spec, settings, cluster, prompt_tokens=args.prompt_tokens)
    rec = recommend_cluster(spec, settings, cluster) if args.recommend else None
    if args.json:
        from vramtui.cli.json_words import cluster_json, cluster_recommendation_json  # noqa: PLC0415

        data = cluster_json(result)
        data["nodes"] = [
            with_messages(node, [reason_text(r) for r in n.reasons])
            for node, n in zip(data["nodes"], result.nodes, strict=True)
        ]
        data["model"] = spec.name
        if rec is not None:
            data["recommendation"] = cluster_recommendation_json(rec)
        return finish(result.verdict.exit_code, lambda: print_json(data))
    return finish(result.verdict.exit_code, lambda: _print(spec.name, result, rec))


def _node_table(result: ClusterResult) -> Table:
    t = Table(show_edge=False, pad_edge=False, box=None)
    for col in (
        "device",
        "machine",
        "carve-out",
        "layers",
        "weights",
        "KV",
        "compute",
        "GPU used / can address",
        "RAM left",
        "verdict",
    ):
        t.add_column(col, justify="left" if col in {"device", "machine", "verdict"} else "right")
    for n in result.nodes:
        b = n.buffers
        role = f"{n.device} ({n.role})"
        layers = f"{n.layers}" + (" +out" if n.output_layer else "")
        t.add_row(
            Text(role),
            untrusted.text(n.state.machine.id),
            format_bytes(n.state.carve_out_bytes),
            layers,
            format_bytes(b.weights),
            format_bytes(b.kv + b.recurrent),
            format_bytes(b.compute),
            f"{format_bytes(n.gpu_used_bytes)} / {format_bytes(n.gpu_capacity_bytes)}",
            format_bytes(n.system_ram_left_bytes) if n.verdict != Verdict.WILL_NOT_FIT else "-",
            n.verdict.label,
        )
    return t


def _print(name: str, result: ClusterResult, rec: ClusterRecommendation | None) -> None:
    from vramtui.present.cluster_words import (  # noqa: PLC0415 - loaded with the cluster
        cluster_notes,
        cluster_recommendation_sentence,
    )

    out = console()
    sp = result.speed
    out.print(
        Text(
            f"{plain(name)} over {len(result.nodes)} nodes, {result.cluster.link.name}: "
            f"{result.verdict.label}"
        )
    )
    out.print(_node_table(result))
    h = result.buffers.host
    out.print(
        Text(
            f"head's CPU: input embeddings {format_bytes(h.weights)}, logits "
            f"{format_bytes(result.buffers.output_bytes)}, compute "
            f"{format_bytes(h.compute)}"
        )
    )
    for n in result.nodes:
        for r in n.reasons:
            out.print(Text(f"  {n.device}: {reason_text(r)}"))
    limit = " (limited by the link)" if sp.prefill_limited_by_link else ""
    if result.runs:
        speed = (
            f"{rate_span(sp.decode_tokens_per_second, sp.decode_range())} tok/s decode, "
            f"{rate_span(sp.prefill_tokens_per_second, sp.prefill_range())} tok/s prefill"
            f"{limit}; {sp.basis}"
        )
        out.print(Text(speed))
    c = result.commands
    out.print(Text("setup:"))
    for line in c.setup:
        out.print(Text(f"  {command(line)}"))
    out.print(Text("commands:"))
    for line in c.rpc_servers:
        out.print(Text(f"  {command(line)}"))
    out.print(Text(f"  {command(c.llama_server)}"))
    if not c.model_path_known:
        out.print(Text(f"  {PATH_HINT}"))
    for note in cluster_notes(result):
        out.print(Text(untrusted.lines(f"note: {note}")))
    if rec is not None:
        words = cluster_recommendation_sentence(rec)
        out.print(Text(untrusted.lines(f"recommendation: {words}")))
        if rec.result is not None:
            out.print(Text(f"  {command(rec.result.commands.llama_server)}"))
