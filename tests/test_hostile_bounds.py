"""Caps on what a user file can multiply, names that cannot forge a line or a device, and
numbers from files and flags that are refused rather than crash."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from tests.support.hostile import pipeline
from vramtui.cli.main import main
from vramtui.core.cluster.types import node_from_text
from vramtui.core.errors import PresetError, SettingsError
from vramtui.core.gguf.header_cache import BadEntry, spec_from_json, spec_to_json
from vramtui.core.gguf.spec import TensorInfo, layer_index
from vramtui.core.hardware.embedded import check_definition
from vramtui.core.hardware.presets import MAX_LIST, parse_machine
from vramtui.core.model.source import open_model
from vramtui.core.paths import bundled_presets_dir, scenario_presets_dir, valid_name
from vramtui.core.sizes import ascii_int

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


# -- numbers: ASCII digits with bounds, everywhere ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("65535", 65535),
        ("²", None),
        ("٣", None),
        (" 3", None),
        ("3_0", None),
        ("", None),
        ("-1", None),
        ("65536", None),
        ("9" * 400, None),
    ],
)
def test_ascii_int_takes_plain_digits_within_bounds(text: str, expected: int | None) -> None:
    assert ascii_int(text, 0, 65535) == expected


def test_a_layer_named_with_a_superscript_digit_is_answered() -> None:
    base = open_model("llama-3.1-8b:Q4_K_M")
    odd = TensorInfo("blk.².attn_extra.weight", (4096, 4096), base.tensors[-1].ggml_type)
    pipeline(dataclasses.replace(base, tensors=(*base.tensors, odd)))
    assert layer_index(odd.name) == -1 and layer_index("blk.12.ffn_up.weight") == 12


@pytest.mark.parametrize("port", ["²", "٣", "0", "65536", "1_0"])
def test_a_node_port_that_is_not_plain_digits_is_one_line(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    node = f"{ZBOOK}@10.0.0.2:{port}"
    code = main(["cluster", "llama-3.1-8b:Q4_K_M", "--node", node, "--node", ZBOOK])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not 1-65535" in err


def test_a_preset_cluster_node_port_is_refused() -> None:
    with pytest.raises(SettingsError, match="is not 1-65535"):
        node_from_text(f"{ZBOOK}@host:²")


@pytest.mark.parametrize(
    ("field", "value"),
    [("dims", 10**80), ("file_size", 10**400), ("metadata", 10**30), ("name", "x" * 64)],
)
def test_a_cache_entry_beyond_the_header_readers_caps_is_a_miss(field: str, value: object) -> None:
    data = spec_to_json(open_model("llama-3.1-8b:Q4_K_M"))
    if field == "dims":
        data["tensors"][0][1] = [value, 1]
    elif field == "name":
        data["tensors"][0][0] = value
    elif field == "metadata":
        data["metadata"]["general.x"] = value
    else:
        data[field] = value
    with pytest.raises(BadEntry):
        spec_from_json(data)
    spec_from_json(spec_to_json(open_model("llama-3.1-8b:Q4_K_M")))  # the control entry loads


def test_image_size_takes_ascii_digits_only() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "llama-3.1-8b:Q4_K_M", "--image-size", "²²x512"])
    assert exc.value.code == 2


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 10**400, -3])
def test_a_broken_projector_figure_never_crashes_the_estimate(value: object) -> None:
    """A projector whose vision keys are not finite sizes gets the default figure here (the
    validator reports the file), never an internal error."""
    from dataclasses import replace as _replace  # noqa: PLC0415

    from vramtui.core.catalog.entries import open_catalog_model  # noqa: PLC0415
    from vramtui.core.estimate.compute import projector_compute_bytes  # noqa: PLC0415

    spec = open_catalog_model("qwen3-vl-32b:Q4_K_M")
    assert spec is not None and spec.mmproj is not None
    metadata = {**spec.mmproj.metadata, "clip.vision.patch_size": value}
    broken = _replace(spec.mmproj, metadata=metadata)
    assert projector_compute_bytes(broken) == projector_compute_bytes(
        _replace(spec.mmproj, metadata={**metadata, "clip.vision.patch_size": 16})
    )
