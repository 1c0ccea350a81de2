"""Several models loaded at once (co-residency): a chat model beside an embedding model, a
draft or autocomplete model and a projector, each served by its own runtime process.

How runtimes hold a set (the sources the rules below rest on):
- llama-swap starts one `llama-server` process per model and runs the models of a `matrix`
  set together (llama-swap config.example.yaml, "matrix": `&` means the models run together;
  "Only the requested model is started", the others as their requests arrive); LM Studio loads
  each model as its own instance with its own weights, KV cache and context (lmstudio.ai docs,
  "Manage Models in Memory": `.load()` / `load_new_instance` loads a new instance); Ollama keeps
  up to OLLAMA_MAX_LOADED_MODELS models loaded, each with its own slots (Ollama FAQ, "How does
  Ollama handle concurrent requests?").
- So nothing is shared between the members: each one has its own weights, KV cache and its
  own compute buffers, since every llama_context reserves its own scheduler graph
  (llama.cpp src/llama-context.cpp, `graph_reserve` in the constructor). Summing each model's
  own estimate counts that duplication.
- Each process also holds its GPU runtime's own context. For CUDA it is taken as about 300 MiB
  (a guess borrowed from PyTorch's CUDA context with lazy module loading, pytorch/pytorch#107667,
  2023-08-28: "the currently used ~300MB"), counted once per model beyond the first (the
  single-model estimate already stands for one process). For Vulkan, ROCm and Metal no public
  figure was found: nothing is added there, which understates a set by that much.
- Every buffer of every model goes into the same pools (placement.py), model by model in the
  order they are started, each in llama.cpp's allocation order, so the verdict, the RAM left
  and the reasons are the set's, and the last models started are the ones that spill.
- Loading: the models are started one after another (llama-swap starts each model of a set
  when its first request arrives, above), so the load peak is the set's steady use plus the
  staging of the largest model, not of all of them. A runtime that loads two at the very same
  moment needs more than this.
- Speed: a model's decode alone is what it gets while the others are loaded but idle (the
  placement of the whole set decides what spills). While the others generate too, decode is
  bound by the same memory bandwidth (speed/predict.py's model), so it is given as a range
  between two ways the bus is shared: fair time slices (each of N busy models gets 1/N of the
  time: alone / N) and lock step (one token of every other model per token of this one:
  1 / sum of the per-token times). Neither is a measurement of a set; the range is derived.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vramtui.core.estimate.breakdown import Buffer, MemoryBreakdown
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, model_reasons, pool_usage, resolve_settings
from vramtui.core.fit.placement import (
    DEVICE_ORDER,
    DISCRETE_MARGIN,
    DevicePlacement,
    auto_offload,
    desktop_gpu_reserve,
    estimate_on,
    gpu_memory_used,
    gpu_reasons,
    place_device,
)
from vramtui.core.fit.platform import kinds_kept_in_shared
from vramtui.core.fit.ram import ram_reasons, ram_use, staging_bytes
from vramtui.core.fit.types import Reason, Segment
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState, Pools, compute_pools
from vramtui.core.sizes import MiB
from vramtui.core.speed.predict import SpeedEstimate, estimate_speed
from vramtui.core.vocab import Backend, BufferKind, Place, SegmentKind, Severity, Verdict

MAX_SET_MODELS = 8  # a chat, embedding, draft and vision model with room to spare
# A CUDA context per process: a guess, PyTorch's (pytorch/pytorch#107667, 2023-08-28).
PROCESS_CONTEXT_BYTES = {Backend.CUDA: 300 * MiB}


@dataclass(frozen=True)
class SetMember:
    """One model of a set: what it is, how it was named and its own settings."""

    spec: ModelSpec
    settings: RuntimeSettings
    model_ref: str


@dataclass(frozen=True)
class MemberShare:
    """One model's own share of the set's answer."""

    model_ref: str
    name: str
    settings: RuntimeSettings  # as resolved (flash attention decided)
    breakdown: MemoryBreakdown  # its own buffers, its process's runtime context included
    dedicated_bytes: int
    shared_bytes: int
    speed: SpeedEstimate  # alone: the others loaded and idle
    busy_decode_range: tuple[float, float]  # tok/s while every other model generates too
    reasons: tuple[Reason, ...]  # notes on the model itself (context, speed, estimate)

    @property
    def device_bytes(self) -> int:
        return self.dedicated_bytes + self.shared_bytes

    @property
    def host_bytes(self) -> int:
        return self.breakdown.host_bytes

    def to_json(self, runs: bool) -> dict[str, Any]:
        sp = self.speed
        low, high = self.busy_decode_range
        return {
            "model": self.name,
            "model_ref": self.model_ref,
            "ctx_size": self.breakdown.n_ctx,
            "parallel": self.settings.parallel,
            "device_bytes": self.device_bytes,
            "dedicated_bytes": self.dedicated_bytes,
            "shared_bytes": self.shared_bytes,
            "host_bytes": self.host_bytes,
            "n_gpu_layers": self.breakdown.n_gpu_layers,
            "reasons": [r.code for r in self.reasons],
            "decode_tokens_per_second": round(sp.decode_tokens_per_second, 2) if runs else None,
            "decode_tokens_per_second_range": sp.decode_range_json() if runs else None,
            "decode_tokens_per_second_busy_range": (
                [round(low, 2), round(high, 2)] if runs else None
            ),
            "prefill_tokens_per_second": round(sp.prefill_tokens_per_second, 1) if runs else None,
            "estimate": self.breakdown.to_json(),
        }


@dataclass(frozen=True)
class SetFit:
    """The set's answer (`fit`: verdict, reasons, pools and RAM left of every model together;
    its speed and settings are the first model's) and each model's own share."""

    fit: FitResult
    members: tuple[MemberShare, ...]

    def models_json(self) -> list[dict[str, Any]]:
        """Each model's own share, as `check --json` lists them under `models`."""
        return [m.to_json(self.fit.runs) for m in self.members]


