"""Expert placement held to llama.cpp itself.

1. Which tensors a rule moves: xllamacpp's CPU build runs the rules through llama.cpp's own
   loader (`CommonParams.tensor_buft_overrides`, std::regex_search in create_tensor), which logs
   "tensor NAME (N MiB TYPE) buffer type overridden to CPU" for every match. The names must be
   exactly the tensors vramtui moves, and their sizes (whole MiB as logged) ours.
2. Where the bytes land: `llama-fit-params --rpc` (tests/rpc/oracle.py) prints llama.cpp's
   per-device model MiB with an RPC server as the GPU; with --n-cpu-moe and -ot the GPU's and the
   host's model columns must equal vramtui's weights to the MiB. `-nr` (no repack) keeps the host
   weights in the plain CPU buffer, which the dry run counts (a CPU_REPACK buffer reads 0 there).
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
from pathlib import Path

import pytest

from tests.rpc.oracle import fit_print, rpc_servers
from vramtui.core.estimate import llama_dry_run
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.placement import matched_tensors
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.estimate.tensor_rules import tensor_overrides
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.vocab import BufferKind, Place

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.oracle

MIB = 1 << 20
_OVERRIDDEN = re.compile(r"tensor (\S+) \((\d+) MiB \S+\) buffer type overridden to (\S+)")
_HOST_ROW = re.compile(r"\|\s*-\s*Host\s*\|")

# (model, -ot text, --cpu-moe, --n-cpu-moe)
RULE_CASES = [
    ("gpt-oss-20b", "", False, 3),  # gate, up, down experts and their biases
    ("GLM-4.7-Flash", "", False, 3),  # block 0 dense: nothing to move there
    ("Qwen3-30B-A3B", "", True, 0),
    ("Qwen3-Next-80B-A3B", r"blk\.(0|1|2)\.ffn_.*_exps\.=CPU", False, 0),  # shexp stays
]


def _overridden(path: Path, rules: str, timeout: float = 60.0) -> dict[str, int]:
    """llama.cpp's log of the tensors its loader put in the CPU buffer: name -> MiB."""
    cfg = llama_dry_run.child_config(path, RuntimeSettings(ctx_size=1024))
    cfg["ot"] = rules
    child = llama_dry_run._CHILD.replace(
        "p.warmup = False", "p.tensor_buft_overrides = cfg['ot']\np.warmup = False"
    )
    assert child != llama_dry_run._CHILD
    proc = subprocess.Popen(
        [sys.executable, "-c", child, json.dumps(cfg)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=llama_dry_run._pump, args=(proc.stdout, lines), daemon=True).start()
    found: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None or _HOST_ROW.search(line):
                break
            if m := _OVERRIDDEN.search(line):
                assert m[3] == "CPU", line
                found[m[1]] = int(m[2])
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    return found


@pytest.mark.parametrize(("name", "ot", "cpu_moe", "n_cpu_moe"), RULE_CASES)
def test_llama_cpp_moves_the_tensors_vramtui_moves(
    sparse_models: dict[str, tuple[ModelSpec, Path]],
    name: str,
    ot: str,
    cpu_moe: bool,
    n_cpu_moe: int,
) -> None:
    spec, path = sparse_models[name]
    rules = tensor_overrides(ot, cpu_moe, n_cpu_moe)
    # --n-cpu-moe / --cpu-moe as llama.cpp's common code expands them: one rule per layer.
    text = ",".join(f"{r.pattern}={r.buffer}" for r in rules)
    theirs = _overridden(path, text)
    ours = {
        n
        for n, to_host in matched_tensors(spec, ModelHparams.from_spec(spec), rules).items()
        if to_host
    }
    assert theirs, f"{name}: llama.cpp logged no override"
    assert set(theirs) == ours, sorted(set(theirs) ^ ours)
    by_name = {t.name: t for t in spec.tensors}
    for n, mib in theirs.items():
        assert by_name[n].n_bytes // MIB == mib, n
    settings = RuntimeSettings(override_tensor=ot, cpu_moe=cpu_moe, n_cpu_moe=n_cpu_moe)
    moved = _weights(spec, RuntimeSettings())[0] - _weights(spec, settings)[0]
    assert moved == sum(by_name[n].n_bytes for n in theirs)


def _weights(spec: ModelSpec, s: RuntimeSettings) -> tuple[int, int]:
    bd = estimate_memory(spec, s)
    return bd.total(Place.DEVICE, BufferKind.WEIGHTS), bd.total(Place.HOST, BufferKind.WEIGHTS)


# (model, llama.cpp flags, the same as settings)
RPC_CASES = [
    ("gpt-oss-20b", ["--n-cpu-moe", "5"], {"n_cpu_moe": 5}),
    ("gpt-oss-20b", ["-ot", "exps=CPU"], {"override_tensor": "exps=CPU"}),
    ("Qwen3-30B-A3B", ["--n-cpu-moe", "5"], {"n_cpu_moe": 5}),
    ("GLM-4.7-Flash", ["--cpu-moe"], {"cpu_moe": True}),
    (
        "GLM-4.7-Flash",
        ["-ot", r"blk\.(1|2|3)\.ffn_.*_exps\.=CPU"],
        {"override_tensor": r"blk\.(1|2|3)\.ffn_.*_exps\.=CPU"},
    ),
]


@pytest.fixture(scope="module")
def rpc_endpoint() -> object:
    """One ggml-rpc-server on loopback; tests/conftest.py skips its tests without the build."""
    with rpc_servers(1) as endpoints:
        yield endpoints


@pytest.mark.parametrize(("name", "flags", "changes"), RPC_CASES)
def test_device_and_host_weights_match_llama_cpp_to_the_mib(
    sparse_models: dict[str, tuple[ModelSpec, Path]],
    rpc_endpoint: list[str],
    name: str,
    flags: list[str],
    changes: dict[str, object],
) -> None:
    spec, path = sparse_models[name]
    rows = fit_print(path, rpc_endpoint, ["-ngl", "999", "-c", "4096", "-nr", *flags])
    base = fit_print(path, rpc_endpoint, ["-ngl", "999", "-c", "4096", "-nr"])
    s = RuntimeSettings(ctx_size=4096).with_changes(**changes)
    dev, host = _weights(spec, s)
    assert [r.device for r in rows] == ["RPC0", "Host"]
    assert rows[0].model_mib == dev // MIB
    assert rows[1].model_mib == host // MIB
    assert rows[0].model_mib < base[0].model_mib
    # The CPU's compute buffer grows by the routed experts' activations of a ubatch; vramtui's
    # term is within 16 MiB of llama.cpp's growth (see estimate/placement.py).
    grew = rows[1].compute_mib - base[1].compute_mib
    ours = estimate_memory(spec, s).total(Place.HOST, BufferKind.COMPUTE) - estimate_memory(
        spec, RuntimeSettings(ctx_size=4096)
    ).total(Place.HOST, BufferKind.COMPUTE)
    assert abs(ours / MIB - grew) <= 16, (grew, ours / MIB)
