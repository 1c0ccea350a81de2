"""The app's small pure pieces: token sizes, recent list, config, picker matching."""

from __future__ import annotations

import json

import pytest

from vramtui.app.config import save_theme, saved_keymap, saved_theme
from vramtui.app.recent import MAX_RECENT, load_recent, remember
from vramtui.app.screens.picker import catalog_items, looks_like_reference
from vramtui.app.state import CONTEXT_STEPS, context_steps
from vramtui.core.catalog.entries import catalog_entries
from vramtui.core.errors import SettingsError
from vramtui.core.paths import config_dir, data_dir
from vramtui.core.sizes import format_tokens, parse_tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("16K", 16384),
        ("16k", 16384),
        ("20000", 20000),
        ("0", 0),
        ("1.5K", 1536),
        ("128_000", 128000),
    ],
)
def test_parse_tokens(text: str, tokens: int) -> None:
    assert parse_tokens(text) == tokens


@pytest.mark.parametrize("text", ["", "lots", "-5", "99999999999"])
def test_parse_tokens_refuses_nonsense(text: str) -> None:
    with pytest.raises(SettingsError):
        parse_tokens(text)


def test_format_tokens_round_trips_the_quick_steps() -> None:
    for n in CONTEXT_STEPS:
        assert parse_tokens(format_tokens(n)) == n
    assert format_tokens(1000) == "1000"


def test_context_steps_end_at_the_model_maximum() -> None:
    assert context_steps(None) == list(CONTEXT_STEPS)


def test_recent_is_newest_first_deduplicated_and_capped() -> None:
    for i in range(MAX_RECENT + 3):
        remember(f"model-{i}")
    remember("model-5")
    recent = load_recent()
    assert recent[0] == "model-5"
    assert len(recent) == MAX_RECENT
    assert len(set(recent)) == len(recent)
    assert json.loads((data_dir() / "recent.json").read_text())["models"] == recent


def test_damaged_recent_file_is_ignored() -> None:
    data_dir().mkdir(parents=True, exist_ok=True)
    (data_dir() / "recent.json").write_text("{not json")
    assert load_recent() == []


def test_theme_is_saved_without_losing_other_settings() -> None:
    config_dir().mkdir(parents=True, exist_ok=True)
    (config_dir() / "config.toml").write_text(
        'model_dirs = ["/models"]\n\n[app.keymap]\npick-model = "o"\n'
    )
    save_theme("gruvbox")
    assert saved_theme() == "gruvbox"
    text = (config_dir() / "config.toml").read_text()
    assert "/models" in text
    assert saved_keymap() == {"pick-model": "o"}


def test_picker_offers_every_catalog_quantization() -> None:
    items = catalog_items()
    expected = sum(len(e.quants) for e in catalog_entries())
    assert len(items) == expected
    assert all(":" in item.ref for item in items)


@pytest.mark.parametrize(
    ("text", "is_ref"),
    [
        ("qwen3", False),
        ("gemma 27b", False),
        ("~/models/x.gguf", True),
        ("hf:unsloth/Qwen3-32B-GGUF:Q4_K_M", True),
        ("http://127.0.0.1:8000/m.gguf", True),
        ("model.gguf", True),
    ],
)
def test_looks_like_reference(text: str, is_ref: bool) -> None:
    assert looks_like_reference(text) is is_ref
