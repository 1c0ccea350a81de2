"""Start-up: wall time of `vramtui --version` and a `check`, as ratios to `import vramtui`.

Each command runs in a fresh interpreter (`python -m vramtui ...`, the package from this
checkout's tui/ folder), RUNS times; the median is reported. The reference is
`python -c "import vramtui"`: the interpreter's own start plus the package's `__init__`, which
no command can beat. A ratio near 1 means the command costs little beyond starting Python.
`VRAMTUI_BENCH_SRC=PATH` times the package under another tui/ folder (e.g. an older commit's).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 7
SRC = Path(os.environ.get("VRAMTUI_BENCH_SRC", Path(__file__).resolve().parent.parent / "tui"))
REFERENCE = ("import vramtui", ["-c", "import vramtui"])
COMMANDS = (
    ("vramtui --version", ["-m", "vramtui", "--version"]),
    (
        "vramtui check glm-4.7-flash:Q4_K_M --machine hp-zbook-ultra-g1a-64gb --carve-out 32G",
        [
            "-m",
            "vramtui",
            "check",
            "glm-4.7-flash:Q4_K_M",
            "--machine",
            "hp-zbook-ultra-g1a-64gb",
            "--carve-out",
            "32G",
        ],
    ),
)


def _median_seconds(args: list[str]) -> tuple[float, int]:
    """The median wall time of RUNS runs, and the exit status of the last one."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    times, code = [], 0
    for _ in range(RUNS):
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, *args], env=env, capture_output=True, check=False, timeout=120
        )
        times.append(time.perf_counter() - started)
        code = run.returncode
    return statistics.median(times), code


def main() -> None:
    print(f"package: {SRC}; median of {RUNS} runs each")
    reference, _ = _median_seconds(REFERENCE[1])
    print(f"  {reference * 1000:7.0f} ms  1.00x  {REFERENCE[0]} (reference)")
    for name, args in COMMANDS:
        took, code = _median_seconds(args)
        print(f"  {took * 1000:7.0f} ms  {took / reference:5.2f}x  {name} (exit {code})")


if __name__ == "__main__":
    main()
