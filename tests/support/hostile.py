"""Hostile inputs for the hostile-input tests and `python -m bench hostile`.

Structure-aware: the metadata of real architectures (the catalog's llama, qwen3moe, qwen3next,
deepseek2 with MLA, gemma3 with SWA, gpt-oss, qwen3vl with a projector), one value at a time
replaced by something a hostile or broken file can hold (NaN, infinities, negatives, huge
numbers, text or booleans where counts belong, arrays of the wrong length, skipped arrays), run
through the estimate, the fit (`check`) and the recommendation (`recommend`).

Each input ends one of three ways: answered, refused with a one-line `VramtuiError`, or an
internal error (any other exception: a bug). `run_case` also times it, so a caller can count
hangs (anything over its bound).
"""

from __future__ import annotations

import math
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache

from vramtui.core.advice.recommend import recommend
from vramtui.core.errors import VramtuiError
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import evaluate_fit
from vramtui.core.gguf.spec import MetaValue, ModelSpec, SkippedArray
from vramtui.core.hardware.pools import MachineState
from vramtui.core.model.source import open_model
from vramtui.core.scenario.resolve import ScenarioOverrides, resolve_scenario

BASE_MODELS = (
    "llama-3.1-8b:Q4_K_M",
    "qwen3-30b-a3b:Q4_K_M",
    "qwen3-next-80b-a3b:Q4_K_M",
    "glm-4.7-flash:Q4_K_M",
    "gemma-3-27b:Q4_K_M",
    "gpt-oss-20b:MXFP4",
    "qwen3-vl-32b:Q4_K_M",
)

HOSTILE_SCALARS: tuple[MetaValue, ...] = (
    math.nan,
    math.inf,
    -math.inf,
    -1,
    0,
    1,
    3,
    2**31,
    2**32 - 1,
    2**63 - 1,
    2**64 - 1,
    10**30,
    1e300,
    -1e300,
    0.5,
    1e-300,
    4096.0,
    "7",
    "",
    "[/]\x1b[31m",
    True,
    False,
)

# Keys a header may hold that the estimate reads (besides those in the base metadata).
EXTRA_KEYS = (
    "attention.key_length",
    "attention.value_length",
    "attention.sliding_window",
    "attention.sliding_window_pattern",
    "expert_count",
    "expert_used_count",
    "nextn_predict_layers",
    "leading_dense_block_count",
    "ssm.state_size",
    "ssm.inner_size",
    "full_attention_interval",
    "interleave_moe_layer_step",
    "n_deepstack_layers",
    "attention.kv_lora_rank",
    "rope.dimension_count",
    "vocab_size",
)

CLIP_KEYS = (
    "clip.vision.image_size",
    "clip.vision.patch_size",
    "clip.vision.embedding_length",
    "clip.vision.attention.head_count",
    "clip.vision.block_count",
    "clip.vision.spatial_merge_size",
)


def hostile_arrays(n_layer: int) -> list[MetaValue]:
    """Per-layer arrays a broken file can hold: wrong length, wrong items, skipped."""
    n = min(max(n_layer, 1), 600)  # a mutated block_count may be 2^31: arrays stay small
    return [
        (),
        (math.nan,) * n,
        (0,) * n,
        (-1,) * n,
        (2**31,) * n,
        (1,) * (n + 1),
        (1,) * (n - 1),
        ("a",) * n,
        (True,) * n,
        (1.5,) * n,
        SkippedArray(4, 10**6),
        SkippedArray(8, 5000),
    ]


@cache
def base_specs() -> tuple[ModelSpec, ...]:
    return tuple(open_model(ref) for ref in BASE_MODELS)


@cache
def machine_state() -> MachineState:
    """A unified-memory machine with a carve-out: every pool of the fit is in play."""
    overrides = ScenarioOverrides(
        model_ref="unused", machine_id="framework-desktop-128gb", carve_out_bytes=32 << 30
    )
    state = resolve_scenario(None, overrides).state
    assert state is not None
    return state


def _value(rng: random.Random, n_layer: int) -> MetaValue:
    if rng.random() < 0.7:
        return rng.choice(HOSTILE_SCALARS)
    return rng.choice(hostile_arrays(n_layer))


