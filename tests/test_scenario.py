"""Scenario presets in the core: the TOML format, strict validation, and the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from vramtui.core.errors import PresetError
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.paths import scenario_presets_dir
from vramtui.core.scenario.files import (
    Scenario,
    delete_scenario,
    export_scenario,
    import_scenario,
    list_scenarios,
    load_scenario,
    save_scenario,
    scenario_from_toml,
    scenario_to_toml,
    share_text,
    validate_against,
)
from vramtui.core.scenario.resolve import scenario_state

GiB = 1024**3
MiB = 1024**2

FRIEND = """\
format = 1
name = "glm-flash-zbook-32g"
description = "GLM-4.7-Flash on the ZBook at 32 GB carve-out"
model = "glm-4.7-flash:Q4_K_M"
[machine]
id = "hp-zbook-ultra-g1a-64gb"
carve_out = "32G"
os = "windows"
[settings]
ctx_size = 16384
flash_attn = "on"
"""


def full_scenario(name: str = "everything") -> Scenario:
    return Scenario(
        name=name,
        description='quotes " and unicode ✓',
        model_ref="hf:unsloth/GLM-4.7-Flash-GGUF/GLM-4.7-Flash-Q4_K_M.gguf",
        mmproj="none",
        machine_id="framework-desktop-128gb",
        carve_out_bytes=512 * MiB,
        os="linux",
        gtt_bytes=100 * GiB,
        wired_limit_bytes=3 * GiB // 2,
        os_baseline_bytes=123457,
        backend="rocm",
        runtime="llamacpp",
        settings=RuntimeSettings(
            ctx_size=65536,
            parallel=2,
            kv_unified=True,
            cache_type_k="q8_0",
            cache_type_v="q8_0",
            flash_attn="on",
            n_gpu_layers=30,
            mmap=False,
        ),
    )


def test_friend_file_parses_to_the_values_written() -> None:
    s = scenario_from_toml(FRIEND, "friend.toml")
    assert s.name == "glm-flash-zbook-32g"
    assert s.model_ref == "glm-4.7-flash:Q4_K_M"
    assert s.machine_id == "hp-zbook-ultra-g1a-64gb"
    assert s.carve_out_bytes == 32 * GiB
    assert s.os == "windows"
    assert s.settings.ctx_size == 16384
    assert s.settings.flash_attn == "on"
    assert s.settings.cache_type_k == "f16"  # unset settings take the defaults
    assert s.gtt_bytes is None and s.runtime is None


@pytest.mark.parametrize("scenario", [full_scenario(), scenario_from_toml(FRIEND, "f.toml")])
def test_round_trip_is_exact(scenario: Scenario) -> None:
    text = scenario_to_toml(scenario)
    assert scenario_from_toml(text, "x.toml") == scenario
    assert scenario_to_toml(scenario_from_toml(text, "x.toml")) == text


def test_sizes_are_written_as_short_strings() -> None:
    text = scenario_to_toml(full_scenario())
    assert 'carve_out = "512M"' in text
    assert 'gtt = "100G"' in text
    assert 'wired_limit = "1536M"' in text
    assert 'os_baseline = "123457B"' in text
    assert "n_gpu_layers = 30" in text


def test_all_gpu_layers_is_written_as_all() -> None:
    s = scenario_from_toml(FRIEND, "f.toml")
    assert 'n_gpu_layers = "all"' in scenario_to_toml(s)
    assert s.settings.n_gpu_layers is None


def _error(text: str) -> PresetError:
    with pytest.raises(PresetError) as info:
        scenario_from_toml(text, "friend.toml")
    return info.value


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("ctx_size", "ctx_sise", "settings.ctx_sise", "did you mean ctx_size?"),
        ("description", "descripton", "descripton", "did you mean description?"),
        ("[machine]", "[machin]", "machin", "did you mean machine?"),
        ('os = "windows"', 'os = "win"', "machine.os", "not one of"),
        ('os = "windows"', "os = 1", "machine.os", "expected a string"),
        ("ctx_size = 16384", 'ctx_size = "16k"', "settings.ctx_size", "expected an integer"),
        ("ctx_size = 16384", "ctx_size = -1", "settings.ctx_size", "0 or positive"),
        ('flash_attn = "on"', "flash_attn = true", "settings.flash_attn", "expected a string"),
        ('flash_attn = "on"', 'flash_attn = "yes"', "settings.flash_attn", "flash-attn"),
        ('flash_attn = "on"', 'cache_type_v = "q9"', "settings.cache_type_v", "q8_0"),
        ('carve_out = "32G"', 'carve_out = "32Q"', "machine.carve_out", "not a size"),
        ('carve_out = "32G"', "carve_out = 32", "machine.carve_out", "size string"),
        ('carve_out = "32G"', 'gtt = "lots"', "machine.gtt", "not a size"),
        ('model = "glm-4.7-flash:Q4_K_M"\n', "", "model", "missing"),
        ('id = "hp-zbook-ultra-g1a-64gb"\n', "", "machine.id", "missing"),
        ("format = 1", "format = 2", "format", "version 2"),
        ('name = "glm-flash-zbook-32g"', 'name = "GLM Flash"', "name", "not a preset name"),
        ("ctx_size = 16384", "n_gpu_layers = 1.5", "settings.n_gpu_layers", "integer"),
    ],
)
def test_each_validation_error_names_the_field(old: str, new: str, field: str, words: str) -> None:
    assert old in FRIEND
    err = _error(FRIEND.replace(old, new))
    assert err.field == field
    assert err.source == "friend.toml"
    text = str(err)
    assert text.startswith(f"friend.toml: {field}: ")
    assert words in text
    assert "\n" not in text


def test_missing_machine_table_is_named() -> None:
    text = FRIEND.split("[machine]", maxsplit=1)[0] + "[settings]\nctx_size = 1024\n"
    assert _error(text).field == "machine"
    assert _error(FRIEND.replace("[machine]", 'machine = "x"\n[m2]')).field in {"machine", "m2"}


def test_toml_syntax_error_has_line_and_column() -> None:
    err = _error(FRIEND.replace('os = "windows"', "os = windows"))
    assert err.field.startswith("line 8, column ")
    assert "not valid TOML" in str(err)


def test_name_defaults_to_the_file_stem() -> None:
    text = FRIEND.replace('name = "glm-flash-zbook-32g"\n', "")
    assert scenario_from_toml(text, "downloads/my-setup.toml").name == "my-setup"
    with pytest.raises(PresetError) as info:
        scenario_from_toml(text, "downloads/My Setup.toml")  # no valid name to fall back on
    assert info.value.field == "name"


def test_share_text_is_the_importable_toml() -> None:
    s = full_scenario()
    assert scenario_from_toml(share_text(s), "clipboard") == s


def test_validate_against_warns_on_unknown_machine() -> None:
    s = scenario_from_toml(FRIEND, "f.toml")
    assert validate_against(s, ["hp-zbook-ultra-g1a-64gb"]) == []
    (warning,) = validate_against(s, ["hp-zbook-ultra-g1a-64gbx", "apple-m4-16gb"])
    assert "hp-zbook-ultra-g1a-64gb" in warning and "did you mean" in warning


# --- the store ------------------------------------------------------------------------------


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_save_load_list_delete() -> None:
    s = full_scenario("a-setup")
    path = save_scenario(s)
    assert path == scenario_presets_dir() / "a-setup.toml"
    assert load_scenario("a-setup") == s
    assert load_scenario(str(path)) == s
    (listing,) = list_scenarios()
    assert (listing.name, listing.scenario, listing.error) == ("a-setup", s, None)
    assert delete_scenario("a-setup") == path
    assert not path.exists()
    assert list_scenarios() == []


def test_save_refuses_overwrite_without_force() -> None:
    first = full_scenario("same")
    path = save_scenario(first)
    before = path.read_bytes()
    second = Scenario(name="same", model_ref="other", machine_id="apple-m4-16gb")
    with pytest.raises(PresetError, match="exists"):
        save_scenario(second)
    assert path.read_bytes() == before
    save_scenario(second, force=True)
    assert load_scenario("same") == second
    assert _files(path.parent) == ["same.toml"]  # no temporary files left behind


def test_bad_names_are_refused() -> None:
    for name in ("", "Has Space", "../escape", "a/b", ".hidden", "x" * 65, "UPPER"):
        with pytest.raises(PresetError) as info:
            save_scenario(Scenario(name=name, model_ref="m", machine_id="x"))
        assert info.value.field == "name"
    assert _files(scenario_presets_dir()) == []


def test_unknown_name_lists_the_saved_ones() -> None:
    save_scenario(full_scenario("alpha"))
    save_scenario(full_scenario("beta"))
    with pytest.raises(PresetError) as info:
        load_scenario("alpah")
    text = str(info.value)
    assert "alpha, beta" in text and "did you mean alpha?" in text
    with pytest.raises(PresetError, match=r"none saved yet|alpha"):
        delete_scenario("gamma")


def test_list_shows_broken_files_with_their_error() -> None:
    save_scenario(full_scenario("good"))
    folder = scenario_presets_dir()
    (folder / "broken.toml").write_text(FRIEND.replace("ctx_size", "ctx_sise"), encoding="utf-8")
    (folder / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    problems: list[str] = []
    listings = list_scenarios(problems)
    assert [x.name for x in listings] == ["binary", "broken", "good"]
    assert listings[0].scenario is None and "UTF-8" in (listings[0].error or "")
    assert listings[1].scenario is None and "settings.ctx_sise" in (listings[1].error or "")
    assert listings[2].scenario == full_scenario("good")
    assert len(problems) == 2


def test_import_validates_before_writing(tmp_path: Path) -> None:
    bad = tmp_path / "friend.toml"
    bad.write_text(FRIEND.replace("ctx_size", "ctx_sise"), encoding="utf-8")
    with pytest.raises(PresetError, match=r"settings\.ctx_sise"):
        import_scenario(bad)
    assert _files(scenario_presets_dir()) == []


def test_import_refuses_overwrite_and_keeps_the_file_byte_identical(tmp_path: Path) -> None:
    mine = full_scenario("glm-flash-zbook-32g")
    path = save_scenario(mine)
    before = path.read_bytes()
    friend = tmp_path / "friend.toml"
    friend.write_text(FRIEND, encoding="utf-8")
    with pytest.raises(PresetError, match="exists"):
        import_scenario(friend)
    assert path.read_bytes() == before
    other = import_scenario(friend, name="friends-glm")
    assert other.name == "friends-glm" and other.model_ref == "glm-4.7-flash:Q4_K_M"
    assert path.read_bytes() == before
    replaced = import_scenario(friend, force=True)
    assert load_scenario("glm-flash-zbook-32g") == replaced
    assert _files(path.parent) == ["friends-glm.toml", "glm-flash-zbook-32g.toml"]


def test_export_is_atomic_and_refuses_overwrite(tmp_path: Path) -> None:
    s = full_scenario("to-share")
    save_scenario(s)
    dest = tmp_path / "out" / "shared.toml"
    assert export_scenario("to-share", dest) == dest
    assert load_scenario(str(dest)) == s
    dest.write_text("keep me", encoding="utf-8")
    with pytest.raises(PresetError, match="exists"):
        export_scenario("to-share", dest)
    assert dest.read_text(encoding="utf-8") == "keep me"
    export_scenario("to-share", dest, force=True)
    assert load_scenario(str(dest)) == s
    assert export_scenario(s, tmp_path) == tmp_path / "to-share.toml"  # a folder: NAME.toml
    assert _files(dest.parent) == ["shared.toml"]


def test_load_from_a_path_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "whatever.toml"
    with pytest.raises(PresetError, match="no such file"):
        load_scenario(str(path))
    path.write_text(FRIEND, encoding="utf-8")
    assert load_scenario(str(path)).name == "glm-flash-zbook-32g"


def test_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_bytes(b"# " + b"x" * (1 << 20))
    with pytest.raises(PresetError, match="too large"):
        load_scenario(str(path))


def test_machine_state_from_a_scenario() -> None:
    s = scenario_from_toml(FRIEND, "f.toml")
    state = scenario_state(s)
    assert state.machine.id == "hp-zbook-ultra-g1a-64gb"
    assert state.carve_out_bytes == 32 * GiB
    assert state.os == "windows"
