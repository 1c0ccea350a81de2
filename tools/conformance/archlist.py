"""The architectures llama.cpp lists (src/llama-arch.cpp LLM_ARCH_NAMES), each with its kind.

`architectures.json` keeps the list as data: name and kind, and the reason for every kind but
plain text generation. `read_source_names` reads the names from a llama.cpp checkout, so a
test can hold the checked-in list to the pinned source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ARCH_FILE = HERE / "architectures.json"

TEXT = "text"
KINDS = {
    TEXT: "text generation",
    "diffusion": "text generation by diffusion (no KV cache)",
    "embedding": "encoder / embedding",
    "encoder-decoder": "encoder-decoder",
    "draft": "speculative-decoding draft head",
    "audio": "TTS / audio",
    "vision": "vision / projector",
}

_NO_MEMORY = "llama-model.cpp create_memory: no KV cache (res = nullptr)"
_EMBEDDING = f"bidirectional encoder for embeddings; {_NO_MEMORY}"
_DIFFUSION = f"non-causal diffusion LM (causal_attn = false in src/models/<arch>.cpp); {_NO_MEMORY}"

# Everything not here is a causal text decoder with a KV cache and/or recurrent state.
NOT_TEXT: dict[str, tuple[str, str]] = {
    "clip": ("vision", "llama-arch.cpp: 'dummy, only used by llama-quantize' (mmproj files)"),
    "bert": ("embedding", _EMBEDDING),
    "modern-bert": ("embedding", _EMBEDDING),
    "nomic-bert": ("embedding", _EMBEDDING),
    "nomic-bert-moe": ("embedding", _EMBEDDING),
    "neo-bert": ("embedding", _EMBEDDING),
    "jina-bert-v2": ("embedding", _EMBEDDING),
    "jina-bert-v3": ("embedding", _EMBEDDING),
    "eurobert": ("embedding", _EMBEDDING),
    "gemma-embedding": ("embedding", _EMBEDDING),
    "clef": ("embedding", f"encoder with pooling (src/models/clef.cpp); {_NO_MEMORY}"),
    "llama-embed": (
        "embedding",
        "llama's graph built for embeddings (src/models/llama-embed.cpp graph<true>)",
    ),
    "t5encoder": ("embedding", "encoder only (llama-model.cpp llama_model_has_decoder: false)"),
    "t5": ("encoder-decoder", "llama-model.cpp llama_model_has_encoder: true"),
    "eagle3": (
        "draft",
        "EAGLE-3 draft head, runs beside a target model (llama_model_has_encoder: true)",
    ),
    "dflash": (
        "draft",
        "DFlash draft head, runs beside a target model (llama_model_has_encoder: true)",
    ),
    "dream": ("diffusion", _DIFFUSION),
    "llada": ("diffusion", _DIFFUSION),
    "llada-moe": ("diffusion", _DIFFUSION),
    "rnd1": ("diffusion", _DIFFUSION),
    "wavtokenizer-dec": ("audio", f"audio codec decoder (WavTokenizer); {_NO_MEMORY}"),
    "qwen3tts": ("audio", "Qwen3-TTS talker (src/models/qwen3tts.cpp)"),
    "pockettts": (
        "audio",
        "pocket-tts flow LM backbone, no lm_head (src/models/pockettts.cpp)",
    ),
}


def read_source_names(arch_cpp: Path) -> list[str]:
    """The names in LLM_ARCH_NAMES, in the source's order, less "(unknown)"."""
    text = arch_cpp.read_text(encoding="utf-8")
    m = re.search(r"LLM_ARCH_NAMES\s*=\s*\{(.*?)\n\};", text, re.S)
    if m is None:
        raise ValueError(f"{arch_cpp}: no LLM_ARCH_NAMES table")
    names = re.findall(r"\{\s*LLM_ARCH_\w+\s*,\s*\"([^\"]+)\"\s*\}", m[1])
    return [n for n in names if n != "(unknown)"]


def classify(names: list[str]) -> list[dict[str, str]]:
    rows = []
    for name in names:
        kind, reason = NOT_TEXT.get(name, (TEXT, ""))
        rows.append({"name": name, "kind": kind, "reason": reason})
    return rows


def load() -> list[dict[str, str]]:
    data: dict[str, Any] = json.loads(ARCH_FILE.read_text(encoding="utf-8"))
    rows: list[dict[str, str]] = data["architectures"]
    return rows


def save(rows: list[dict[str, str]], source: str) -> None:
    data = {"source": source, "architectures": rows}
    ARCH_FILE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