def mutate(spec: ModelSpec, rng: random.Random) -> tuple[str, ModelSpec]:
    """One hostile change to `spec`'s metadata (or its projector's): (what changed, the spec)."""
    arch = spec.architecture
    md = dict(spec.metadata)
    blocks = md.get(f"{arch}.block_count")
    n_layer = blocks if isinstance(blocks, int) else 1
    roll = rng.random()
    if spec.mmproj is not None and roll < 0.15:
        key = rng.choice(CLIP_KEYS)
        value = rng.choice(HOSTILE_SCALARS)
        pmd = dict(spec.mmproj.metadata)
        pmd[key] = value
        return f"{key}={value!r:.40}", replace(spec, mmproj=replace(spec.mmproj, metadata=pmd))
    numeric = sorted(
        k for k, v in md.items() if k.startswith(f"{arch}.") and not isinstance(v, str)
    )
    if roll < 0.25 or not numeric:
        key = f"{arch}.{rng.choice(EXTRA_KEYS)}"
    elif roll < 0.3 and numeric:
        key = rng.choice(numeric)
        del md[key]
        return f"del {key}", replace(spec, metadata=md)
    elif roll < 0.35:
        key = rng.choice(("general.architecture", "general.name", "tokenizer.ggml.tokens"))
    else:
        key = rng.choice(numeric)
    value = _value(rng, n_layer)
    md[key] = value
    return f"{key}={value!r:.40}", replace(spec, metadata=md)


def mutations(seed: int, count: int) -> Iterator[tuple[str, ModelSpec]]:
    """`count` mutated specs, reproducible from `seed`; one or two changes each."""
    rng = random.Random(seed)
    specs = base_specs()
    for _ in range(count):
        spec = rng.choice(specs)
        what, spec = mutate(spec, rng)
        if rng.random() < 0.3:
            more, spec = mutate(spec, rng)
            what = f"{what}; {more}"
        yield f"{spec.architecture}: {what}", spec


def pipeline(spec: ModelSpec) -> None:
    """What `estimate`, `check` and `recommend` compute, with sanity checks on any answer."""
    settings = RuntimeSettings()
    bd = estimate_memory(spec, settings)
    for buf in bd.buffers:
        if buf.n_bytes < 0:
            raise AssertionError(f"negative buffer {buf}")
    fit = evaluate_fit(spec, settings, machine_state())
    for speed in (fit.speed.decode_tokens_per_second, fit.speed.prefill_tokens_per_second):
        if not math.isfinite(speed) or speed < 0:
            raise AssertionError(f"impossible speed {speed}")
    recommend(spec, settings, machine_state())


@dataclass
class Tally:
    """What a class of inputs did."""

    tried: int = 0
    answered: int = 0
    refused: int = 0
    internal: list[str] | None = None  # descriptions of internal errors
    slow: list[str] | None = None  # over the time bound
    worst_s: float = 0.0

    def __post_init__(self) -> None:
        self.internal = self.internal if self.internal is not None else []
        self.slow = self.slow if self.slow is not None else []


def run_case(tally: Tally, what: str, work: Callable[[], object], bound_s: float) -> None:
    """Run one input; count how it ended and whether it stayed under `bound_s` seconds."""
    assert tally.internal is not None and tally.slow is not None
    tally.tried += 1
    started = time.perf_counter()
    try:
        work()
        tally.answered += 1
    except VramtuiError as err:
        text = str(err)
        if "\n" in text:
            tally.internal.append(f"{what}: multi-line error {text[:80]!r}")
        tally.refused += 1
    except Exception as err:
        tally.internal.append(f"{what}: {type(err).__name__}: {str(err)[:120]}")
    elapsed = time.perf_counter() - started
    tally.worst_s = max(tally.worst_s, elapsed)
    if elapsed > bound_s:
        tally.slow.append(f"{what}: {elapsed:.1f} s")


def traced_peak(work: Callable[[], object]) -> int:
    """Peak bytes Python allocated while `work` ran (tracemalloc)."""
    tracemalloc.start()
    try:
        work()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak
