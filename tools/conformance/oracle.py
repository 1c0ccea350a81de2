"""The pinned llama.cpp's `llama-fit-params` as the conformance oracle (CPU only).

`--fit off --fit-print on` loads the model and builds the context without allocating, prints
one row per device "name model context compute" (MiB) on stdout and the loader's lines on
stderr, where the exact sizes are: `llama_kv_cache: size = X MiB`, `llama_memory_recurrent:
size = X MiB`, DeepSeek-V4's compressor states (`llama_dsv4_comp_state: ... state = R x W,
streams = S, rs_seq = N, layers = L`), `<buft> compute buffer size = X MiB` (at `-lv 10`).
The weights are only in the table (with no allocation the model buffer line says 0).
The binary is the one `make rpc-oracle` builds (tests/rpc/oracle.py finds it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.rpc.oracle import FIT_PARAMS, oracle_bin_dir

_KV = re.compile(r"llama_kv_cache: size =\s*([\d.]+) MiB")
_RS = re.compile(r"llama_memory_recurrent: size =\s*([\d.]+) MiB")
# DeepSeek-V4's compressor states (llama-kv-cache-dsv4.cpp llama_dsv4_comp_state): kv and score
# tensors, F32 [n_embd_state, state_size, streams x (1 + rs_seq)] per layer, counted in the
# context (llama_kv_cache_dsv4::memory_breakdown). The line's own MiB has two decimals; the
# shape it prints gives the exact size.
_DSV4_STATE = re.compile(
    r"llama_dsv4_comp_state: \S+ ratio = \d+, state = (\d+) x (\d+), streams = (\d+), "
    r"rs_seq = (\d+), layers = (\d+)"
)
_COMPUTE = re.compile(r"(\S+) compute buffer size =\s*([\d.]+) MiB")
_BUILD = re.compile(r"build(?:_info)?: (\S+)")
# llama.cpp's log prefix: time, level; anywhere in a line, as an abort's message can cut in
_ERROR = re.compile(r"\d+\.\d+\.\d+\.\d+ E ")
RETRIES = 40


@dataclass
class FitResult:
    """What one run printed; `loaded` once the per-device table is out."""

    loaded: bool = False
    model_mib: int = 0  # the table's model column (whole MiB, rounded down)
    kv_mib: float = 0.0
    recurrent_mib: float = 0.0
    compute_mib: float = 0.0
    table: list[tuple[str, int, int, int]] = field(default_factory=list)
    build: str = ""
    error: str = ""

    @property
    def context_mib(self) -> float:
        return self.kv_mib + self.recurrent_mib


# llama.cpp logs from a worker thread, and an uncaught loader error aborts the process, often
# before that thread has written the error line. Preloaded, this `abort` waits for it first.
_SLOW_ABORT = r"""
#include <signal.h>
#include <unistd.h>
void abort(void) { usleep(50000); signal(SIGABRT, SIG_DFL); raise(SIGABRT); _exit(134); }
"""
_preload: list[str] = []


def _slow_abort_library() -> str:
    """The shared library with `_SLOW_ABORT`, built once per process where a C compiler is
    found ("" where not: the runs are then only retried)."""
    if _preload:
        return _preload[0]
    cc = shutil.which("cc") or shutil.which("gcc")
    out = ""
    if cc:
        tmp = Path(tempfile.mkdtemp(prefix="conformance-abort-"))
        src, lib = tmp / "slow_abort.c", tmp / "slow_abort.so"
        src.write_text(_SLOW_ABORT, encoding="utf-8")
        made = subprocess.run(
            [cc, "-shared", "-fPIC", "-O1", "-o", str(lib), str(src)],
            capture_output=True,
            check=False,
        )
        out = str(lib) if made.returncode == 0 else ""
    _preload.append(out)
    return out


def fit_binary() -> Path:
    return oracle_bin_dir() / FIT_PARAMS


def available() -> bool:
    return os.access(fit_binary(), os.X_OK)


# The loader's message; stderr is written by two threads, so it may start mid-line.
_LOAD_ERROR = re.compile(r"error loading model: (.+)")


def _is_cause(line: str) -> bool:
    return bool(_ERROR.search(line)) and not any(
        s in line for s in ("failed to load model", "terminate called")
    )


def _first_error(stderr: str) -> str:
    if m := _LOAD_ERROR.search(stderr):
        return f"llama_model_load: error loading model: {m[1].strip()}"[-300:]
    lines = stderr.splitlines()
    for ln in lines:
        if "GGML_ASSERT" in ln:
            return ln.split("llama.cpp/", 1)[-1].strip()[-300:]  # the path inside llama.cpp
    errs = [ln for ln in lines if _is_cause(ln)]
    if errs:
        return _ERROR.split(errs[0], 1)[-1].strip()[-300:]
    return (lines[-1].strip() if lines else "no output")[-300:]


def _has_cause(stderr: str) -> bool:
    return (
        "GGML_ASSERT" in stderr
        or bool(_LOAD_ERROR.search(stderr))
        or any(_is_cause(ln) for ln in stderr.splitlines())
    )


def parse(stdout: str, stderr: str, returncode: int) -> FitResult:
    out = FitResult()
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and all(p.isdigit() for p in parts[1:]):
            out.table.append((parts[0], int(parts[1]), int(parts[2]), int(parts[3])))
    for line in stderr.splitlines():
        if m := _KV.search(line):
            out.kv_mib += float(m[1])
        elif m := _RS.search(line):
            out.recurrent_mib += float(m[1])
        elif m := _DSV4_STATE.search(line):
            rows, width, streams, rs_seq, layers = (int(g) for g in m.groups())
            planes = streams * (1 + rs_seq)
            out.recurrent_mib += 2 * 4 * width * rows * planes * layers / (1 << 20)
        elif m := _COMPUTE.search(line):
            out.compute_mib += float(m[2])
        elif not out.build and (m := _BUILD.search(line)):
            out.build = m[1]
    out.loaded = bool(out.table) and returncode == 0
    out.model_mib = sum(row[1] for row in out.table)
    if not out.loaded:
        out.error = _first_error(stderr)
        if returncode < 0 and not _has_cause(stderr):
            out.error = f"killed by signal {-returncode} with no error message"
    return out


def fit_params(
    path: Path, args: list[str], timeout: float = 60.0, *, verbose: bool = True
) -> FitResult:
    """One dry run. llama.cpp logs from a worker thread: the process can end before that
    thread has written everything (the loader's error line before an abort, the buffer sizes
    before exit), so an abort is slowed down (`_SLOW_ABORT`) and a run that still lacks the
    lines it needs is made again, a few times."""
    cmd = [str(fit_binary()), "-m", str(path), "--fit", "off", "--fit-print", "on"]
    cmd += ["-lv", "10"] if verbose else []  # the buffer sizes are debug-level lines
    cmd += args
    # No gdb backtrace on an assertion (ggml.c ggml_print_backtrace): only its message.
    env = dict(os.environ, OMP_NUM_THREADS="1", GGML_NO_BACKTRACE="1")
    if lib := _slow_abort_library():
        env["LD_PRELOAD"] = lib
    out = FitResult()
    for _ in range(RETRIES):
        try:
            run = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env
            )
        except subprocess.TimeoutExpired:
            return FitResult(error=f"no answer within {timeout:.0f} s")
        out = parse(run.stdout, run.stderr, run.returncode)
        out.error = out.error.replace(str(path), path.name)
        if out.loaded and (not verbose or "compute buffer size" in run.stderr):
            return out
        if not out.loaded and _has_cause(run.stderr):
            return out
    return out
