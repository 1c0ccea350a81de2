"""llama.cpp's own memory dry run, in a child process with a time limit, and its log parsed.

How it runs (xllamacpp, PyPI: llama.cpp's server as a Python module): `Server(CommonParams)`
with `fit_params` on first runs common_fit_params (llama.cpp common/fit.cpp), which loads the
model and builds the context with `no_alloc` (buffers recorded, never allocated) and logs
`common_memory_breakdown_print`: one row per GPU device ("total = free + (self = model + context
+ compute) + unaccounted") and one for the host ("self = model + context + compute"), in MiB
rounded down. The child is killed as soon as the host row is out, before the server would go on
to load weights. `load_mode` NONE and `no_extra_bufts` keep the model column to the tensor
bytes (no CPU repacking); verbosity 10 adds the loader's detail lines (`llama_kv_cache: size =
...`, `<buft> compute buffer size = ...`), kept for the oracle tests.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from vramtui.core.estimate.settings import RuntimeSettings

MIB = 1024 * 1024

# ggml_type ids of the cache types (ggml/include/ggml.h enum ggml_type)
CACHE_TYPE_IDS = {
    "f32": 0,
    "f16": 1,
    "q4_0": 2,
    "q4_1": 3,
    "q5_0": 6,
    "q5_1": 7,
    "q8_0": 8,
    "iq4_nl": 20,
    "bf16": 30,
}

_CHILD = r"""
import json, sys
import xllamacpp as x
cfg = json.loads(sys.argv[1])
p = x.CommonParams()
p.model.path = cfg["path"]
p.n_ctx = cfg["n_ctx"]
p.n_parallel = cfg["n_parallel"]
p.n_batch = cfg["n_batch"]
p.n_ubatch = cfg["n_ubatch"]
p.cache_type_k = x.ggml_type(cfg["type_k"])
p.cache_type_v = x.ggml_type(cfg["type_v"])
p.flash_attn_type = {"auto": x.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_AUTO,
                     "on": x.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                     "off": x.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED}[cfg["fa"]]
p.n_gpu_layers = cfg["ngl"]
p.no_kv_offload = cfg["no_kv_offload"]
p.kv_unified = cfg["kv_unified"]
p.swa_full = cfg["swa_full"]
p.warmup = False
p.no_extra_bufts = True
p.load_mode = x.llama_load_mode.LLAMA_LOAD_MODE_NONE
p.fit_params = True
p.fit_params_print = True
p.verbosity = 10
p.n_threads_http = 1
p.port = 0
sys.stderr.write("vramtui-dry-run xllamacpp=%s\n" % getattr(x, "__version__", "?"))
sys.stderr.flush()
x.Server(p)
"""

_HOST = re.compile(r"\|\s*-\s*Host\s*\|\s*(\d+)\s*=\s*(\d+)\s*\+\s*(\d+)\s*\+\s*(\d+)")
_DEVICE = re.compile(
    r"\|\s*-\s*(?P<name>\S+)\s+\((?P<desc>.*)\)\s*\|\s*(?P<total>\d+)\s*=\s*(?P<free>\d+)\s*\+"
    r"\s*\(\s*(?P<self>\d+)\s*=\s*(?P<model>\d+)\s*\+\s*(?P<context>\d+)\s*\+\s*(?P<compute>\d+)"
)
_KV = re.compile(r"llama_kv_cache: size =\s*([\d.]+) MiB")
_RS = re.compile(r"llama_memory_recurrent: size =\s*([\d.]+) MiB")
_COMPUTE = re.compile(r"(\S+) compute buffer size =\s*([\d.]+) MiB")
_OUTPUT = re.compile(r"(\S+)\s+output buffer size =\s*([\d.]+) MiB")
_BUILD = re.compile(r"build_info: (\S+)")
_XLLAMACPP = re.compile(r"vramtui-dry-run xllamacpp=(\S+)")
_ERROR_LEVEL = re.compile(r"^[\d.]+ E ")  # llama.cpp's log prefix: time, level, source
_ERROR_WORD = re.compile(r"error|failed|exception", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MemoryRow:
    """One row of llama.cpp's breakdown table, in MiB as printed (rounded down)."""

    name: str  # "Host", or a device such as "CUDA0", "Vulkan0"
    description: str
    model_mib: int
    context_mib: int
    compute_mib: int


@dataclass
class DryRun:
    """What the dry run printed for one model at one setting."""

    rows: list[MemoryRow] = field(default_factory=list)  # devices first, the host last
    kv_size_mib: float = 0.0  # `llama_kv_cache: size = X MiB` lines, summed
    recurrent_mib: float = 0.0
    compute_buffers: dict[str, float] = field(default_factory=dict)  # buffer type -> MiB
    output_buffer_mib: float = 0.0
    kv_lines: list[str] = field(default_factory=list)
    build: str = ""  # llama.cpp's build_info, e.g. "b6500-1a2b3c4"
    xllamacpp: str = ""
    seconds: float = 0.0
    error: str = ""
    log_tail: str = ""

    def _column(self, index: int) -> int:
        return sum((r.model_mib, r.context_mib, r.compute_mib)[index] for r in self.rows)

    @property
    def model_mib(self) -> int:
        return self._column(0) if self.rows else -1

    @property
    def context_mib(self) -> int:
        return self._column(1) if self.rows else -1

    @property
    def compute_mib(self) -> int:
        return self._column(2) if self.rows else -1

    @property
    def compute_buffer_mib(self) -> float:
        return sum(self.compute_buffers.values())


