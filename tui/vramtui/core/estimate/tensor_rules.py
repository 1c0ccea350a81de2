"""The tensor placement flags as llama.cpp reads them: `-ot`, `--cpu-moe`, `--n-cpu-moe`.

Sources (llama.cpp, read for facts):
- common/common.h: `LLM_FFN_EXPS_REGEX = "\\.ffn_(up|down|gate|gate_up)_(ch|)exps"`,
  `llm_ffn_block_regex(i, re) = "blk\\.<i>" + re`, `llm_ffn_exps_cpu_override()` (the expert
  regex to the CPU buffer type), `llm_add_n_cpu_ffn_overrides(n, ...)` (one rule per layer
  0..n-1).
- common/arg.cpp: `-ot/--override-tensor PATTERN=BUFFER,...` (split on ',', then on the first
  '='; BUFFER must name a buffer type of a loaded device: "CPU", "CUDA0", "Vulkan0", ...),
  `-cmoe/--cpu-moe` (all experts to the CPU), `-ncmoe/--n-cpu-moe N` (the experts of the
  first N layers). Each flag appends to one list, in command-line order.

vramtui keeps the three flags apart and orders them `-ot`, `--cpu-moe`, `--n-cpu-moe` (the
order `settings_args` and the plan write them, so a copied command means the same thing).
Kept apart from `placement` (which places the matched tensors) so that the settings can
validate `-ot` without importing the estimate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from vramtui.core.errors import SettingsError
from vramtui.core.estimate.pattern import Matcher, PatternError

EXPS_REGEX = r"\.ffn_(up|down|gate|gate_up)_(ch|)exps"  # common/common.h LLM_FFN_EXPS_REGEX
MAX_RULES = 64  # -ot rules; each is tried on every tensor, so thousands would stall a plan
MAX_OVERRIDE_TEXT = 4096  # characters of -ot text
HOST_BUFFER = "CPU"  # the name of ggml_backend_cpu_buffer_type()
# Buffer type names llama.cpp's GPU backends give their devices (ggml-cuda "CUDA0", HIP builds
# "ROCm0", ggml-vulkan "Vulkan0", ggml-metal "Metal"/"MTL0", ggml-sycl "SYCL0", ggml-rpc
# "RPC0[host:port]"); vramtui models one GPU, so any of them means "the GPU".
_DEVICE_BUFFER_RE = re.compile(
    r"^(?:(?:CUDA|ROCm|Vulkan|MTL|SYCL|CANN|OpenCL|RPC)\d*(?:\[[^\]]*\])?|Metal)$"
)


def block_exps_regex(il: int) -> str:
    """The pattern `--n-cpu-moe` pushes for layer `il` (llm_ffn_block_regex)."""
    return rf"blk\.{il}{EXPS_REGEX}"


@dataclass(frozen=True, slots=True)
class TensorOverride:
    """One PATTERN=BUFFER rule."""

    pattern: str
    buffer: str

    @property
    def to_host(self) -> bool:
        return self.buffer == HOST_BUFFER


@lru_cache(maxsize=512)
def compiled(pattern: str) -> Matcher:
    """The pattern, parsed once into a matcher linear in the name (`pattern`: the syntax, the
    part of std::regex's ECMAScript grammar people write; never Python's backtracking `re`,
    which a pattern like `(.|.)*Z` keeps busy for ever). Raises PatternError."""
    return Matcher(pattern)


def parse_override_tensor(text: str) -> tuple[TensorOverride, ...]:
    """`-ot` text -> rules (comma-separated PATTERN=BUFFER). Raises SettingsError naming the
    rule that is malformed."""
    if len(text) > MAX_OVERRIDE_TEXT:
        raise SettingsError(f"override-tensor: longer than {MAX_OVERRIDE_TEXT} characters")
    rules: list[TensorOverride] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        pattern, eq, buffer = part.partition("=")
        if not eq or not pattern:
            raise SettingsError(
                f"override-tensor {part!r}: expected PATTERN=BUFFER (e.g. exps=CPU)"
            )
        if buffer != HOST_BUFFER and not _DEVICE_BUFFER_RE.match(buffer):
            raise SettingsError(
                f"override-tensor {part!r}: buffer {buffer!r} is not CPU or a GPU buffer "
                "(CUDA0, ROCm0, Vulkan0, Metal, ...)"
            )
        try:
            compiled(pattern)
        except PatternError as err:
            raise SettingsError(f"override-tensor {part!r}: bad pattern ({err})") from None
        rules.append(TensorOverride(pattern, buffer))
        if len(rules) > MAX_RULES:
            raise SettingsError(
                f"override-tensor: more than {MAX_RULES} rules (join patterns with '|')"
            )
    return tuple(rules)


def tensor_overrides(
    override_tensor: str, cpu_moe: bool, n_cpu_moe: int
) -> tuple[TensorOverride, ...]:
    """Every rule, in the order they are tried (see the module doc)."""
    rules = list(parse_override_tensor(override_tensor))
    if cpu_moe:
        rules.append(TensorOverride(EXPS_REGEX, HOST_BUFFER))
    rules += [TensorOverride(block_exps_regex(il), HOST_BUFFER) for il in range(n_cpu_moe)]
    return tuple(rules)
