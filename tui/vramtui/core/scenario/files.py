"""Scenario presets: one small TOML file (model, machine, carve-out, OS, runtime settings) that a
user saves, reloads and shares with a friend. Parsing is strict so a friend's typo is an error
naming the field, never a silently ignored key. Stored as NAME.toml in scenario_presets_dir().

File format (sizes are strings in binary units, parsed by vramtui.core.sizes.parse_size):

    format = 1
    name = "glm-flash-zbook-32g"
    description = "GLM-4.7-Flash on the ZBook at 32 GB carve-out"   # optional
    model = "glm-4.7-flash:Q4_K_M"
    mmproj = "auto"                 # optional: auto, none or a path
    runtime = "lmstudio"            # optional: llamacpp, lmstudio, ollama
    [machine]
    id = "hp-zbook-ultra-g1a-64gb"
    carve_out = "32G"               # optional (machine default)
    os = "windows"                  # optional (machine default)
    gtt = "60G"                     # optional, Linux GTT override
    wired_limit = "100G"            # optional, macOS iogpu.wired_limit_mb
    os_baseline = "4G"              # optional, RAM the OS itself needs
    desktop_ram = "16G"             # optional, RAM the desktop needs to stay smooth
    backend = "vulkan"              # optional
    [settings]                      # RuntimeSettings fields (llama.cpp's names)
    ctx_size = 16384
    flash_attn = "on"
    n_gpu_layers = "all"            # or a number
    [cluster]                       # optional: several machines (vramtui.core.scenario.cluster)
    [machine_definition]            # optional: the user's own machine file, carried along
    id = "my-box"                   # (vramtui.core.hardware.embedded installs it on import)
    [[also]]                        # optional, repeatable: more models loaded at the same time
    model = "llama-3.1-8b:Q4_K_M"   # (vramtui.core.scenario.also)
    [also.settings]
    ctx_size = 4096
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from vramtui.core.atomic import read_capped, write_atomic, write_exclusive
from vramtui.core.errors import PresetError, SettingsError, VramtuiError
from vramtui.core.estimate.flags import SETTING_FLAGS
from vramtui.core.estimate.flags import type_name as _type_name
from vramtui.core.estimate.settings import RuntimeSettings, preset_setting, settings_to_preset
from vramtui.core.hardware.embedded import check_definition
from vramtui.core.paths import NAME_RULE, scenario_presets_dir, valid_name
from vramtui.core.scenario.also import AlsoModel, also_from_list
from vramtui.core.scenario.cluster import ClusterPreset, cluster_from_table
from vramtui.core.sizes import KiB, parse_size, size_arg
from vramtui.core.vocab import Backend, OsName, Runtime

FORMAT_VERSION = 1
MAX_SCENARIO_BYTES = 64 * KiB  # a scenario is a few hundred bytes; refuse anything huge
_Word = TypeVar("_Word", bound=StrEnum)

_TOP_KEYS = (
    "format",
    "name",
    "description",
    "model",
    "mmproj",
    "runtime",
    "machine",
    "settings",
    "machine_definition",
    "cluster",
    "also",
)
_MACHINE_KEYS = (
    "id",
    "carve_out",
    "os",
    "gtt",
    "wired_limit",
    "os_baseline",
    "desktop_ram",
    "backend",
)
_SIZE_KEYS = {  # file key in [machine] -> Scenario field
    "carve_out": "carve_out_bytes",
    "gtt": "gtt_bytes",
    "wired_limit": "wired_limit_bytes",
    "os_baseline": "os_baseline_bytes",
    "desktop_ram": "desktop_ram_bytes",
}
_SETTING_NAMES = tuple(f.name for f in SETTING_FLAGS)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """Model + machine state + runtime settings. None means "the machine's / runtime's default"."""

    name: str
    description: str = ""
    model_ref: str
    mmproj: str = "auto"
    machine_id: str
    carve_out_bytes: int | None = None
    os: OsName | None = None
    gtt_bytes: int | None = None
    wired_limit_bytes: int | None = None
    os_baseline_bytes: int | None = None
    desktop_ram_bytes: int | None = None
    backend: Backend | None = None
    runtime: Runtime | None = None
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    # A user machine's own file, so the preset works where that machine is not installed.
    machine_definition: dict[str, Any] | None = field(default=None, hash=False)
    cluster: ClusterPreset | None = None  # a model over several machines (scenario_cluster)
    also: tuple[AlsoModel, ...] = ()  # more models loaded at the same time (a set)

    def to_toml_dict(self) -> dict[str, Any]:
        """The file's mapping (tomli_w.dumps of it is the file); only set values are written."""
        data: dict[str, Any] = {"format": FORMAT_VERSION, "name": self.name}
        if self.description:
            data["description"] = self.description
        data["model"] = self.model_ref
        if self.mmproj != "auto":
            data["mmproj"] = self.mmproj
        if self.runtime is not None:
            data["runtime"] = str(self.runtime)
        machine: dict[str, Any] = {"id": self.machine_id}
        for key in _MACHINE_KEYS[1:]:
            attr = _SIZE_KEYS.get(key, key)
            value = getattr(self, attr)
            if value is not None:
                machine[key] = size_arg(value) if key in _SIZE_KEYS else str(value)
        data["machine"] = machine
        data["settings"] = settings_to_preset(self.settings)
        if self.machine_definition is not None:
            data["machine_definition"] = self.machine_definition
        if self.cluster is not None:
            data["cluster"] = self.cluster.to_toml_dict()
        if self.also:
            data["also"] = [a.to_toml_dict() for a in self.also]
        return data

    def to_json(self) -> dict[str, Any]:
        """JSON for `preset show --json`: sizes as integer bytes, None where unset."""
        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "model": self.model_ref,
            "mmproj": self.mmproj,
            "runtime": self.runtime,
            "machine": {
                "id": self.machine_id,
                "carve_out_bytes": self.carve_out_bytes,
                "os": self.os,
                "gtt_bytes": self.gtt_bytes,
                "wired_limit_bytes": self.wired_limit_bytes,
                "os_baseline_bytes": self.os_baseline_bytes,
                "desktop_ram_bytes": self.desktop_ram_bytes,
                "backend": self.backend,
            },
            "settings": self.settings.to_dict(),
            "machine_definition": self.machine_definition,
            "cluster": self.cluster.to_toml_dict() if self.cluster is not None else None,
            "also": [{**a.to_toml_dict(), "settings": a.settings.to_dict()} for a in self.also],
        }


