"""Machine presets: bundled ones load and carry sources; a broken user file is skipped by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from vramtui.core.errors import VramtuiError
from vramtui.core.hardware.presets import get_machine, load_machines
from vramtui.core.paths import user_machines_dir
from vramtui.core.sizes import GiB, MiB

REQUIRED = [
    "hp-zbook-ultra-g1a-64gb",
    "framework-desktop-128gb",
    "strix-halo-32gb",
    "apple-m4-pro-48gb",
    "apple-m4-max-128gb",
    "apple-m3-ultra-512gb",
    "apple-m4-16gb",
    "nvidia-dgx-spark",
    "desktop-rtx-3090",
    "desktop-rtx-4090",
    "desktop-rtx-5090",
]


def test_bundled_presets_load_with_sources() -> None:
    cat = load_machines()
    assert not cat.problems
    for mid in REQUIRED:
        m = cat.get(mid)
        assert m is not None, mid
        assert m.sources and all(m.sources)
        assert m.bandwidth_gbps > 0 and m.fp16_tflops > 0
        if m.carve_out_steps:
            assert max(m.carve_out_steps) <= m.total_ram_bytes * m.max_carve_out_fraction


def test_zbook_machine_has_the_articles_steps() -> None:
    m = get_machine("hp-zbook-ultra-g1a-64gb")
    assert m.total_ram_bytes == 64 * GiB
    for step in (512 * MiB, 32 * GiB, 48 * GiB):
        assert step in m.carve_out_steps
    assert m.max_carve_out_fraction == 0.75
    assert "reported" in m.notes or "used" in m.notes


def test_broken_user_file_is_named_and_skipped() -> None:
    folder = user_machines_dir()
    folder.mkdir(parents=True)
    good = get_machine("strix-halo-32gb").path
    text = Path(good).read_text(encoding="utf-8").replace('id = "strix-halo-32gb"', 'id = "my-box"')
    (folder / "mine.toml").write_text(text, encoding="utf-8")
    (folder / "bad.toml").write_text(
        text.replace("bandwidth_gbps = 256.0", 'bandwidth_gbps = "fast"').replace(
            '"my-box"', '"bad-box"'
        ),
        encoding="utf-8",
    )
    (folder / "junk.toml").write_text("id = [", encoding="utf-8")
    cat = load_machines()
    assert cat.get("my-box") is not None
    assert cat.get("bad-box") is None
    assert any("bad.toml" in p and "bandwidth_gbps" in p for p in cat.problems)
    assert any("junk.toml" in p for p in cat.problems)
    assert cat.get("hp-zbook-ultra-g1a-64gb") is not None


def test_unknown_machine_lists_close_ids() -> None:
    with pytest.raises(VramtuiError, match="hp-zbook-ultra-g1a-64gb"):
        get_machine("hp-zbook")
