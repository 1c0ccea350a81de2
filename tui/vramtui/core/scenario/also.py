"""The other models of a set, loaded beside the scenario's own model (vramtui.core.fit.set):
as typed after `--also` ("MODEL [its own flags]", llama.cpp's names read by the one settings
table, core/estimate/flags.py) and as a preset file holds them:

    [[also]]
    model = "llama-3.1-8b:Q4_K_M"
    mmproj = "none"                 # optional: auto (default), none or a path
    [also.settings]                 # every runtime setting, as the top [settings] table
    ctx_size = 4096
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from vramtui.core.errors import PresetError, SettingsError, VramtuiError
from vramtui.core.estimate.flags import FLAGS, type_name
from vramtui.core.estimate.settings import (
    RuntimeSettings,
    preset_setting,
    settings_argv,
    settings_from_argv,
    settings_to_preset,
)
from vramtui.core.fit.set import MAX_SET_MODELS, SetMember
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.model.source import open_model

_KEYS = ("model", "mmproj", "settings")
MAX_ALSO_TEXT = 1000  # one model reference and its flags


@dataclass(frozen=True)
class AlsoModel:
    """One more model of the set: its reference, projector choice and its own settings."""

    model_ref: str
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    mmproj: str = "auto"
    ctx_said: bool = True  # False: the context is the default, fitted to the model

    def settings_for(self, spec: ModelSpec) -> RuntimeSettings:
        """A context nobody chose is the smaller of the default and the training context."""
        return self.settings if self.ctx_said else self.settings.context_fitted_to(spec)

    def words(self) -> list[str]:
        """The words after `--also`, written from the settings table (the context always)."""
        return [self.model_ref, *settings_argv(self.settings, always=("ctx_size",))]

    @property
    def text(self) -> str:
        return shlex.join(self.words())

    def to_toml_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"model": self.model_ref}
        if self.mmproj != "auto":
            data["mmproj"] = self.mmproj
        table = settings_to_preset(self.settings)
        if not self.ctx_said:  # the default context, fitted to the model when it is opened
            del table["ctx_size"]
        data["settings"] = table
        return data


def check_count(n_also: int, where: str = "--also") -> None:
    """A set holds at most MAX_SET_MODELS models, the scenario's own one included."""
    if n_also + 1 > MAX_SET_MODELS:
        raise SettingsError(
            f"{where}: {n_also} other models given; a set holds at most {MAX_SET_MODELS} "
            f"models (the first one and {MAX_SET_MODELS - 1} more)"
        )


def parse_also(text: str) -> AlsoModel:
    """`--also "MODEL [flags]"`: SettingsError naming --also and the flag that is wrong."""
    if len(text) > MAX_ALSO_TEXT:
        raise SettingsError(f"--also: longer than {MAX_ALSO_TEXT} characters")
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise SettingsError(f"--also {text[:60]!r}: {err}") from None
    if not words or words[0].startswith("-"):
        raise SettingsError(f"--also {text[:60]!r}: needs a model first, then its flags")
    try:
        settings = settings_from_argv(words[1:])
    except (SettingsError, TypeError, ValueError) as err:
        raise SettingsError(f"--also {words[0][:60]!r}: {err}") from None
    ctx_said = any(w in FLAGS["ctx_size"].option_strings for w in words[1:])
    return AlsoModel(words[0], settings, ctx_said=ctx_said)


def also_from_list(raw: Any, source: str) -> tuple[AlsoModel, ...]:
    """The file's [[also]] tables, each checked; PresetError names the entry and its field."""
    if not isinstance(raw, list):
        raise PresetError(source, "also", f"expected [[also]] tables, got {type_name(raw)}")
    check_len = len(raw)
    if check_len + 1 > MAX_SET_MODELS:
        raise PresetError(source, "also", f"at most {MAX_SET_MODELS - 1} models, got {check_len}")
    return tuple(_one(entry, source, f"also[{i}]") for i, entry in enumerate(raw))


def _one(entry: Any, source: str, where: str) -> AlsoModel:
    if not isinstance(entry, dict):
        raise PresetError(source, where, f"expected a table, got {type_name(entry)}")
    for key in entry:
        if key not in _KEYS:
            raise PresetError(source, f"{where}.{key}", "unknown key")
    model = entry.get("model")
    if not isinstance(model, str) or not model.strip():
        raise PresetError(source, f"{where}.model", "missing (a model reference)")
    mmproj = entry.get("mmproj", "auto")
    if not isinstance(mmproj, str):
        raise PresetError(source, f"{where}.mmproj", f"expected a string, got {type_name(mmproj)}")
    raw = entry.get("settings", {})
    if not isinstance(raw, dict):
        raise PresetError(source, f"{where}.settings", f"expected a table, got {type_name(raw)}")
    values: dict[str, Any] = {}
    for key, given in raw.items():
        try:
            values[key] = preset_setting(key, given)
        except SettingsError as err:
            raise PresetError(source, f"{where}.settings.{key}", str(err)) from None
    return AlsoModel(model, RuntimeSettings(**values), mmproj, ctx_said="ctx_size" in values)


def open_members(
    also: tuple[AlsoModel, ...], *, timeout: float | None = None, allow_redirects: bool = False
) -> tuple[SetMember, ...]:
    """Each model opened; a reference that does not open is an error naming --also."""
    out = []
    for a in also:
        try:
            spec = open_model(
                a.model_ref, mmproj=a.mmproj, timeout=timeout, allow_redirects=allow_redirects
            )
        except VramtuiError as err:
            raise SettingsError(f"--also: {err}") from None
        out.append(SetMember(spec, a.settings_for(spec), a.model_ref))
    return tuple(out)
