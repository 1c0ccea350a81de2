"""One architecture's row: vramtui's estimate beside llama.cpp's dry run of the same file.

Weights compare as llama.cpp prints them (whole MiB, rounded down, both sides); context is the
KV cache plus the recurrent state, compute the CPU compute buffer, both from llama.cpp's
`size = X MiB` lines (two decimals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.conformance.oracle import FitResult, fit_params
from vramtui.core.estimate.hparams import KNOWN_ARCHITECTURES
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.files import open_local_model

MIB = 1024 * 1024
CTX = 4096
PARALLEL = (1, 4)  # -np 1 and -np 4 at -c 4096

# The summary's bar for "exact" (percent): weights, context, compute.
EXACT = {"weights": 0.5, "context": 1.0, "compute": 5.0}


def knowledge(arch: str) -> str:
    return "exact rules" if arch in KNOWN_ARCHITECTURES else "generic rules"


@dataclass
class Measure:
    """One setting: llama.cpp's and the estimate's figures (MiB) and their differences."""

    parallel: int
    ref: dict[str, float] = field(default_factory=dict)
    est: dict[str, float] = field(default_factory=dict)
    error: str = ""

    def diff(self, what: str) -> float:
        """(estimate - llama.cpp) / llama.cpp in percent; 0 where both are 0."""
        r, e = self.ref[what], self.est[what]
        if r == 0:
            return 0.0 if e == 0 else math.inf
        return 100.0 * (e - r) / r

    @property
    def exact(self) -> bool:
        return not self.error and all(abs(self.diff(w)) <= lim for w, lim in EXACT.items())

    def to_json(self) -> dict[str, Any]:
        return {"parallel": self.parallel, "ref": self.ref, "est": self.est, "error": self.error}


def fit_args(parallel: int) -> list[str]:
    return ["-c", str(CTX), "-np", str(parallel), "-t", "1"]


def settings(parallel: int) -> RuntimeSettings:
    return RuntimeSettings(ctx_size=CTX, parallel=parallel)


def _ref(r: FitResult) -> dict[str, float]:
    return {"weights": r.model_mib, "context": r.context_mib, "compute": r.compute_mib}


def estimate(path: Path, parallel: int) -> dict[str, float]:
    spec = open_local_model(str(path), mmproj="none")
    j = estimate_memory(spec, settings(parallel), backend="cpu").to_json()
    return {
        "weights": float(math.floor(j["weights_bytes"] / MIB)),
        "context": round((j["kv_bytes"] + j["recurrent_state_bytes"]) / MIB, 2),
        "compute": round((j["compute_host_bytes"] + j["compute_device_bytes"]) / MIB, 2),
    }


def measure(path: Path, parallel: int) -> Measure:
    """Both sides at -c 4096 -np `parallel`."""
    out = Measure(parallel)
    ref = fit_params(path, fit_args(parallel))
    if not ref.loaded:
        out.error = f"llama.cpp: {ref.error}"
        return out
    out.ref = _ref(ref)
    try:
        out.est = estimate(path, parallel)
    except Exception as err:  # the table records any failure of the estimate
        out.error = f"estimate: {type(err).__name__}: {err}"[:300]
    return out
