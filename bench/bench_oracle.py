"""The estimate against llama.cpp's own dry run: model / context / compute MiB per case."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

from tests.oracle.archs import MODELS
from tests.oracle.dry_run import llama_dry_run
from tests.oracle.test_oracle import CASES, _id
from tui.core.estimate.memory import estimate_memory
from tui.core.model.spec import ModelSpec
from tui.core.model.synth import synthesize_spec, write_sparse_gguf

MIB = 2**20


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files: dict[str, tuple[ModelSpec, Path]] = {}
        header = (
            f"{'case':<44} {'model ours/llama':>19} {'context ours/llama':>19} "
            f"{'compute ours/llama':>19} {'delta':>7}"
        )
        print(header)
        print("-" * len(header))
        worst = 0.0
        exact = 0
        for name, settings in CASES:
            if name not in files:
                md, quant = MODELS[name]
                spec = synthesize_spec(md, quant, name=name, source="bench")
                files[name] = (spec, write_sparse_gguf(Path(tmp) / f"{name}.gguf", spec))
            spec, path = files[name]
            ref = llama_dry_run(path, settings)
            if ref.error:
                print(f"{_id((name, settings)):<44} llama.cpp: {ref.error[:60]}")
                continue
            j = estimate_memory(spec, settings, backend="cpu").to_json()
            model = math.floor(j["weights_bytes"] / MIB)
            ctx = math.floor((j["kv_bytes"] + j["recurrent_state_bytes"]) / MIB)
            comp = j["compute_host_bytes"] / MIB
            delta = (comp - ref.compute_buffer_mib) / ref.compute_buffer_mib * 100
            worst = max(worst, abs(delta))
            exact += model == ref.model_mib and ctx == ref.context_mib
            print(
                f"{_id((name, settings)):<44} {model:>9}/{ref.model_mib:<9} "
                f"{ctx:>9}/{ref.context_mib:<9} {comp:>9.1f}/{ref.compute_buffer_mib:<9.1f} "
                f"{delta:>+6.1f}%"
            )
        print(f"\nmodel+context equal to the MiB in {exact}/{len(CASES)} cases; "
              f"worst compute delta {worst:.1f} %")  # fmt: skip
        spec = files["Qwen3-Next-80B-A3B"][0] if "Qwen3-Next-80B-A3B" in files else None
        if spec is not None:
            from tui.core.estimate.settings import RuntimeSettings  # noqa: PLC0415 - bench only

            n = 2000
            t0 = time.perf_counter()
            for i in range(n):
                estimate_memory(spec, RuntimeSettings(ctx_size=4096 + 256 * (i % 64)))
            dt = (time.perf_counter() - t0) / n * 1000
            print(f"estimate_memory on a {len(spec.tensors)}-tensor model: {dt:.3f} ms per call")


if __name__ == "__main__":
    main()