@dataclass(frozen=True)
class ScenarioListing:
    """One saved file: the scenario, or None and the one-line error that keeps it from loading."""

    name: str
    path: Path
    scenario: Scenario | None
    error: str | None

    def __str__(self) -> str:
        return self.name


# --- sizes and names -------------------------------------------------------------------------


def check_name(name: str, source: str = "preset") -> str:
    """A preset name becomes a file name, so it is kept to a safe, portable alphabet."""
    if not valid_name(name):
        raise PresetError(source, "name", f"{name!r} is not a preset name ({NAME_RULE})")
    return name


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


# --- parsing -----------------------------------------------------------------------------------


def _check_keys(data: dict[str, Any], allowed: tuple[str, ...], source: str, prefix: str) -> None:
    for key in data:
        if key not in allowed:
            raise PresetError(source, f"{prefix}{key}", f"unknown key{_suggest(key, allowed)}")


def _string(
    data: dict[str, Any], key: str, source: str, field_name: str, choices: tuple[str, ...] = ()
) -> str | None:
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, str):
        raise PresetError(source, field_name, f"expected a string, got {_type_name(value)}")
    if choices and value not in choices:
        raise PresetError(
            source,
            field_name,
            f"{value!r} is not one of {', '.join(choices)}{_suggest(value, choices)}",
        )
    return value


def _word(
    data: dict[str, Any], key: str, source: str, field_name: str, vocab: type[_Word]
) -> _Word | None:
    """A word of a closed vocabulary (os, backend, runtime) as its enum member."""
    value = _string(data, key, source, field_name, tuple(w.value for w in vocab))
    return None if value is None else vocab(value)


