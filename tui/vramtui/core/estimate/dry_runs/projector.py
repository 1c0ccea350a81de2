"""llama.cpp's own figures for a vision projector (mmproj): its warm-up, in a child process.

llama.cpp's memory dry run (common_fit_params) sizes the text model only. The projector's
buffers come from mtmd's warm-up (tools/mtmd/clip.cpp): `load_hparams: model size: X MiB` for
its weights and `reserve_compute_meta: <backend> compute buffer size = Y MiB` for the vision
graph at the warm-up image (1472 x 1472 for Qwen-VL, "get_dummy_batch: warmup with image size").
mtmd needs a text model whose input width matches the projector's output (mtmd.cpp compares
them), so the child loads a stand-in: the model's own header cut to a few blocks, memory-mapped
from a sparse file (nothing read, nothing of size allocated), the projector itself from its own
file or a sparse copy. The child is killed once the compute line is out.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from vramtui.core.estimate.llama_dry_run import first_error, stream_child
from vramtui.core.gguf.spec import ModelSpec, layer_index

_CHILD = r"""
import json, sys
import xllamacpp as x
cfg = json.loads(sys.argv[1])
p = x.CommonParams()
p.model.path = cfg["text"]
p.mmproj.path = cfg["mmproj"]
p.n_ctx = 256
p.n_batch = 256
p.n_ubatch = 256
p.n_gpu_layers = 0
p.flash_attn_type = {"on": x.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                     "off": x.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED}[cfg["fa"]]
p.warmup = True
p.verbosity = 10
p.n_threads_http = 1
p.port = 0
x.Server(p)
"""

_MODEL = re.compile(r"load_hparams: model size:\s*([\d.]+) MiB")
_COMPUTE = re.compile(r"reserve_compute_meta:\s*(\S+) compute buffer size =\s*([\d.]+) MiB")
_IMAGE = re.compile(r"warmup with image size = (\d+) x (\d+)")
# Blocks the text stand-in keeps: enough for a hybrid's first attention layer and qwen3vl's
# deepstack inputs (3 layers), few enough to map nothing of size.
STUB_BLOCKS = 4


@dataclass
class ProjectorRun:
    """What mtmd's warm-up printed: MiB as logged (two decimals)."""

    model_mib: float = -1.0
    compute_mib: float = 0.0
    image: int = 0  # warm-up image side in pixels
    seconds: float = 0.0
    error: str = ""

    @property
    def done(self) -> bool:
        return self.model_mib >= 0 and self.compute_mib > 0


def text_stub(spec: ModelSpec) -> ModelSpec:
    """The text model cut to its first `STUB_BLOCKS` blocks: same architecture and widths
    (what mtmd checks), per-layer arrays cut to match, no draft or projector."""
    arch = str(spec.metadata.get("general.architecture", ""))
    n_layer = spec.metadata.get(f"{arch}.block_count")
    if not isinstance(n_layer, int) or n_layer <= STUB_BLOCKS:
        return replace(spec, mmproj=None, draft=None, shards=())
    md = {k: v for k, v in spec.metadata.items() if not k.startswith("split.")}
    for key, value in md.items():
        if isinstance(value, tuple) and len(value) == n_layer:
            md[key] = value[:STUB_BLOCKS]
    md[f"{arch}.block_count"] = STUB_BLOCKS
    tensors = tuple(
        t
        for t in spec.tensors
        if not t.name.startswith("blk.") or 0 <= layer_index(t.name) < STUB_BLOCKS
    )
    return replace(spec, metadata=md, tensors=tensors, mmproj=None, draft=None, shards=())


def parse_projector_line(out: ProjectorRun, line: str) -> bool:
    """Fold one log line into `out`; True once the compute buffer is in."""
    if m := _MODEL.search(line):
        out.model_mib = float(m[1])
    elif m := _IMAGE.search(line):
        out.image = int(m[1])
    elif m := _COMPUTE.search(line):
        out.compute_mib += float(m[2])
    elif "reserve_compute_meta: graph splits" in line:
        return True
    return " E " in line[:24] and ("clip" in line or "mtmd" in line)


def run_projector_dry_run(
    text: Path, mmproj: Path, flash_attn: bool, timeout: float = 60.0
) -> ProjectorRun:
    """mtmd's warm-up figures for the projector at `mmproj` beside the stand-in at `text`."""
    out = ProjectorRun()
    cfg = {"text": str(text), "mmproj": str(mmproj), "fa": "on" if flash_attn else "off"}
    argv = [sys.executable, "-c", _CHILD, json.dumps(cfg)]
    log, late, out.seconds = stream_child(argv, timeout, lambda ln: parse_projector_line(out, ln))
    if late:
        out.error = f"no answer from llama.cpp's projector warm-up within {timeout:.0f} s"
    elif not out.done:
        out.error = first_error(log)
    return out
