"""Where models live on this machine: the folders discovery walks, per application.

- LM Studio: ~/.lmstudio/models (older: ~/.cache/lm-studio/models), or the folder set in
  ~/.lmstudio/settings.json `downloadsFolder` (v1ckxy/LMSPLS#2); the data folder may be moved
  with ~/.lmstudio-home-pointer (lmstudio-bug-tracker#553).
- Ollama: $OLLAMA_MODELS, ~/.ollama/models, the Linux service's /usr/share/ollama/.ollama/models.
- Hugging Face cache: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub.
- llama.cpp (-hf downloads): $LLAMA_CACHE, ~/.cache/llama.cpp, ~/Library/Caches/llama.cpp,
  %LOCALAPPDATA%/llama.cpp.
- The user's folders: `model_dirs = [...]` in config.toml, plus `extra_dirs`.

The small files read here (a pointer, settings.json, config.toml) are read capped and only when
they are regular files: a FIFO in their place cannot hang the listing.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vramtui.core.atomic import read_capped, read_text_capped
from vramtui.core.paths import config_dir

SMALL_FILE = 1 << 20  # settings.json, a pointer file, config.toml, an Ollama manifest


@dataclass(frozen=True, slots=True)
class Root:
    source: str
    path: Path
    kind: str = "tree"  # "tree" (walk for .gguf), "ollama", "hf"


def _home() -> Path:
    return Path(os.environ.get("HOME") or os.environ.get("USERPROFILE") or Path.home())


def _lmstudio_roots(home: Path) -> list[Path]:
    roots: list[Path] = []
    data_dirs = [home / ".lmstudio", home / ".cache" / "lm-studio"]
    pointer = home / ".lmstudio-home-pointer"
    try:
        moved = read_text_capped(pointer, SMALL_FILE).strip()
        if moved and "\0" not in moved:
            data_dirs.insert(0, Path(moved).expanduser())
    except (OSError, ValueError):
        pass
    for data in data_dirs:
        try:
            settings = json.loads(read_capped(data / "settings.json", SMALL_FILE))
            folder = settings.get("downloadsFolder") if isinstance(settings, dict) else None
            if isinstance(folder, str) and folder and "\0" not in folder:
                roots.append(Path(folder).expanduser())
        except (OSError, ValueError, RecursionError):
            pass
        roots.append(data / "models")
    return roots


def _ollama_roots(home: Path) -> list[Path]:
    roots = []
    if os.environ.get("OLLAMA_MODELS"):
        roots.append(Path(os.environ["OLLAMA_MODELS"]).expanduser())
    roots.append(home / ".ollama" / "models")
    if sys.platform.startswith("linux"):
        roots.append(Path("/usr/share/ollama/.ollama/models"))
    return roots


def _hf_roots(home: Path) -> list[Path]:
    roots = []
    if os.environ.get("HF_HUB_CACHE"):
        roots.append(Path(os.environ["HF_HUB_CACHE"]).expanduser())
    if os.environ.get("HF_HOME"):
        roots.append(Path(os.environ["HF_HOME"]).expanduser() / "hub")
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        roots.append(Path(xdg) / "huggingface" / "hub")
    roots.append(home / ".cache" / "huggingface" / "hub")
    return roots


def _llamacpp_roots(home: Path) -> list[Path]:
    roots = []
    if os.environ.get("LLAMA_CACHE"):
        roots.append(Path(os.environ["LLAMA_CACHE"]).expanduser())
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        roots.append(Path(xdg) / "llama.cpp")
    roots.append(home / ".cache" / "llama.cpp")
    roots.append(home / "Library" / "Caches" / "llama.cpp")  # macOS
    if os.environ.get("LOCALAPPDATA"):
        roots.append(Path(os.environ["LOCALAPPDATA"]) / "llama.cpp")  # Windows
    return roots


def configured_model_dirs() -> tuple[list[Path], list[str]]:
    """`model_dirs` from config_dir()/config.toml, and a problem line if the file is broken."""
    path = config_dir() / "config.toml"
    try:
        data = tomllib.loads(read_text_capped(path, SMALL_FILE))
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"{path}: cannot read model_dirs ({exc.strerror or exc})"]
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError and UnicodeDecodeError too
        return [], [f"{path}: cannot read model_dirs ({exc or 'nested too deep'})"]
    dirs = data.get("model_dirs", [])
    if not isinstance(dirs, list) or not all(isinstance(d, str) and "\0" not in d for d in dirs):
        return [], [f"{path}: model_dirs must be a list of folder paths"]
    return [Path(d).expanduser() for d in dirs], []


def default_roots(
    extra_dirs: Iterable[str | os.PathLike[str]] = (),
) -> tuple[list[Root], list[str]]:
    home = _home()
    roots = [Root("lmstudio", p) for p in _lmstudio_roots(home)]
    roots += [Root("ollama", p, "ollama") for p in _ollama_roots(home)]
    roots += [Root("huggingface", p, "hf") for p in _hf_roots(home)]
    roots += [Root("llamacpp", p) for p in _llamacpp_roots(home)]
    user_dirs, problems = configured_model_dirs()
    roots += [Root("user", p) for p in user_dirs]
    roots += [Root("user", Path(p).expanduser()) for p in extra_dirs]
    return roots, problems
