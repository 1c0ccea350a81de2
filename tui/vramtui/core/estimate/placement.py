"""Where the tensor placement rules put weights: bytes moved between the GPU and the host.

The rules (`-ot`, `--cpu-moe`, `--n-cpu-moe`) are read by `tensor_rules`. llama.cpp applies
them in src/llama-model-loader.cpp `create_tensor`: the rules are tried in order with
`std::regex_search` on the tensor name and the first match decides; a CPU rule puts the tensor
in host memory whatever its layer, any other buffer puts it on that device. Everything else
follows its layer (memory.py): blocks by n_gpu_layers, input tensors on the host, the output
layer and loose tensors with the output. Skipped NextN blocks load nothing and match nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from vramtui.core.estimate.breakdown import Buffer
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.estimate.tensor_rules import (
    EXPS_REGEX,
    TensorOverride,
    compiled,
    tensor_overrides,
)
from vramtui.core.gguf.spec import ModelSpec, layer_index
from vramtui.core.vocab import BufferKind, Place

# Input-layer tensors stay on the host by default (memory.py's _INPUT_TENSORS).
_INPUT_TENSORS = ("token_embd", "per_layer_token_embd")


@dataclass(frozen=True, slots=True)
class _Matched:
    """A tensor some rule matched: where it sits by default and where the rule sends it."""

    name: str
    layer: int  # block index; -1 input layer (host), -2 output/other (follow the output layer)
    n_bytes: int
    to_host: bool
    expert: bool


_CACHE: dict[
    tuple[int, tuple[TensorOverride, ...]], tuple[weakref.ref[ModelSpec], tuple[_Matched, ...]]
] = {}


def _region(name: str, n_loaded: int, n_layer: int) -> int | None:
    """The layer a tensor belongs to as memory.py places it; None for skipped NextN blocks."""
    if name.startswith("blk."):
        il = layer_index(name)
        if il < 0:
            return -2
        if n_loaded <= il < n_layer:
            return None
        return il if 0 <= il < n_loaded else -2
    if name.split(".", 1)[0] in _INPUT_TENSORS:
        return -1
    return -2


def matched_tensors(
    spec: ModelSpec, hp: ModelHparams, rules: tuple[TensorOverride, ...]
) -> dict[str, bool]:
    """Every tensor a rule matches (skipped NextN blocks aside) -> True when sent to the host."""
    return {m.name: m.to_host for m in _matched(spec, hp, rules)}


def _matched(
    spec: ModelSpec, hp: ModelHparams, rules: tuple[TensorOverride, ...]
) -> tuple[_Matched, ...]:
    key = (id(spec), rules)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is spec:
        return hit[1]
    n_loaded = hp.n_layer - hp.n_nextn
    out = []
    for t in spec.tensors:
        region = _region(t.name, n_loaded, hp.n_layer)
        if region is None:
            continue
        rule = next((r for r in rules if compiled(r.pattern).search(t.name)), None)
        if rule is not None:
            expert = compiled(EXPS_REGEX).search(t.name)
            out.append(_Matched(t.name, region, t.n_bytes, rule.to_host, expert))
    if len(_CACHE) > 256:
        _CACHE.clear()
    result = tuple(out)
    _CACHE[key] = (weakref.ref(spec), result)
    return result


@dataclass(frozen=True, slots=True)
class Moves:
    """Bytes the overrides move against the layer placement."""

    to_host: int = 0  # weights of device layers kept on the host
    to_device: int = 0  # weights of host layers (or input tensors) put on the GPU
    experts_to_host: int = 0  # the expert tensors among `to_host`
    largest_to_host: int = 0  # the largest single tensor among `to_host`


def tensor_moves(
    spec: ModelSpec,
    hp: ModelHparams,
    rules: tuple[TensorOverride, ...],
    on_dev: Sequence[bool],
    output_on_dev: bool,
) -> Moves:
    """What `rules` move for a placement with layers `on_dev` (a GPU backend)."""
    if not rules:
        return Moves()
    to_host = to_dev = experts = largest = 0
    for m in _matched(spec, hp, rules):
        default_dev = m.layer != -1 and (on_dev[m.layer] if m.layer >= 0 else output_on_dev)
        if default_dev and m.to_host:
            to_host += m.n_bytes
            experts += m.n_bytes if m.expert else 0
            largest = max(largest, m.n_bytes)
        elif not default_dev and not m.to_host:
            to_dev += m.n_bytes
    return Moves(to_host, to_dev, experts, largest)


def gpu_layer_start(n_layer: int, n_gpu_layers: int) -> int:
    """The first repeating layer llama.cpp offloads: the output layer counts inside
    `n_gpu_layers` (src/llama-model.cpp load_tensors: i_gpu_start = max(n_layer + 1 - ngl, 0))."""
    return max(n_layer + 1 - n_gpu_layers, 0)


def layers_on_device(n_layer: int, n_gpu_layers: int) -> tuple[tuple[bool, ...], bool]:
    """(layer on the GPU per block, output on the GPU) for `n_gpu_layers` as llama.cpp counts
    them (`gpu_layer_start`)."""
    start = gpu_layer_start(n_layer, n_gpu_layers)
    return tuple(il >= start for il in range(n_layer)), n_layer >= start and n_gpu_layers > 0


def settings_rules(settings: RuntimeSettings) -> tuple[TensorOverride, ...]:
    return tensor_overrides(settings.override_tensor, settings.cpu_moe, settings.n_cpu_moe)


def apply_overrides(
    spec: ModelSpec,
    hp: ModelHparams,
    settings: RuntimeSettings,
    buffers: list[Buffer],
    *,
    on_dev: Sequence[bool],
    output_on_dev: bool,
    gpu: bool,
    n_ubatch: int,
) -> list[Buffer]:
    """The estimate's buffers with the overridden weights moved (a GPU backend; the CPU
    backend holds everything on the host already).

    Compute buffers follow the weights:
    - device: weights kept on the host while their layer runs on the GPU are multiplied there
      at batch >= 32 (op offload, llama.cpp PR #6083 for CUDA, ROCm, Vulkan); ggml-backend.cpp
      starts a new split for each weight on an incompatible backend "so the memory of the
      previously offloaded weights can be reused": the device compute buffer holds one copied
      weight at a time, the largest. With whole layers on the CPU the estimate already counts
      a whole layer there (memory.py), which covers it.
    - host: the CPU computes the routed experts of a ubatch for those layers: the expert
      activations F32[n_ff_exp, n_used, ubatch] and outputs F32[n_embd, n_used, ubatch] of one
      layer live in its compute buffer. Checked against llama.cpp's RPC dry run
      (tests/oracle/test_moe_oracle.py): GLM-4.7-Flash +28 MiB exactly, Qwen3-30B-A3B 16 MiB
      and gpt-oss-20b 11 MiB below llama.cpp's growth (60 and 56 MiB) at ubatch 512.
    """
    rules = settings_rules(settings)
    if not (gpu and rules):
        return buffers
    mv = tensor_moves(spec, hp, rules, on_dev, output_on_dev)
    if not (mv.to_host or mv.to_device):
        return buffers
    extra = mv.largest_to_host if all(on_dev) else 0
    host_extra = 0
    if mv.experts_to_host:
        host_extra = 4 * n_ubatch * hp.n_expert_used * (hp.n_ff_exp + hp.n_embd)
    out = []
    for b in buffers:
        n = b.n_bytes
        if b.kind == BufferKind.WEIGHTS:
            delta = mv.to_host - mv.to_device
            n += -delta if b.place == Place.DEVICE else delta
        elif b.kind == BufferKind.COMPUTE:
            n += extra if b.place == Place.DEVICE else host_extra
        out.append(b.resized(n))
    return out


_HP: dict[int, tuple[weakref.ref[ModelSpec], ModelHparams]] = {}


def _hparams(spec: ModelSpec) -> ModelHparams:
    hit = _HP.get(id(spec))
    if hit is not None and hit[0]() is spec:
        return hit[1]
    hp = ModelHparams.from_spec(spec)
    if len(_HP) > 256:
        _HP.clear()
    _HP[id(spec)] = (weakref.ref(spec), hp)
    return hp


def host_expert_bytes(spec: ModelSpec, settings: RuntimeSettings, n_gpu_layers: int) -> int:
    """Expert weights of GPU layers the rules keep on the host (what the speed model reads at
    the host's bandwidth); 0 without rules."""
    rules = settings_rules(settings)
    if not rules:
        return 0
    hp = _hparams(spec)
    on_dev, out_dev = layers_on_device(hp.n_layer, n_gpu_layers)
    return tensor_moves(spec, hp, rules, on_dev, out_dev).experts_to_host
