"""`vramtui inspect MODEL`: what a model file holds, read from its header in milliseconds."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.table import Table

from vramtui.cli.common import (
    add_model_args,
    console,
    print_json,
    remote_args,
    resolve_model_and_settings,
)
from vramtui.core.estimate.memory import projector_size
from vramtui.core.gguf.ggml_types import FILE_TYPE_NAMES
from vramtui.core.gguf.spec import MetaValue, ModelSpec, SkippedArray
from vramtui.core.model.source import open_model
from vramtui.core.sizes import format_bytes
from vramtui.core.vocab import ExitCode
from vramtui.present import untrusted


def file_type_name(value: MetaValue | None) -> str | None:
    """The quantization name for a `general.file_type` value (None if absent or unknown)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return FILE_TYPE_NAMES.get(value, f"type {value}")
    return None


def format_params(n: int) -> str:
    """`32762123264` -> "32.8 B"; smaller models in M, tiny ones as a plain count."""
    if n >= 10**9:
        return f"{n / 1e9:.1f} B"
    if n >= 10**6:
        return f"{n / 1e6:.1f} M"
    if n >= 10**3:
        return f"{n / 1e3:.1f} K"
    return str(n)


def _int(value: MetaValue | None) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _int_or_list(value: MetaValue | None) -> int | list[int] | None:
    """Scalars stay ints; per-layer arrays (e.g. head_count_kv) become lists."""
    if isinstance(value, tuple):
        items = [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
        return items if len(items) == len(value) else None
    return _int(value)


def vocab_size(spec: ModelSpec) -> int | None:
    tokens = spec.metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, SkippedArray):
        return tokens.length
    if isinstance(tokens, tuple):
        return len(tokens)
    declared = _int(spec.meta("vocab_size"))
    if declared is not None:
        return declared
    embd = spec.tensor("token_embd.weight")
    return embd.shape[1] if embd is not None and len(embd.shape) > 1 else None


def quantization_mix(spec: ModelSpec) -> dict[str, dict[str, int]]:
    """Tensors and bytes per GGML type, largest share first."""
    mix: dict[str, dict[str, int]] = {}
    for t in spec.tensors:
        row = mix.setdefault(t.type_name, {"tensors": 0, "bytes": 0})
        row["tensors"] += 1
        row["bytes"] += t.n_bytes
    return dict(sorted(mix.items(), key=lambda kv: (-kv[1]["bytes"], kv[0])))


def inspect_data(spec: ModelSpec) -> dict[str, Any]:
    """The facts `inspect` shows, with stable snake_case keys (the --json output)."""
    data: dict[str, Any] = {
        "architecture": spec.architecture or None,
        "name": spec.name,
        "source": spec.source,
        "n_params": spec.n_params,
        "file_type": file_type_name(spec.metadata.get("general.file_type")),
        "quantization": quantization_mix(spec),
        "weights_bytes": spec.weights_bytes,
        "n_layers": _int(spec.meta("block_count")),
        "n_embd": _int(spec.meta("embedding_length")),
        "n_head": _int_or_list(spec.meta("attention.head_count")),
        "n_head_kv": _int_or_list(spec.meta("attention.head_count_kv")),
        "n_expert": _int(spec.meta("expert_count")),
        "n_expert_used": _int(spec.meta("expert_used_count")),
        "n_ctx_train": _int(spec.meta("context_length")),
        "n_vocab": vocab_size(spec),
        "n_tensors": len(spec.tensors),
        "file_size_bytes": spec.file_size,
        "shards": list(spec.shards),
        "synthesized": spec.synthesized,
        "mmproj": None,
        "notes": list(spec.notes),
    }
    if spec.mmproj is not None:
        mm = spec.mmproj
        projector_type = mm.metadata.get("clip.projector_type")
        size = projector_size(mm)
        data["mmproj"] = {
            "name": mm.name,
            "source": mm.source,
            "projector_type": projector_type if isinstance(projector_type, str) else None,
            "n_params": mm.n_params,
            "weights_bytes": size.weights_bytes,
            # its compute graph for one image, and both: the "projector" of check and estimate
            "compute_bytes": size.compute_bytes,
            "loaded_bytes": size.loaded_bytes,
            "file_size_bytes": mm.file_size,
        }
    return data


def _heads_text(value: int | list[int] | None) -> str:
    if isinstance(value, list):
        if not value:
            return "-"
        lo, hi = min(value), max(value)
        return f"{lo}" if lo == hi else f"{lo}-{hi} (per layer)"
    return "-" if value is None else str(value)


def render(data: dict[str, Any]) -> None:
    """A rich table for people."""
    out = console()
    table = Table(title=untrusted.text(data["name"]), show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")

    def row(label: str, value: object) -> None:
        table.add_row(label, untrusted.text("-" if value is None or value == "" else value))

    row("architecture", data["architecture"])
    row("source", data["source"])
    row("parameters", format_params(data["n_params"]))
    row("file type", data["file_type"])
    row("layers", data["n_layers"])
    row("embedding length", data["n_embd"])
    row("heads / kv heads", f"{_heads_text(data['n_head'])} / {_heads_text(data['n_head_kv'])}")
    if data["n_expert"]:
        row("experts (used)", f"{data['n_expert']} ({data['n_expert_used'] or '?'})")
    row("training context", data["n_ctx_train"])
    row("vocabulary", data["n_vocab"])
    row("weights", format_bytes(data["weights_bytes"]))
    row("file size", f"{format_bytes(data['file_size_bytes'])} ({data['file_size_bytes']:,} bytes)")
    if data["shards"]:
        row("shards", f"{len(data['shards'])} files")
    mm = data["mmproj"]
    if mm:
        kind = f", {mm['projector_type']}" if mm["projector_type"] else ""
        row("projector", f"{mm['name']} ({format_bytes(mm['file_size_bytes'])} file{kind})")
        row(
            "projector loaded",
            f"{format_bytes(mm['loaded_bytes'])} ({format_bytes(mm['weights_bytes'])} weights + "
            f"{format_bytes(mm['compute_bytes'])} compute for one image)",
        )
    else:
        row("projector", "none")
    if data["synthesized"] and not data["notes"]:
        row("note", "synthesized from architecture facts (no file read)")
    for note in data["notes"]:
        row("note", note)
    out.print(table)

    quant = Table(title="quantization mix", title_justify="left")
    quant.add_column("type")
    quant.add_column("tensors", justify="right")
    quant.add_column("bytes", justify="right")
    quant.add_column("share", justify="right")
    total = sum(v["bytes"] for v in data["quantization"].values()) or 1
    for name, v in data["quantization"].items():
        quant.add_row(
            untrusted.text(name),
            str(v["tensors"]),
            format_bytes(v["bytes"]),
            f"{v['bytes'] / total:.1%}",
        )
    out.print(quant)


def run_inspect(args: argparse.Namespace) -> int:
    model, mmproj, _settings = resolve_model_and_settings(args)
    spec = open_model(model, mmproj=mmproj, **remote_args(args))
    data = inspect_data(spec)
    if args.json:
        print_json(data)
    else:
        render(data)
    sys.stdout.flush()
    return ExitCode.OK


def register(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "inspect",
        help="show what a model holds: architecture, parameters, quantization, layers, context",
        description="Read a model's GGUF header (local, remote or catalog) and show its facts.",
    )
    add_model_args(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run_inspect)
