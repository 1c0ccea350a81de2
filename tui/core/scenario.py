"""Scenario presets: one small TOML file (model, machine, carve-out, OS, runtime settings) that
people share. Stored in scenario_presets_dir(); validated strictly before anything is written.

File format:
    name = "glm-32g"                # optional, defaults to the file name
    description = "..."             # optional
    model = "glm-4.7-flash:Q4_K_M"  # required
    machine = "hp-zbook-ultra-g1a-64gb"
    carve_out = "32G"               # size string (binary units) or integer bytes
    os = "windows"
    runtime = "lmstudio"
    mmproj = "auto"
    gtt = "60G"                     # Linux GTT override
    wired_limit = "100G"            # macOS override
    [settings]                      # RuntimeSettings field names (llama.cpp's)
    ctx_size = 16384
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from tui.core.atomic import write_atomic
from tui.core.errors import PresetError, SettingsError
from tui.core.paths import scenario_presets_dir
from tui.core.settings import RuntimeSettings
from tui.core.sizes import parse_size

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_SCENARIO_BYTES = 64 << 10
_TOP = {"name", "description", "model", "machine", "carve_out", "os", "runtime", "mmproj", "gtt",
        "wired_limit", "backend", "settings"}  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    model_ref: str
    machine_id: str | None = None
    carve_out_bytes: int | None = None
    os: str | None = None
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    mmproj: str = "auto"
    gtt_bytes: int | None = None
    wired_limit_bytes: int | None = None
    runtime: str | None = None
    backend: str | None = None
    name: str = ""
    description: str = ""

    def to_toml_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        data["model"] = self.model_ref
        for key, value in (("machine", self.machine_id), ("carve_out", self.carve_out_bytes),
                           ("os", self.os), ("runtime", self.runtime), ("backend", self.backend),
                           ("gtt", self.gtt_bytes), ("wired_limit", self.wired_limit_bytes)):  # fmt: skip
            if value is not None:
                data[key] = _size_text(value) if isinstance(value, int) else value
        if self.mmproj != "auto":
            data["mmproj"] = self.mmproj
        defaults = RuntimeSettings().to_dict()
        changed = {k: v for k, v in self.settings.to_dict().items() if v != defaults[k]}
        data["settings"] = {k: v for k, v in changed.items() if v is not None}
        return data


def _size_text(n: int) -> str | int:
    """32 GiB -> "32G", 512 MiB -> "512M" (as BIOS menus write them); other sizes stay bytes."""
    if n and n % (1 << 30) == 0:
        return f"{n >> 30}G"
    if n and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    return n


def _size(data: dict[str, Any], key: str, source: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise PresetError(source, key, "expected a size like 32G or a number of bytes")
    if isinstance(value, int):
        if value < 0:
            raise PresetError(source, key, "must not be negative")
        return value
    if isinstance(value, str):
        try:
            return parse_size(value, key)
        except SettingsError as err:
            raise PresetError(source, key, str(err)) from None
    raise PresetError(source, key, "expected a size like 32G or a number of bytes")


def _str(data: dict[str, Any], key: str, source: str, choices: tuple[str, ...] = ()) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PresetError(source, key, f"expected a string, got {type(value).__name__}")
    if choices and value not in choices:
        raise PresetError(source, key, f"must be one of {', '.join(choices)}")
    return value


def parse_scenario(data: dict[str, Any], source: str, default_name: str = "") -> Scenario:
    for key in data:
        if key not in _TOP:
            raise PresetError(source, key, "unknown field")
    model = _str(data, "model", source)
    if not model:
        raise PresetError(source, "model", "missing")
    raw = data.get("settings", {})
    if not isinstance(raw, dict):
        raise PresetError(source, "settings", "expected a table")
    known = RuntimeSettings.__dataclass_fields__
    for key, value in raw.items():
        if key not in known:
            raise PresetError(source, f"settings.{key}", "unknown setting")
        expected = type(getattr(RuntimeSettings(), key))
        if key == "n_gpu_layers":
            if isinstance(value, bool) or not isinstance(value, int):
                raise PresetError(source, f"settings.{key}", "expected an integer")
        elif isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
            raise PresetError(source, f"settings.{key}", f"expected {expected.__name__}")
    try:
        settings = RuntimeSettings.from_dict(dict(raw), source=source)
    except SettingsError as err:
        raise PresetError(source, "settings", str(err)) from None
    name = _str(data, "name", source) or default_name
    if name and not NAME_RE.match(name):
        raise PresetError(source, "name", "use letters, digits, '.', '_' or '-' (max 64)")
    return Scenario(
        model_ref=model, machine_id=_str(data, "machine", source),
        carve_out_bytes=_size(data, "carve_out", source),
        os=_str(data, "os", source, ("windows", "linux", "macos")), settings=settings,
        mmproj=_str(data, "mmproj", source) or "auto", gtt_bytes=_size(data, "gtt", source),
        wired_limit_bytes=_size(data, "wired_limit", source),
        runtime=_str(data, "runtime", source, ("llamacpp", "lmstudio", "ollama")),
        backend=_str(data, "backend", source, ("vulkan", "rocm", "metal", "cuda", "cpu")),
        name=name, description=_str(data, "description", source) or "",
    )  # fmt: skip


def read_scenario_file(path: Path) -> Scenario:
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise PresetError(str(path), "", "file too large for a scenario preset")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise PresetError(str(path), "", f"not valid TOML ({err})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PresetError(str(path), "", f"cannot read ({err})") from None
    return parse_scenario(data, str(path), default_name=path.stem)


def _path_for(name: str) -> Path:
    if not NAME_RE.match(name):
        raise PresetError(name, "name", "use letters, digits, '.', '_' or '-' (max 64)")
    return scenario_presets_dir() / f"{name}.toml"


def save_scenario(scenario: Scenario, *, force: bool = False) -> Path:
    if not scenario.name:
        raise PresetError("scenario", "name", "missing")
    path = _path_for(scenario.name)
    if path.exists() and not force:
        raise PresetError(str(path), "", "exists; use --force to overwrite")
    text = tomli_w.dumps(scenario.to_toml_dict())
    parse_scenario(tomllib.loads(text), str(path))  # what we write must read back
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return path


def list_scenarios(problems: list[str] | None = None) -> list[Scenario]:
    folder = scenario_presets_dir()
    found: list[Scenario] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.toml")):
        try:
            found.append(read_scenario_file(path))
        except PresetError as err:
            if problems is not None:
                problems.append(f"{err} (skipped)")
    return found


def load_scenario(name_or_path: str) -> Scenario:
    """A saved preset by name, or any file path."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix == ".toml" or "/" in name_or_path or "\\" in name_or_path:
        if not candidate.is_file():
            raise PresetError(name_or_path, "", "no such preset file")
        return read_scenario_file(candidate)
    path = _path_for(name_or_path)
    if not path.is_file():
        names = [s.name for s in list_scenarios()]
        hint = f" (saved: {', '.join(names)})" if names else ""
        raise PresetError(name_or_path, "", f"no saved preset of that name{hint}")
    return read_scenario_file(path)


def export_scenario(name: str, dest: Path) -> Path:
    scenario = load_scenario(name)
    text = tomli_w.dumps(scenario.to_toml_dict())
    target = dest / f"{scenario.name}.toml" if dest.is_dir() else dest
    write_atomic(target, text)
    return target


def import_scenario(path: Path, *, force: bool = False, name: str | None = None) -> Path:
    scenario = read_scenario_file(path)  # validates before anything is written
    if name:
        scenario = Scenario(**{**scenario.__dict__, "name": name})
    if not scenario.name:
        scenario = Scenario(**{**scenario.__dict__, "name": path.stem})
    return save_scenario(scenario, force=force)


def delete_scenario(name: str) -> Path:
    path = _path_for(name)
    if not path.is_file():
        raise PresetError(name, "", "no saved preset of that name")
    path.unlink()
    return path
