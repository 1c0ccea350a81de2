"""Caps on what a user file can multiply, names that cannot forge a line or a device, and
numbers from files and flags that are refused rather than crash."""

from __future__ import annotations

import tomllib

import pytest

from vramtui.cli.main import main
from vramtui.core.errors import PresetError
from vramtui.core.hardware.embedded import check_definition
from vramtui.core.hardware.presets import MAX_LIST, parse_machine
from vramtui.core.paths import bundled_presets_dir, scenario_presets_dir, valid_name

ZBOOK = "hp-zbook-ultra-g1a-64gb"


def _zbook() -> dict[str, object]:
    return tomllib.loads((bundled_presets_dir() / f"{ZBOOK}.toml").read_text())


def test_repeated_bios_steps_count_once() -> None:
    data = _zbook()
    data["carve_out_steps_mib"] = [512, 4096, 512, 4096, 8192] * 10
    steps = parse_machine(data, "m.toml").carve_out_steps
    assert [s >> 20 for s in steps] == [512, 4096, 8192]


def test_an_embedded_machine_with_thousands_of_steps_is_refused_naming_the_field() -> None:
    data = _zbook()
    data["carve_out_steps_mib"] = list(range(1, 8500))
    with pytest.raises(PresetError, match=rf"carve_out_steps_mib: more than {MAX_LIST}") as exc:
        check_definition(data, "friend.toml", ZBOOK)
    assert "friend.toml [machine_definition]" in str(exc.value)


@pytest.mark.parametrize(
    "name", ["evil\n", "con", "NUL", "nul.toml", "com1", "lpt9.x", "aux", "prn", "a\n"]
)
def test_names_ending_in_a_newline_or_naming_a_windows_device_are_refused(name: str) -> None:
    assert not valid_name(name)


@pytest.mark.parametrize("name", ["my-box", "con1", "console", "com10", "lpt", "a.b_c-d", "x"])
def test_ordinary_names_are_kept(name: str) -> None:
    assert valid_name(name)


@pytest.mark.parametrize("name", ["evil\n", "con", "nul", "com3"])
def test_preset_save_refuses_the_name_with_one_line(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["preset", "save", name, "llama-3.1-8b:Q4_K_M", "--machine", ZBOOK])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a preset name" in err
    assert not scenario_presets_dir().exists() or not any(scenario_presets_dir().iterdir())
