"""The estimate against llama.cpp's own dry run: model / context / compute MiB per case, and the
time exact mode takes.

Reference: llama.cpp's CPU build (xllamacpp) sizing each sparse file in its fit dry run. The
table covers every case of tests/oracle: the architectures the estimate was built on, then the
long tail (llama4, gemma3n, pre-MLA DeepSeek-V2, qwen2moe, MLA at 32K). Exact mode is timed on a
local file, on a remote header served from loopback (header read + sparse copy + dry run) and
from its cache.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.estimate.exact import exact_available, exact_memory
from vramtui.core.estimate.llama_dry_run import run_dry_run
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf

MIB = 2**20


def _table(root: Path) -> dict[str, tuple[ModelSpec, Path]]:
    from tests.oracle.longtail_models import LONGTAIL_MODELS  # noqa: PLC0415 - bench only
    from tests.oracle.test_oracle import CASES, LONGTAIL_CASES, _id  # noqa: PLC0415
    from tests.support.oracle_models import MODELS  # noqa: PLC0415 - bench only

    models = {**MODELS, **LONGTAIL_MODELS}
    files: dict[str, tuple[ModelSpec, Path]] = {}
    header = (
        f"{'case':<50} {'model ours/llama':>17} {'context ours/llama':>18} "
        f"{'compute ours/llama':>19} {'delta':>7}"
    )
    for title, cases in (("built on", CASES), ("long tail", LONGTAIL_CASES)):
        print(f"\n{title}:\n{header}\n{'-' * len(header)}")
        worst, exact = 0.0, 0
        for name, settings in cases:
            if name not in files:
                md, quant = models[name]
                spec = synthesize_spec(md, quant, name=name, source="bench")
                files[name] = (spec, write_sparse_gguf(root / f"{name}.gguf", spec))
            spec, path = files[name]
            ref = run_dry_run(path, settings)
            if ref.error:
                print(f"{_id((name, settings)):<50} llama.cpp: {ref.error[:60]}")
                continue
            j = estimate_memory(spec, settings, backend="cpu").to_json()
            model = math.floor(j["weights_bytes"] / MIB)
            ctx = math.floor((j["kv_bytes"] + j["recurrent_state_bytes"]) / MIB)
            comp, ref_comp = j["compute_host_bytes"] / MIB, ref.compute_buffer_mib
            delta = (comp - ref_comp) / ref_comp * 100
            worst = max(worst, abs(delta))
            exact += model == ref.model_mib and ctx == ref.context_mib
            print(
                f"{_id((name, settings)):<50} {model:>8}/{ref.model_mib:<8} "
                f"{ctx:>8}/{ref.context_mib:<9} {comp:>9.1f}/{ref_comp:<9.1f} "
                f"{delta:>+6.1f}%"
            )
        print(
            f"{title}: model+context equal to the MiB in {exact}/{len(cases)} cases; "
            f"worst compute delta {worst:.1f} %"
        )
    return files


def _time_exact(files: dict[str, tuple[ModelSpec, Path]], root: Path) -> None:
    from tests.support.http_server import serve  # noqa: PLC0415 - bench only
    from vramtui.core.model.source import open_model  # noqa: PLC0415 - bench only

    s = RuntimeSettings(ctx_size=8192)
    print("\nexact mode, wall time (open the model + llama.cpp's dry run):")
    for name in ("Qwen3-32B", "Gemma-3n-E4B", "DeepSeek-V3"):
        path = files[name][1]
        os.environ["VRAMTUI_CACHE_DIR"] = str(root / f"cache-{name}")
        t0 = time.perf_counter()
        local = exact_memory(open_model(str(path)), s)
        t1 = time.perf_counter()
        exact_memory(open_model(str(path)), s)
        t2 = time.perf_counter()
        os.environ["VRAMTUI_CACHE_DIR"] = str(root / f"cache-remote-{name}")  # a cold cache
        with serve() as server:
            url = server.add_file(f"/{path.name}", path)
            t3 = time.perf_counter()
            remote = exact_memory(open_model(url, mmproj="none"), s)
            t4 = time.perf_counter()
            read = server.bytes_sent()
        assert remote.ran_on == "header" and not remote.cached
        same = (remote.model_bytes, remote.context_bytes, remote.compute_bytes) == (
            local.model_bytes,
            local.context_bytes,
            local.compute_bytes,
        )
        print(
            f"  {name:<14} local file {t1 - t0:5.2f} s · cached {t2 - t1:5.2f} s · remote "
            f"header {t4 - t3:5.2f} s ({read / MIB:.1f} MiB read of "
            f"{path.stat().st_size / 2**30:.0f} GiB; same figures: {same})"
        )


def main() -> None:
    if not exact_available():
        print("needs llama.cpp's Python package: pip install 'vramtui[exact]'")
        return
    saved = os.environ.get("VRAMTUI_CACHE_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            files = _table(Path(tmp))
            _time_exact(files, Path(tmp))
        finally:
            if saved is None:
                os.environ.pop("VRAMTUI_CACHE_DIR", None)
            else:
                os.environ["VRAMTUI_CACHE_DIR"] = saved
        spec = files["Qwen3-Next-80B-A3B"][0]
        n = 2000
        t0 = time.perf_counter()
        for i in range(n):
            estimate_memory(spec, RuntimeSettings(ctx_size=4096 + 256 * (i % 64)))
        dt = (time.perf_counter() - t0) / n * 1000
        print(f"\ninstant estimate_memory on a {len(spec.tensors)}-tensor model: {dt:.3f} ms/call")
