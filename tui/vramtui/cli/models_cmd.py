"""`vramtui models`: the models found on this machine, and (with --catalog) the bundled catalog."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from vramtui.cli.common import (
    emit,
    guarded,
    print_json,
    warn,
)
from vramtui.core.sizes import format_file_size
from vramtui.core.vocab import ExitCode
from vramtui.present.untrusted import plain


def register(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "models",
        help="list GGUF models on this machine (LM Studio, Ollama, HF/llama.cpp caches, folders)",
        description="List the GGUF models found on this machine. --catalog lists the bundled "
        "catalog instead (models you can estimate without a file).",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--catalog", action="store_true", help="list the bundled catalog models")
    parser.add_argument(
        "--dir",
        dest="dirs",
        action="append",
        default=[],
        metavar="FOLDER",
        help="also look in FOLDER (repeatable)",
    )
    parser.set_defaults(handler=guarded(_run))


def _run(args: argparse.Namespace) -> int:
    if args.catalog:
        return _catalog(args)
    from vramtui.core.discovery.scan import discover_models  # noqa: PLC0415 - lazy: keeps startup fast

    result = discover_models(tuple(args.dirs))
    if args.json:
        print_json({"models": [asdict(m) for m in result.models], "problems": result.problems})
        return ExitCode.OK
    out = sys.stdout
    if not result.models:
        out.write(
            "No GGUF models found (looked in LM Studio, Ollama, the Hugging Face cache, "
            "llama.cpp's cache"
        )
        out.write(" and config model_dirs). Try `vramtui models --catalog`.\n")
    else:
        rows = [
            (
                plain(m.name) + (" +mmproj" if m.mmproj_path else ""),
                m.source,
                plain(m.quant or "?"),
                format_file_size(m.size_bytes),
                plain(m.path, 400),
            )
            for m in result.models
        ]
        _table(("NAME", "SOURCE", "QUANT", "SIZE", "PATH"), rows)
    for problem in result.problems:
        warn(f"skipped {problem}")
    return ExitCode.OK


def _catalog(args: argparse.Namespace) -> int:
    from vramtui.core.catalog.entries import catalog_entries  # noqa: PLC0415 - lazy: keeps startup fast

    entries = catalog_entries()
    if args.json:
        data = []
        for e in entries:
            d = asdict(e)
            d["quants"] = [asdict(q) for q in e.quants]
            data.append(d)
        print_json({"catalog": data})
        return ExitCode.OK
    rows = []
    for e in entries:
        quants = ", ".join(
            q.name + (f" {format_file_size(q.file_size_bytes)}" if q.file_size_bytes else "")
            for q in e.quants
        )
        rows.append((e.id, e.architecture, f"{e.params / 1e9:.1f}B", quants))
    _table(("ID", "ARCH", "PARAMS", "QUANTS (published size)"), rows)
    return ExitCode.OK


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    emit("\n".join(lines) + "\n")
