"""`python -m bench` (or `make bench`): run every benchmark module's `main()` in turn."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def main(argv: list[str]) -> int:
    wanted = set(argv)
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    for name in names:
        if wanted and name not in wanted and name.removeprefix("bench_") not in wanted:
            continue
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== {name}: {(module.__doc__ or '').strip().splitlines()[0]}")
        started = time.perf_counter()
        module.main()
        print(f"(took {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
