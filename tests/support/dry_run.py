"""Run llama.cpp's own memory dry run (xllamacpp's CPU build) in a subprocess and parse it.

Recipe (found by experiment against xllamacpp 2026.10): `Server(CommonParams)` with `fit_params`
on runs common_fit_params, which builds the model and context with no_alloc and logs
`common_memory_breakdown_print` (model / context / compute MiB for "Host") plus the loader's
detail lines (`llama_kv_cache: size = ...`, `... compute buffer size = ...`). The child is killed
as soon as the table is out, before llama.cpp would read the (sparse, all-zero) weights.
Verbosity 10 makes the detail lines appear; `load_mode` NONE and `no_extra_bufts` keep the
model column to the tensor bytes.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.estimate.settings import RuntimeSettings

# ggml_type ids for the cache types (ggml.h enum ggml_type)
_CACHE_TYPE_IDS = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8,
                   "iq4_nl": 20, "bf16": 30}  # fmt: skip

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
sys.stderr.write("DRYRUN-START\n"); sys.stderr.flush()
x.Server(p)
"""


@dataclass
class DryRun:
    """llama.cpp's figures for one model at one setting (MiB as it prints them)."""

    model_mib: int = -1
    context_mib: int = -1
    compute_mib: int = -1
    kv_size_mib: float = 0.0  # llama_kv_cache: size = X MiB lines, summed
    recurrent_mib: float = 0.0
    compute_buffer_mib: float = 0.0
    output_buffer_mib: float = 0.0
    kv_lines: list[str] = field(default_factory=list)
    error: str = ""
    log_tail: str = ""


_TABLE = re.compile(r"-\s*Host\s*\|\s*(\d+)\s*=\s*(\d+)\s*\+\s*(\d+)\s*\+\s*(\d+)")
_KV = re.compile(r"llama_kv_cache: size =\s*([\d.]+) MiB")
_RS = re.compile(r"llama_memory_recurrent: size =\s*([\d.]+) MiB")
_COMPUTE = re.compile(r"CPU compute buffer size =\s*([\d.]+) MiB")
_OUTPUT = re.compile(r"CPU\s+output buffer size =\s*([\d.]+) MiB")


def _config(path: Path, s: RuntimeSettings) -> dict[str, Any]:
    return {
        "path": str(path), "n_ctx": s.ctx_size, "n_parallel": s.parallel,
        "n_batch": s.batch_size, "n_ubatch": s.ubatch_size,
        "type_k": _CACHE_TYPE_IDS[s.cache_type_k], "type_v": _CACHE_TYPE_IDS[s.cache_type_v],
        "fa": s.flash_attn, "ngl": -1 if s.n_gpu_layers is None else s.n_gpu_layers,
        "no_kv_offload": not s.kv_offload, "kv_unified": s.kv_unified, "swa_full": s.swa_full,
    }  # fmt: skip


def llama_dry_run(path: Path, settings: RuntimeSettings, timeout: float = 30.0) -> DryRun:
    """Run the dry run for `path` at `settings`; the child never lives past the table."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(_config(path, settings))],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    out = DryRun()
    lines: list[str] = []
    buf = b""
    deadline = time.monotonic() + timeout
    first_pass = True
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            stop = False
            for raw in done:
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                if not first_pass:
                    continue
                if " E " in line[:20] and "common_fit_params" in line:
                    stop = True  # llama.cpp refused these settings: never let it load data
                    break
                if m := _KV.search(line):
                    out.kv_size_mib += float(m.group(1))
                    out.kv_lines.append(line.split("llama_kv_cache: ", 1)[1])
                elif m := _RS.search(line):
                    out.recurrent_mib += float(m.group(1))
                elif m := _COMPUTE.search(line):
                    out.compute_buffer_mib = float(m.group(1))
                elif m := _OUTPUT.search(line):
                    out.output_buffer_mib = float(m.group(1))
                elif m := _TABLE.search(line):
                    out.model_mib, out.context_mib, out.compute_mib = (
                        int(m.group(2)), int(m.group(3)), int(m.group(4)))  # fmt: skip
                    first_pass = False
                    stop = True
            if stop:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    if out.model_mib < 0:
        errs = [ln for ln in lines if " E " in ln or "error" in ln.lower() or "failed" in ln]
        out.error = (errs[-1] if errs else "no breakdown table in the log")[-400:]
        out.log_tail = "\n".join(lines[-30:])
    return out