def _breakdowns(
    members: tuple[SetMember, ...], state: MachineState
) -> list[tuple[RuntimeSettings, MemoryBreakdown]]:
    """Each model's own estimate; on a discrete card the layers of a model left to llama.cpp's
    --fit get what the models before it left of the VRAM."""
    backend = state.resolved_backend
    m = state.machine
    budget = m.gpu_vram_bytes - DISCRETE_MARGIN
    context = PROCESS_CONTEXT_BYTES.get(backend, 0)
    out = []
    for i, member in enumerate(members):
        s = resolve_settings(member.spec, member.settings, state)
        if m.discrete and s.n_gpu_layers is None:
            bd = auto_offload(member.spec, s, backend, max(budget, 0))
        else:
            bd = estimate_on(member.spec, s, backend)
        if i and context and backend != Backend.CPU:
            extra = Buffer(Place.DEVICE, BufferKind.COMPUTE, context, "runtime context")
            bd = replace(bd, buffers=(*bd.buffers, extra))
        budget -= bd.device_bytes
        out.append((s, bd))
    return out


def _merged(first: MemoryBreakdown, others: list[MemoryBreakdown]) -> MemoryBreakdown:
    """Every buffer of the set in one breakdown, the first model's shape kept."""
    buffers = tuple(b for bd in (first, *others) for b in bd.buffers)
    return replace(first, buffers=buffers, approximate=first.approximate)


def _split(
    bds: list[MemoryBreakdown], pools: Pools, state: MachineState
) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    """Each model's bytes in dedicated and in shared memory, by kind: the models in the order
    they are started, each one's buffers in llama.cpp's allocation order (DEVICE_ORDER), the
    kinds the platform keeps in shared memory there. The totals are place_device's whatever
    the order; the order decides whose buffers spill."""
    room = pools.dedicated_bytes - min(desktop_gpu_reserve(state), pools.dedicated_bytes)
    kept = kinds_kept_in_shared(state) if pools.shared_bytes else frozenset()
    dedicated: list[dict[str, int]] = [{} for _ in bds]
    shared: list[dict[str, int]] = [{} for _ in bds]
    for i, bd in enumerate(bds):
        for kind in DEVICE_ORDER:
            n = bd.total(Place.DEVICE, kind)
            into = 0 if kind in kept else min(n, room)
            room -= into
            if into:
                dedicated[i][kind.value] = into
            if n - into:
                shared[i][kind.value] = n - into
    return dedicated, shared


def _short(ref: str) -> str:
    """A model's name on a pool bar: the catalog id or the file's stem."""
    return ref.rsplit("/", 1)[-1].removesuffix(".gguf")[:40] or "model"


def _per_model(
    dev: DevicePlacement, parts: tuple[list[dict[str, int]], list[dict[str, int]]], refs: list[str]
) -> DevicePlacement:
    """The placement drawn with the first model's buffers by kind and each other model as one
    segment of its own per pool, so the bars show every model's share."""

    def segments(by_model: list[dict[str, int]]) -> tuple[Segment, ...]:
        first = [
            Segment(k.label, SegmentKind(k.value), by_model[0][k.value])
            for k in DEVICE_ORDER
            if by_model[0].get(k.value)
        ]
        others = [
            Segment(_short(ref), SegmentKind.OTHER_MODEL, sum(own.values()))
            for ref, own in zip(refs[1:], by_model[1:], strict=True)
            if sum(own.values())
        ]
        return (*first, *others)

    return replace(dev, dedicated=segments(parts[0]), shared=segments(parts[1]))