def _size(data: dict[str, Any], key: str, source: str, field_name: str) -> int | None:
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, str):
        raise PresetError(
            source, field_name, f'expected a size string like "32G", got {_type_name(value)}'
        )
    try:
        return parse_size(value, field_name)
    except SettingsError:
        raise PresetError(
            source, field_name, f'{value!r} is not a size like "512M", "32G" or "0.5G"'
        ) from None


def _settings(raw: Any, source: str) -> RuntimeSettings:
    """The [settings] table, each key read and bounded by the settings table (as the command
    line reads it), one at a time so that an error names its own field."""
    if not isinstance(raw, dict):
        raise PresetError(source, "settings", f"expected a table [settings], got {_type_name(raw)}")
    values: dict[str, Any] = {}
    for key, given in raw.items():
        where = f"settings.{key}"
        if key not in _SETTING_NAMES:
            raise PresetError(source, where, f"unknown setting{_suggest(key, _SETTING_NAMES)}")
        try:
            values[key] = preset_setting(key, given)
        except SettingsError as err:
            raise PresetError(source, where, str(err)) from None
    try:
        return RuntimeSettings(**values)
    except SettingsError as err:  # pragma: no cover - each key was checked above
        raise PresetError(source, "settings", str(err)) from None


def _toml_error(err: tomllib.TOMLDecodeError, source: str) -> PresetError:
    message = str(err)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if match:
        problem = message[: match.start()].strip()
        return PresetError(
            source, f"line {match.group(1)}, column {match.group(2)}", f"not valid TOML: {problem}"
        )
    return PresetError(source, "", f"not valid TOML: {message}")


def scenario_from_dict(data: dict[str, Any], source: str, *, name: str | None = None) -> Scenario:
    """Validate a parsed file. `name` (an import's --name) replaces the file's own name."""
    _check_keys(data, _TOP_KEYS, source, "")
    if "format" in data:
        version = data["format"]
        if isinstance(version, bool) or not isinstance(version, int):
            raise PresetError(source, "format", f"expected an integer, got {_type_name(version)}")
        if version != FORMAT_VERSION:
            raise PresetError(
                source,
                "format",
                f"version {version} is not one this vramtui reads ({FORMAT_VERSION})",
            )
    if name is None:
        file_name = _string(data, "name", source, "name")
        if file_name is None:
            stem = Path(source).stem.lower()
            if not valid_name(stem):
                raise PresetError(source, "name", "missing")
            file_name = stem
        name = check_name(file_name, source)
    else:
        _string(data, "name", source, "name")
        name = check_name(name, source)
    description = _string(data, "description", source, "description") or ""
    model = _string(data, "model", source, "model")
    if model is None or not model.strip():
        raise PresetError(source, "model", "missing (a GGUF path, hf: reference or catalog id)")
    mmproj = _string(data, "mmproj", source, "mmproj") or "auto"
    runtime = _word(data, "runtime", source, "runtime", Runtime)
    if "machine" not in data:
        raise PresetError(source, "machine", 'missing (a [machine] table with id = "...")')
    machine = data["machine"]
    if not isinstance(machine, dict):
        raise PresetError(
            source,
            "machine",
            f'expected a [machine] table with id = "...", got {_type_name(machine)}',
        )
    _check_keys(machine, _MACHINE_KEYS, source, "machine.")
    machine_id = _string(machine, "id", source, "machine.id")
    if machine_id is None or not machine_id.strip():
        raise PresetError(source, "machine.id", "missing (see `vramtui machines`)")
    return Scenario(
        name=name,
        description=description,
        model_ref=model,
        mmproj=mmproj,
        machine_id=machine_id,
        os=_word(machine, "os", source, "machine.os", OsName),
        backend=_word(machine, "backend", source, "machine.backend", Backend),
        runtime=runtime,
        settings=_settings(data.get("settings", {}), source),
        carve_out_bytes=_size(machine, "carve_out", source, "machine.carve_out"),
        gtt_bytes=_size(machine, "gtt", source, "machine.gtt"),
        wired_limit_bytes=_size(machine, "wired_limit", source, "machine.wired_limit"),
        os_baseline_bytes=_size(machine, "os_baseline", source, "machine.os_baseline"),
        desktop_ram_bytes=_size(machine, "desktop_ram", source, "machine.desktop_ram"),
        machine_definition=_definition(data, source, machine_id),
        cluster=cluster_from_table(data["cluster"], source) if "cluster" in data else None,
        also=also_from_list(data["also"], source) if "also" in data else (),
    )


