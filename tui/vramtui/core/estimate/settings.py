"""Runtime settings, named and defaulted as llama.cpp names and defaults them.

Source for names and defaults: llama.cpp common/common.h (`common_params`) and common/arg.cpp.
One deliberate difference: llama.cpp's `--ctx-size 0` means "the model's training context";
vramtui defaults to 16384, in the CLI and the app alike: the context the 2026-02-02 ZBook article's
measurements were taken at, large enough for daily use, small enough that a 256K-token KV cache does
not dominate a first answer. Pass `ctx_size=0` (`-c max`) for the training context.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from vramtui.core.errors import SettingsError
from vramtui.core.estimate.flags import (
    BY_OPTION,
    DEFAULT_CTX_SIZE,
    DEFAULTS,
    FLAGS,
    FLASH_ATTN_VALUES,
    SETTING_FLAGS,
    check,
    flag_args,
    parse_preset,
    parse_text,
    write_preset,
)
from vramtui.core.gguf.spec import ModelSpec

FlashAttn = Literal["auto", "on", "off"]
__all__ = ["DEFAULT_CTX_SIZE", "FLASH_ATTN_VALUES", "FlashAttn", "RuntimeSettings"]


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """What the runtime is asked to do. `n_gpu_layers=None` means all layers (llama.cpp -1).
    Defaults, bounds and flags: the table in estimate/flags.py."""

    ctx_size: int = DEFAULTS["ctx_size"]  # -c, --ctx-size (0 = model's training context)
    parallel: int = DEFAULTS["parallel"]  # -np, --parallel (llama-server's "auto" picks 4)
    kv_unified: bool = DEFAULTS["kv_unified"]  # -kvu, --kv-unified
    batch_size: int = DEFAULTS["batch_size"]  # -b, --batch-size
    ubatch_size: int = DEFAULTS["ubatch_size"]  # -ub, --ubatch-size
    cache_type_k: str = DEFAULTS["cache_type_k"]  # -ctk
    cache_type_v: str = DEFAULTS["cache_type_v"]  # -ctv
    flash_attn: FlashAttn = DEFAULTS["flash_attn"]  # -fa on|off|auto
    n_gpu_layers: int | None = DEFAULTS["n_gpu_layers"]  # -ngl (None = all, output included)
    kv_offload: bool = DEFAULTS["kv_offload"]  # --no-kv-offload turns it off
    mmap: bool = DEFAULTS["mmap"]  # --no-mmap turns it off
    keep_in_memory: bool = DEFAULTS["keep_in_memory"]  # --mlock / LM Studio "keep in memory"
    swa_full: bool = DEFAULTS["swa_full"]  # --swa-full
    mmproj_offload: bool = DEFAULTS["mmproj_offload"]  # --no-mmproj-offload turns it off
    # Expert placement (estimate/placement.py): -ot PATTERN=BUFFER,..., --cpu-moe, --n-cpu-moe N
    override_tensor: str = DEFAULTS["override_tensor"]  # -ot, --override-tensor
    cpu_moe: bool = DEFAULTS["cpu_moe"]  # -cmoe, --cpu-moe
    n_cpu_moe: int = DEFAULTS["n_cpu_moe"]  # -ncmoe, --n-cpu-moe
    # -md, --model-draft: a draft model for speculative decoding (a model reference)
    model_draft: str = DEFAULTS["model_draft"]  # "" = none
    llama_build: int = DEFAULTS["llama_build"]  # --llama-build (vramtui's own; 0 = current)
    rocm_release: str = DEFAULTS["rocm_release"]  # --rocm-release (vramtui's own)

    def __post_init__(self) -> None:
        for f in SETTING_FLAGS:
            check(f, getattr(self, f.name))

    def with_changes(self, **changes: Any) -> RuntimeSettings:
        return replace(self, **changes)

    def context_fitted_to(self, spec: ModelSpec) -> RuntimeSettings:
        """For a context nobody chose: the smaller of this one and the model's training
        context (a 4K model is not asked for 16K)."""
        trained = spec.meta("context_length")
        if not isinstance(trained, int) or isinstance(trained, bool):
            return self
        return self.with_changes(ctx_size=trained) if 0 < trained < self.ctx_size else self

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


def settings_argv(
    settings: RuntimeSettings,
    always: Sequence[str] = ("ctx_size",),
    llama_cpp_only: bool = False,
) -> list[str]:
    """The command-line flags that give `settings`: the fields named in `always` first, in that
    order, then every other field that differs from its default, in the table's order. The
    same words for llama-server and for vramtui (both read llama.cpp's names);
    `llama_cpp_only` leaves out vramtui's own settings (a llama-server line)."""
    args: list[str] = []
    for name in always:
        args += flag_args(FLAGS[name], getattr(settings, name))
    for f in SETTING_FLAGS:
        value = getattr(settings, f.name)
        if llama_cpp_only and not f.llama_cpp:
            continue
        if f.name not in always and value != f.default:
            args += flag_args(f, value)
    return args


def settings_from_argv(argv: Iterable[str], base: RuntimeSettings | None = None) -> RuntimeSettings:
    """`base` (else the defaults) with the flags in `argv` applied: the inverse of
    settings_argv. A word that is not a setting's flag is a SettingsError; `-ot` may repeat."""
    changes: dict[str, Any] = {}
    words = iter(argv)
    for word in words:
        f = BY_OPTION.get(word)
        if f is None:
            raise SettingsError(f"{word[:40]!r} is not a runtime setting's flag")
        if f.kind == "switch":
            changes[f.name] = f.switch_value
            continue
        text = next(words, None)
        if text is None:
            raise SettingsError(f"{word} needs a value")
        value = parse_text(f, text)
        if f.kind == "rules" and changes.get(f.name):
            value = f"{changes[f.name]},{value}"
        changes[f.name] = value
    return (base or RuntimeSettings()).with_changes(**changes)


def settings_to_preset(settings: RuntimeSettings) -> dict[str, Any]:
    """A preset file's [settings] table: every field (a shared file must not depend on this
    version's defaults), "all" for every layer."""
    return {f.name: write_preset(f, getattr(settings, f.name)) for f in SETTING_FLAGS}


def preset_setting(key: str, raw: Any) -> Any:
    """One [settings] key's value, checked as the command line checks it."""
    f = FLAGS.get(key)
    if f is None:
        raise SettingsError(f"unknown setting {key!r}")
    return parse_preset(f, raw)
