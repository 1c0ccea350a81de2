"""Every buffer of a model split over several devices (llama.cpp `--split-mode layer`), per
device and on the host of the node that runs llama-server.

Weights and caches per device come from the single-device estimate (`estimate_memory`) by
differences: with `n_gpu_layers = n_layer + 1 - a` the device holds layers a.. plus the output
layer, so the layers [a, b) weigh W(a) - W(b) and the last device, which also holds the output
layer (cluster_split), W(a). The same holds for the KV cache and the recurrent state. The host
keeps the input embeddings (token_embd) and the logits buffer.

Compute buffers: each device reserves the peak of its own part of the ubatch graph; see
`device_compute_bytes` for the terms and where they come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vramtui.core.cluster.split import LayerSplit, assign_layers
from vramtui.core.estimate.breakdown import MemoryBreakdown
from vramtui.core.estimate.compute import compute_bytes, mask_bytes
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.estimate.memory import cache_layout, estimate_memory, mask_sizes
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.vocab import BufferKind, Place

# Pipeline parallelism (llama-context.cpp: several devices, every layer offloaded, layer split)
# makes the scheduler keep GGML_SCHED_MAX_COPIES = 4 copies of each split's inputs so that
# ubatches overlap (ggml/CMakeLists.txt, ggml-backend.cpp).
SCHED_COPIES = 4
# Per-token widths (in n_embd floats) of what a split adds to a device's compute buffer, read off
# llama.cpp's reservation (device_compute_bytes has the fit and check rows):
SPLIT_EMBD = 6.3  # fit rows: 6.00, 6.60, 6.20, 6.50; check rows 5.7-7.0
FIRST_EMBD = 5  # 5.00 on every row but MLA GLM-4.7-Flash (5.78)
OUTPUT_EMBD = 9  # 9.0 on dense rows; 5-15 elsewhere (logits dominate: within 10 %)
HOST_EMBD = 10  # the head's CPU compute buffer: 10.0 x n_embd with flash attention on every row
HOST_EMBD_NO_FA = 12  # 11.6-12.0 without flash attention


@dataclass(frozen=True, slots=True)
class DeviceBuffers:
    """One device's buffers, bytes."""

    weights: int
    kv: int  # KV cache
    recurrent: int  # recurrent state (SSM / linear-attention layers)
    compute: int

    @property
    def context(self) -> int:
        """What llama.cpp's breakdown calls "context": the KV cache and the recurrent state."""
        return self.kv + self.recurrent

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.recurrent + self.compute


@dataclass(frozen=True, slots=True)
class ClusterBuffers:
    split: LayerSplit
    devices: tuple[DeviceBuffers, ...]  # device order
    host: DeviceBuffers  # the head's CPU: input embeddings, CPU layers, logits, host compute
    output_bytes: int  # the logits buffer (host), part of host.kv's neighbour "context"
    n_ctx: int
    n_ubatch: int
    flash_attn: bool
    pipeline: bool  # llama.cpp's pipeline parallelism (every layer on a device, KV offloaded)
    approximate: bool
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "devices": [_buffers_json(d) for d in self.devices],
            "host": _buffers_json(self.host) | {"output_bytes": self.output_bytes},
            "n_ctx": self.n_ctx,
            "flash_attn": self.flash_attn,
        }


def _buffers_json(d: DeviceBuffers) -> dict[str, int]:
    return {
        "weights_bytes": d.weights,
        "kv_bytes": d.kv,
        "recurrent_state_bytes": d.recurrent,
        "compute_bytes": d.compute,
    }


def _device_totals(bd: MemoryBreakdown) -> tuple[int, int, int]:
    return (
        bd.total(Place.DEVICE, BufferKind.WEIGHTS),
        bd.total(Place.DEVICE, BufferKind.KV_CACHE),
        bd.total(Place.DEVICE, BufferKind.RECURRENT_STATE),
    )


def _masks(kv_sizes: tuple[int, ...], n_ubatch: int, flash_attn: bool) -> int:
    """The KQ masks of one ubatch: [n_kv, n_ubatch] per cache, F16 with flash attention."""
    return sum((2 if flash_attn else 4) * n * n_ubatch for n in kv_sizes)


def _graph_floats(
    hp: ModelHparams, kv_sizes: tuple[int, ...], n_ubatch: int, flash_attn: bool
) -> float:
    """The single-device graph peak without its masks, in floats per ubatch token (the CPU
    backend's terms, `compute_bytes`; without flash attention it includes KQ)."""
    total = compute_bytes(hp, kv_sizes, n_ubatch, flash_attn)
    return (total - mask_bytes(kv_sizes, n_ubatch, flash_attn)) / (4 * n_ubatch)


def device_compute_bytes(
    hp: ModelHparams,
    kv_sizes: tuple[int, ...],
    n_ubatch: int,
    flash_attn: bool,
    *,
    first: bool,
    last: bool,
    pipeline: bool,
) -> int:
    """A device's compute buffer in a layer split, read off llama.cpp's own reservation
    (tests/rpc; fit rows Llama-3.1-8B and Qwen3-32B at 4K, flash attention on and off, 2 and 3
    devices; every other model and setting is a check row):
      masks   SCHED_COPIES copies of the ubatch's KQ masks (the scheduler's input copies);
      graph   the single-device peak of a layer (`_graph_floats`) plus `SPLIT_EMBD` x n_embd
              floats per token: the residual stream coming in, kept once per copy, and the
              tensors that cross the split;
      first   the first device also holds the input embeddings' copies: + `FIRST_EMBD` x n_embd;
      last    the device with the output layer computes the logits of the ubatch:
              max(graph, n_vocab + `OUTPUT_EMBD` x n_embd) floats per token.
    Without pipeline parallelism (layers left on the CPU) there is one copy of everything and
    the device holds about the single-device peak (approximate: no oracle row pins it)."""
    ub, e = n_ubatch, hp.n_embd
    graph = _graph_floats(hp, kv_sizes, ub, flash_attn)
    if not pipeline:
        floats = max(graph, hp.n_vocab + e) if last else graph
        return int(_masks(kv_sizes, ub, flash_attn) + 4 * ub * floats)
    floats = graph + SPLIT_EMBD * e + (FIRST_EMBD * e if first else 0)
    if last:
        floats = max(floats, hp.n_vocab + OUTPUT_EMBD * e)
    return int(SCHED_COPIES * _masks(kv_sizes, ub, flash_attn) + 4 * ub * floats)


def cluster_buffers(
    spec: ModelSpec, settings: RuntimeSettings, shares: Sequence[float]
) -> ClusterBuffers:
    """Every buffer of `spec` split over len(shares) devices by `shares` (module doc)."""
    full = estimate_memory(spec, settings, backend="gpu")
    n_layer = full.n_layers
    split = assign_layers(n_layer, shares, settings.n_gpu_layers)
    cache: dict[int, tuple[int, int, int]] = {}

    def from_layer(a: int) -> tuple[int, int, int]:
        """Device weights, KV, RS with layers a.. and the output layer on the device."""
        if a not in cache:
            ngl = n_layer + 1 - a
            bd = (
                full
                if ngl >= n_layer + 1 and settings.n_gpu_layers is None
                else estimate_memory(spec, settings.with_changes(n_gpu_layers=ngl), backend="gpu")
            )
            cache[a] = _device_totals(bd)
        return cache[a]

    hp = ModelHparams.from_spec(spec)
    lay = cache_layout(hp, settings, gpu=True)  # the cells and ubatch of the estimate itself
    n_ubatch = lay.n_ubatch
    kv_sizes = mask_sizes(hp, lay)
    pipeline = len(shares) > 1 and not split.host_layers and settings.kv_offload
    devices: list[DeviceBuffers] = []
    for d, (start, end) in enumerate(split.ranges):
        last = split.output_device == d
        if end > start or last:
            w0, k0, r0 = from_layer(start)
            if not last:
                w1, k1, r1 = from_layer(end)
                w0, k0, r0 = w0 - w1, k0 - k1, r0 - r1
        else:
            w0 = k0 = r0 = 0
        busy = end > start or last
        first = busy and not any(a < b for a, b in split.ranges[:d])
        mine = _device_kv_sizes(hp, start, end, kv_sizes)
        comp = (
            device_compute_bytes(
                hp, mine, n_ubatch, full.flash_attn, first=first, last=last, pipeline=pipeline
            )
            if busy
            else 0
        )
        devices.append(DeviceBuffers(w0, k0, r0, comp))
    host = _host_buffers(
        spec,
        settings,
        split=split,
        full=full,
        hp=hp,
        n_ubatch=n_ubatch,
        kv_sizes=kv_sizes,
        pipeline=pipeline,
    )
    return ClusterBuffers(
        split=split,
        devices=tuple(devices),
        host=host,
        output_bytes=full.total(Place.HOST, BufferKind.OUTPUT),
        n_ctx=full.n_ctx,
        n_ubatch=n_ubatch,
        flash_attn=full.flash_attn,
        pipeline=pipeline,
        approximate=full.approximate,
        notes=full.notes,
    )


def _device_kv_sizes(
    hp: ModelHparams, start: int, end: int, kv_sizes: tuple[int, ...]
) -> tuple[int, ...]:
    """The masks a device's layers attend with: the full one if it holds a full-attention
    layer, the windowed one if it holds a sliding-window layer; none on a device whose layers
    are all recurrent (its split needs no mask, so the scheduler copies none to it)."""
    full = any(hp.has_kv[il] and not hp.is_swa[il] for il in range(start, end))
    swa = any(hp.has_kv[il] and hp.is_swa[il] for il in range(start, end))
    sizes = []
    if full and kv_sizes:
        sizes.append(kv_sizes[0])
    if swa and len(kv_sizes) > 1:
        sizes.append(kv_sizes[1])
    return tuple(sizes)


def _host_buffers(
    spec: ModelSpec,
    settings: RuntimeSettings,
    *,
    split: LayerSplit,
    full: MemoryBreakdown,
    hp: ModelHparams,
    n_ubatch: int,
    kv_sizes: tuple[int, ...],
    pipeline: bool,
) -> DeviceBuffers:
    """The head's CPU: input embeddings (+ layers left on the CPU), the KV of those layers, and
    the host compute buffer: the graph inputs (masks, looked-up embeddings) per copy."""
    n_gpu = None if not split.host_layers else settings.n_gpu_layers
    bd = full if n_gpu is None else estimate_memory(spec, settings, backend="gpu")
    weights = bd.total(Place.HOST, BufferKind.WEIGHTS)
    kv = bd.total(Place.HOST, BufferKind.KV_CACHE)
    rs = bd.total(Place.HOST, BufferKind.RECURRENT_STATE)
    fa = full.flash_attn
    if pipeline:
        width = HOST_EMBD if fa else HOST_EMBD_NO_FA
        compute = SCHED_COPIES * _masks(kv_sizes, n_ubatch, fa) + 4 * n_ubatch * width * hp.n_embd
    elif split.host_layers:  # the CPU computes its layers: the single-device peak
        compute = int(
            _masks(kv_sizes, n_ubatch, fa)
            + 4 * n_ubatch * _graph_floats(hp, kv_sizes, n_ubatch, fa)
        )
    else:
        compute = _masks(kv_sizes, n_ubatch, fa) + 4 * n_ubatch * HOST_EMBD * hp.n_embd
    return DeviceBuffers(weights, kv, rs, int(compute))
