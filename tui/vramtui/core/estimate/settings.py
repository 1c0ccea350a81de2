"""Runtime settings, named and defaulted as llama.cpp names and defaults them.

Source for names and defaults: llama.cpp common/common.h (`common_params`) and common/arg.cpp.
One deliberate difference: llama.cpp's `--ctx-size 0` means "the model's training context";
vramtui defaults to 16384, in the CLI and the app alike: the context the 2026-02-02 ZBook article's
measurements were taken at, large enough for daily use, small enough that a 256K-token KV cache does
not dominate a first answer. Pass `ctx_size=0` (`-c max`) for the training context.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from vramtui.core.errors import SettingsError
from vramtui.core.estimate.tensor_rules import parse_override_tensor
from vramtui.core.gguf.ggml_types import KV_CACHE_TYPES

FlashAttn = Literal["auto", "on", "off"]
FLASH_ATTN_VALUES: tuple[FlashAttn, ...] = ("auto", "on", "off")
DEFAULT_CTX_SIZE = 16384


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """What the runtime is asked to do. `n_gpu_layers=None` means all layers (llama.cpp -1)."""

    ctx_size: int = DEFAULT_CTX_SIZE  # -c, --ctx-size (0 = model's training context)
    parallel: int = 1  # -np, --parallel (llama-server's "auto" picks 4)
    kv_unified: bool = False  # -kvu, --kv-unified
    batch_size: int = 2048  # -b, --batch-size
    ubatch_size: int = 512  # -ub, --ubatch-size
    cache_type_k: str = "f16"  # -ctk
    cache_type_v: str = "f16"  # -ctv
    flash_attn: FlashAttn = "auto"  # -fa on|off|auto
    n_gpu_layers: int | None = None  # -ngl (None = all, output layer included)
    kv_offload: bool = True  # --no-kv-offload turns it off
    mmap: bool = True  # --no-mmap turns it off
    keep_in_memory: bool = False  # --mlock / LM Studio "keep model in memory"
    swa_full: bool = False  # --swa-full
    mmproj_offload: bool = True  # --no-mmproj-offload turns it off
    # Expert placement (estimate/placement.py): -ot PATTERN=BUFFER,..., --cpu-moe, --n-cpu-moe N
    override_tensor: str = ""  # -ot, --override-tensor
    cpu_moe: bool = False  # -cmoe, --cpu-moe
    n_cpu_moe: int = 0  # -ncmoe, --n-cpu-moe
    # -md, --model-draft: a draft model for speculative decoding (a model reference)
    model_draft: str = ""  # "" = none

    def __post_init__(self) -> None:
        if self.ctx_size < 0:
            raise SettingsError(f"ctx-size must be 0 or positive, got {self.ctx_size}")
        if self.parallel < 1:
            raise SettingsError(f"parallel must be at least 1, got {self.parallel}")
        if self.batch_size < 1 or self.ubatch_size < 1:
            raise SettingsError("batch-size and ubatch-size must be positive")
        for name in ("cache_type_k", "cache_type_v"):
            value = getattr(self, name)
            if value not in KV_CACHE_TYPES:
                flag = name.replace("_", "-")
                raise SettingsError(f"{flag} {value!r} is not one of {', '.join(KV_CACHE_TYPES)}")
        if self.flash_attn not in FLASH_ATTN_VALUES:
            raise SettingsError(f"flash-attn {self.flash_attn!r} is not one of on, off, auto")
        if self.n_gpu_layers is not None and self.n_gpu_layers < 0:
            raise SettingsError("n-gpu-layers must be 0 or positive (or 'all')")
        if self.n_cpu_moe < 0:
            raise SettingsError(f"n-cpu-moe must be 0 or positive, got {self.n_cpu_moe}")
        parse_override_tensor(self.override_tensor)

    def with_changes(self, **changes: Any) -> RuntimeSettings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "settings") -> RuntimeSettings:
        """Build from a mapping (preset file, JSON); unknown keys are an error naming the key."""
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise SettingsError(f"{source}: unknown setting {key!r}")
        try:
            return cls(**data)
        except TypeError as err:  # pragma: no cover - dataclass arity errors
            raise SettingsError(f"{source}: {err}") from None