def _busy_range(alone: list[float]) -> list[tuple[float, float]]:
    """Decode while every model generates (module doc): between fair time slices and lock
    step, never above the decode alone."""
    n = len(alone)
    per_token = sum(1.0 / t for t in alone if t > 0)
    out = []
    for tps in alone:
        if tps <= 0 or n == 1:
            out.append((tps, tps))
            continue
        sliced, lockstep = tps / n, 1.0 / per_token
        out.append((min(sliced, lockstep), min(max(sliced, lockstep), tps)))
    return out


def _speeds(
    members: tuple[SetMember, ...],
    bds: list[MemoryBreakdown],
    shared: list[dict[str, int]] | None,
    state: MachineState,
    *,
    prompt_tokens: int | None,
    calibration: float | None,
) -> list[SpeedEstimate]:
    """Each model's speed alone with the set's placement (what of it spilled); the
    calibration is the first model's own."""
    return [
        estimate_speed(
            spec=member.spec,
            machine=state.machine,
            backend=state.resolved_backend,
            os=state.os,
            runtime=state.runtime,
            breakdown=bd,
            shared_bytes=shared[i] if shared is not None else None,
            prompt_tokens=prompt_tokens or 1024,
            calibration=calibration if i == 0 else None,
        )
        for i, (member, bd) in enumerate(zip(members, bds, strict=True))
    ]


def evaluate_set(
    members: tuple[SetMember, ...],
    state: MachineState,
    *,
    prompt_tokens: int | None = None,
    calibration: float | None = None,
) -> SetFit:
    """Every model of the set placed in the machine's pools together and judged as one load.
    `calibration` applies to the first model only (it was measured for that model)."""
    if not members:
        raise ValueError("a set needs at least one model")
    pools = compute_pools(state)
    built = _breakdowns(members, state)
    bds = [bd for _, bd in built]
    merged = _merged(bds[0], bds[1:])
    dev = place_device(merged, pools, state)
    first = built[0][0]
    ram = ram_use(state, first, pools, merged, dev)
    if not any(seg.kind == SegmentKind.KEPT for seg in ram.segments):
        stage_all = staging_bytes(state, pools, merged.total(Place.DEVICE, BufferKind.WEIGHTS))
        largest = max(
            staging_bytes(state, pools, bd.total(Place.DEVICE, BufferKind.WEIGHTS)) for bd in bds
        )
        ram = replace(ram, load_peak=ram.load_peak - stage_all + largest)
    reasons = gpu_reasons(state, pools, merged, dev) + ram_reasons(state, pools, ram)
    loads = all(r.severity != Severity.ERROR for r in reasons)
    parts = _split(bds, pools, state)
    shared = parts[1]
    speeds = _speeds(
        members,
        bds,
        shared if pools.shared_is_slow else None,
        state,
        prompt_tokens=prompt_tokens,
        calibration=calibration,
    )
    ranges = _busy_range([sp.decode_tokens_per_second for sp in speeds])
    shares = []
    for i, member in enumerate(members):
        s, bd = built[i]
        notes = model_reasons(member.spec, s, bd, speeds[i] if loads else None)
        on_shared = sum(shared[i].values())
        shares.append(
            MemberShare(
                model_ref=member.model_ref,
                name=member.spec.name,
                settings=s,
                breakdown=bd,
                dedicated_bytes=bd.device_bytes - on_shared,
                shared_bytes=on_shared,
                speed=speeds[i],
                busy_decode_range=ranges[i],
                reasons=tuple(notes),
            )
        )
    reasons += list(shares[0].reasons)
    fit = FitResult(
        verdict=Verdict.from_severities({r.severity for r in reasons}),
        reasons=tuple(reasons),
        pools=pools,
        pool_usage=pool_usage(
            state, pools, _per_model(dev, parts, [x.model_ref for x in members]), ram
        ),
        dedicated_used_bytes=dev.dedicated_used,
        shared_used_bytes=dev.shared_used,
        system_ram_left_bytes=max(ram.left, 0),
        load_peak_bytes=ram.load_peak,
        gpu_memory_used_bytes=gpu_memory_used(state, dev),
        breakdown=merged,
        speed=speeds[0],
        n_gpu_layers=bds[0].n_gpu_layers,
        backend=state.resolved_backend,
        settings=first,
        kept_shared_bytes=dev.kept_shared,
    )
    return SetFit(fit, tuple(shares))