def _definition(data: dict[str, Any], source: str, machine_id: str) -> dict[str, Any] | None:
    if "machine_definition" not in data:
        return None
    check_definition(data["machine_definition"], source, machine_id)
    return dict(data["machine_definition"])


def scenario_from_toml(text: str, source: str, *, name: str | None = None) -> Scenario:
    """Parse and validate one scenario file's text; PresetError names `source` and the field."""
    if len(text) > MAX_SCENARIO_BYTES:
        raise PresetError(source, "", "too large for a scenario preset")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _toml_error(err, source) from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise PresetError(source, "", "not valid TOML: nested too deep") from None
    return scenario_from_dict(data, source, name=name)


def _escape_invisible(text: str) -> str:
    """TOML text with every control or format character tomli_w leaves raw (C1 controls such
    as U+009B, bidi marks) written as a \\uXXXX escape: the same value, harmless to print.
    tomli_w writes only basic strings, where such an escape means the character itself."""
    return "".join(ch if ch.isprintable() or ch < "\x7f" else _toml_escape(ch) for ch in text)


def _toml_escape(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def scenario_to_toml(s: Scenario) -> str:
    """The file text; scenario_from_toml(scenario_to_toml(s), ...) == s."""
    return _escape_invisible(tomli_w.dumps(s.to_toml_dict()))


def share_text(s: Scenario) -> str:
    """What goes on the clipboard: the TOML itself, importable with `vramtui preset import`."""
    return scenario_to_toml(s)


def validate_against(s: Scenario, machine_ids: list[str] | tuple[str, ...]) -> list[str]:
    """Warnings (not errors) for things only the caller can check, e.g. an unknown machine id:
    a friend's own machine preset may simply not be installed here yet."""
    warnings: list[str] = []
    if s.machine_id not in machine_ids:
        warnings.append(
            f"machine {s.machine_id!r} is not a known machine preset"
            f"{_suggest(s.machine_id, list(machine_ids))} (see `vramtui machines`)"
        )
    return warnings


def _validated(s: Scenario, source: str) -> str:
    """Serialize and read back, so that anything written is a file that loads."""
    text = scenario_to_toml(s)
    back = scenario_from_toml(text, source)
    if back != s:  # pragma: no cover - a value that does not survive TOML
        raise PresetError(source, "", "does not survive a round trip through TOML")
    return text


# --- the store ---------------------------------------------------------------------------------


def _read_file(path: Path, *, name: str | None = None) -> Scenario:
    source = str(path)
    try:
        if path.is_dir():
            raise PresetError(source, "", "is a folder, not a scenario file")
        # Not a regular file (a FIFO, /dev/zero): refused unread; the size counts bytes read.
        raw = read_capped(path, MAX_SCENARIO_BYTES)
    except FileNotFoundError:
        raise PresetError(source, "", "no such file") from None
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise PresetError(source, "", f"cannot read ({reason})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PresetError(source, "", "not UTF-8 text") from None
    return scenario_from_toml(text, source, name=name)


def preset_path(name: str) -> Path:
    """Where a saved preset of this name lives."""
    return scenario_presets_dir() / f"{check_name(name)}.toml"


def _saved_names() -> list[str]:
    folder = scenario_presets_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml") if p.is_file())


def _no_such(name: str) -> PresetError:
    names = _saved_names()
    hint = _suggest(name, names)
    saved = f"saved: {', '.join(names)}" if names else "none saved yet"
    return PresetError(name, "", f"no saved preset of that name{hint} ({saved})")


def _write_new(path: Path, text: str, force: bool, exists: str) -> None:
    """Replace `path` (force) or create it exclusively: of concurrent writers without force
    exactly one succeeds, the others get PresetError naming the file (never check-then-write)."""
    if force:
        write_atomic(path, text)
        return
    try:
        write_exclusive(path, text)
    except FileExistsError:
        raise PresetError(str(path), "", exists) from None


def save_scenario(s: Scenario, *, force: bool = False) -> Path:
    """Save as NAME.toml; an existing preset of that name is replaced only with force."""
    path = preset_path(s.name)
    text = _validated(s, s.name)
    _write_new(path, text, force, "a preset of that name exists (--force replaces it)")
    return path


def list_scenarios(problems: list[str] | None = None) -> list[ScenarioListing]:
    """Every saved preset, sorted by name; a broken file is listed with its error (and its
    error is appended to `problems` when given), never raised."""
    folder = scenario_presets_dir()
    if not folder.is_dir():
        return []
    found: list[ScenarioListing] = []
    for path in sorted(folder.glob("*.toml")):
        if not path.is_file():
            continue
        try:
            found.append(ScenarioListing(path.stem, path, _read_file(path), None))
        except VramtuiError as err:
            found.append(ScenarioListing(path.stem, path, None, str(err)))
            if problems is not None:
                problems.append(str(err))
    return found


def _is_path(name_or_path: str) -> bool:
    return (
        name_or_path.endswith(".toml")
        or "/" in name_or_path
        or "\\" in name_or_path
        or _existing_file(name_or_path)
    )


def _existing_file(text: str) -> bool:
    try:
        return Path(text).expanduser().is_file()
    except (OSError, ValueError):  # a name too long for a path, a NUL byte
        return False


def load_scenario(name_or_path: str) -> Scenario:
    """A file path (when it exists or ends in .toml), else a saved preset's name."""
    if _is_path(name_or_path):
        return _read_file(Path(name_or_path).expanduser())
    if not valid_name(name_or_path):
        raise _no_such(name_or_path)
    path = preset_path(name_or_path)
    if not path.is_file():
        raise _no_such(name_or_path)
    return _read_file(path)


def _refuse_existing(dest: Path, force: bool) -> None:
    if dest.is_dir():
        raise PresetError(str(dest), "", "is a folder")
    if dest.exists() and not force:
        raise PresetError(str(dest), "", "exists (--force replaces it)")


def export_scenario(name: str | Scenario, dest: Path, *, force: bool = False) -> Path:
    """Write a saved preset (or a scenario) to `dest` to share; a folder gets NAME.toml in it."""
    s = load_scenario(name) if isinstance(name, str) else name
    target = dest / f"{s.name}.toml" if dest.is_dir() else dest
    text = _validated(s, str(target))
    _refuse_existing(target, force)
    _write_new(target, text, force, "exists (--force replaces it)")
    target.chmod(0o644)  # a file to share: readable by others, like any file the user saves
    return target


def import_scenario(path: Path, *, name: str | None = None, force: bool = False) -> Scenario:
    """Validate a file fully, then save it (as `name` when given); nothing is written when the
    file does not validate, and an existing preset is replaced only with force."""
    s = _read_file(path, name=name)
    target = preset_path(s.name)
    text = _validated(s, str(path))
    _write_new(
        target,
        text,
        force,
        "a preset of that name exists (--force replaces it, --name picks another)",
    )
    return s


def delete_scenario(name: str) -> Path:
    """Remove a saved preset; an unknown name is an error listing the saved ones."""
    if not valid_name(name):
        raise _no_such(name)
    path = preset_path(name)
    if not path.is_file():
        raise _no_such(name)
    path.unlink()
    return path


def renamed(s: Scenario, name: str) -> Scenario:
    """The same scenario under another (checked) name."""
    return replace(s, name=check_name(name))