def child_config(path: Path, s: RuntimeSettings) -> dict[str, Any]:
    """The settings as the child hands them to llama.cpp's common_params."""
    return {
        "path": str(path),
        "n_ctx": s.ctx_size,
        "n_parallel": s.parallel,
        "n_batch": s.batch_size,
        "n_ubatch": s.ubatch_size,
        "type_k": CACHE_TYPE_IDS[s.cache_type_k],
        "type_v": CACHE_TYPE_IDS[s.cache_type_v],
        "fa": s.flash_attn,
        "ngl": -1 if s.n_gpu_layers is None else s.n_gpu_layers,
        "no_kv_offload": not s.kv_offload,
        "kv_unified": s.kv_unified,
        "swa_full": s.swa_full,
    }


def parse_line(out: DryRun, line: str) -> bool:
    """Fold one log line into `out`; True once the table's host row (its last row) is in."""
    if m := _DEVICE.search(line):
        out.rows.append(
            MemoryRow(
                m["name"], m["desc"].strip(), int(m["model"]), int(m["context"]), int(m["compute"])
            )
        )
    elif m := _HOST.search(line):
        out.rows.append(MemoryRow("Host", "", int(m[2]), int(m[3]), int(m[4])))
        return True
    elif m := _KV.search(line):
        out.kv_size_mib += float(m[1])
        out.kv_lines.append(line.split("llama_kv_cache: ", 1)[1])
    elif m := _RS.search(line):
        out.recurrent_mib += float(m[1])
    elif m := _COMPUTE.search(line):
        out.compute_buffers[m[1]] = float(m[2])
    elif m := _OUTPUT.search(line):
        out.output_buffer_mib += float(m[2])
    elif m := _BUILD.search(line):
        out.build = m[1]
    elif m := _XLLAMACPP.search(line):
        out.xllamacpp = m[1]
    return False


def _pump(stream: IO[bytes], lines: queue.Queue[str | None]) -> None:
    """The child's output, line by line, until it ends or the stream is closed under us (the
    reader stops the child as soon as it has what it needs)."""
    try:
        for raw in iter(stream.readline, b""):
            lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
    except (ValueError, OSError):
        pass
    lines.put(None)


def _must_stop(line: str) -> bool:
    """Stop the child before it goes on to load data: llama.cpp gave up on these settings or
    this file, or the fit step is over (its summary follows the table; a build that printed
    no table must not be left to allocate the real buffers)."""
    head = line[:24]
    return (
        (" E " in head and "common_fit_params" in line)
        or "failed to load model" in line
        or "common_params_fit_impl: projected" in line
        or "common_fit_params: " in line
    )


def stream_child(
    argv: list[str], timeout: float, done: Callable[[str], bool]
) -> tuple[list[str], bool, float]:
    """Run `argv`, feeding its output lines to `done` until it says so, the child ends, or
    `timeout`; (the lines, whether the deadline passed, seconds). The child never outlives it.

    Threads read the child's output (a pipe cannot be polled on Windows); the child is killed
    once done, at the deadline, and on any exception here.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    log: list[str] = []
    deadline, late = t0 + timeout, False
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:
                break
            log.append(line)
            if done(line):
                break
        else:
            late = True
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    return log, late, time.monotonic() - t0


def first_error(log: list[str]) -> str:
    """The first error-level line names the cause ("unknown model architecture: 'x'",
    "quantized V cache requires flash_attn"); later ones only say that loading failed."""
    errs = [ln for ln in log if _ERROR_LEVEL.search(ln)]
    errs = errs or [ln for ln in log if _ERROR_WORD.search(ln)][-1:]
    return (errs[0] if errs else "no memory breakdown in llama.cpp's log")[-400:]


def run_dry_run(path: Path, settings: RuntimeSettings, timeout: float = 60.0) -> DryRun:
    """Run the dry run for the GGUF at `path`; the child never outlives the table or `timeout`
    (killed on the table, on an error line, at the deadline)."""
    out = DryRun()
    argv = [sys.executable, "-c", _CHILD, json.dumps(child_config(path, settings))]
    log, late, out.seconds = stream_child(
        argv, timeout, lambda line: parse_line(out, line) or _must_stop(line)
    )
    if late:
        out.error = f"no answer from llama.cpp within {timeout:.0f} s"
    if not out.rows and not out.error:
        out.error = first_error(log)
    if out.error:
        out.log_tail = "\n".join(log[-30:])
    return out
