"""The machine state speaks the vocabulary: however a scenario comes in (command-line flags, a
preset file, detection), its state and machine hold enum members, while the JSON and TOML it
writes keep the plain strings; a machine file with a word outside the vocabulary is one line
naming the file and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tomli_w

from tests.support.sysroot import hp_zbook_tree, make_tree
from vramtui.app.widgets.controls import BACKEND_OPTIONS, OS_OPTIONS, RUNTIME_OPTIONS
from vramtui.cli.common import resolve_from_args
from vramtui.cli.main import build_app_parser
from vramtui.core.detect.match import detected_machine_state
from vramtui.core.detect.this_machine import detect_machine, preset_toml_data
from vramtui.core.errors import SettingsError
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine, load_machines
from vramtui.core.paths import user_machines_dir
from vramtui.core.scenario.files import load_scenario, save_scenario
from vramtui.core.scenario.resolve import ScenarioOverrides, resolve_scenario, scenario_state
from vramtui.core.sizes import GiB
from vramtui.core.vocab import Backend, MachineKind, OsName, Runtime

MODEL = "glm-4.7-flash:Q4_K_M"


def assert_members(state: MachineState) -> None:
    assert type(state.os) is OsName
    assert type(state.runtime) is Runtime
    assert state.backend is None or type(state.backend) is Backend
    assert type(state.resolved_backend) is Backend
    m = state.machine
    assert type(m.kind) is MachineKind
    assert type(m.default_os) is OsName and type(m.default_backend) is Backend
    assert m.backends and all(type(b) is Backend for b in m.backends)
    assert m.operating_systems and all(type(o) is OsName for o in m.operating_systems)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--machine", "hp-zbook-ultra-g1a-64gb"], ("windows", "vulkan", "llamacpp", "strix_halo")),
        (
            ["--machine", "strix-halo-128gb-linux", "--backend", "rocm", "--runtime", "lmstudio"],
            ("linux", "rocm", "lmstudio", "strix_halo"),
        ),
        (["--machine", "framework-desktop-128gb", "--os", "windows"], ("windows",) + (None,) * 3),
        (
            ["--machine", "apple-m4-max-128gb", "--runtime", "ollama"],
            ("macos", "metal", "ollama", "apple"),
        ),
        (
            ["--machine", "nvidia-dgx-spark", "--backend", "cpu"],
            ("linux", "cpu", None, "dgx_spark"),
        ),
        (["--machine", "desktop-rtx-4090"], (None, "cuda", None, "discrete_gpu")),
    ],
)
def test_flags_resolve_to_a_state_of_members(
    flags: list[str], expected: tuple[str | None, ...]
) -> None:
    state = resolve_from_args(build_app_parser().parse_args([MODEL, *flags])).state
    assert_members(state)
    got = (state.os, state.resolved_backend, state.runtime, state.machine.kind)
    for value, want in zip(got, expected, strict=True):
        assert want is None or value == want


def test_a_scenario_file_loads_as_members_and_writes_plain_strings() -> None:
    argv = [
        MODEL,
        "--machine",
        "strix-halo-128gb-linux",
        "--backend",
        "rocm",
        "--runtime",
        "ollama",
    ]
    resolved = resolve_from_args(build_app_parser().parse_args(argv))
    path = save_scenario(resolved.to_scenario("enum-trip"))
    text = path.read_text(encoding="utf-8")
    assert 'runtime = "ollama"' in text and 'os = "linux"' in text and 'backend = "rocm"' in text
    loaded = load_scenario("enum-trip")
    assert type(loaded.os) is OsName and type(loaded.backend) is Backend
    assert type(loaded.runtime) is Runtime
    state = scenario_state(loaded)
    assert_members(state)
    assert (state.os, state.backend, state.runtime) == (OsName.LINUX, Backend.ROCM, Runtime.OLLAMA)
    data = json.loads(json.dumps(loaded.to_json()))
    assert (data["runtime"], data["machine"]["os"], data["machine"]["backend"]) == (
        "ollama",
        "linux",
        "rocm",
    )


def test_the_detected_machine_is_a_state_of_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(hp_zbook_tree(tmp_path, carve=32 * GiB)))
    resolved = resolve_scenario(None, ScenarioOverrides(model_ref=MODEL))
    assert resolved.machine_source == "detected"
    assert_members(resolved.state)
    assert resolved.state.os is OsName.LINUX
    assert resolved.state.machine.kind is MachineKind.STRIX_HALO


def test_a_machine_built_from_assumptions_holds_members_and_saves_strings(tmp_path: Path) -> None:
    root = make_tree(tmp_path, installed=16 * GiB, cards=[], cpu="Intel(R) Xeon(R)")
    d = detect_machine(sysroot=root)
    state = detected_machine_state(d)
    assert_members(state)
    assert (state.machine.kind, state.resolved_backend) == (MachineKind.OTHER, Backend.CPU)
    data = preset_toml_data(state.machine, d, "my-box")
    for key in ("kind", "default_os", "default_backend"):
        assert type(data[key]) is str, key
    assert 'kind = "other"' in tomli_w.dumps(data)
    as_json = state.machine.to_json()
    assert (as_json["kind"], as_json["default_backend"]) == ("other", "cpu")
    assert type(as_json["kind"]) is str


def test_plain_strings_given_to_the_state_become_members() -> None:
    machine = get_machine("strix-halo-128gb-linux")
    state = MachineState(machine, 0, os="linux", backend="rocm", runtime="lmstudio")  # type: ignore[arg-type]
    assert_members(state)
    assert state.backend is Backend.ROCM and state.keeps_model
    with pytest.raises(SettingsError, match=r"^os 'beos' is not one of windows, linux, macos$"):
        MachineState(machine, 0, os="beos")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=r"^backend 'metal' cannot run on"):
        MachineState(machine, 0, os=OsName.LINUX, backend=Backend.METAL)


def test_the_apps_selects_offer_members() -> None:
    assert all(type(v) is OsName for _, v in OS_OPTIONS)
    assert all(type(v) is Runtime for _, v in RUNTIME_OPTIONS)
    assert all(v is None or type(v) is Backend for _, v in BACKEND_OPTIONS)
    assert [label for label, _ in OS_OPTIONS] == ["Windows", "Linux", "macOS"]


@pytest.mark.parametrize(
    ("key", "word"),
    [("kind", "laptop"), ("default_os", "freebsd"), ("default_backend", "opencl")],
)
def test_a_machine_file_with_an_unknown_word_is_one_line(key: str, word: str) -> None:
    folder = user_machines_dir()
    folder.mkdir(parents=True)
    text = Path(get_machine("strix-halo-32gb").path).read_text(encoding="utf-8")
    text = text.replace('id = "strix-halo-32gb"', 'id = "odd-box"')
    text, n = re.subn(rf"^{key} = .*$", f'{key} = "{word}"', text, flags=re.MULTILINE)
    assert n == 1
    (folder / "odd.toml").write_text(text, encoding="utf-8")
    catalog = load_machines()
    assert catalog.get("odd-box") is None
    (problem,) = catalog.problems
    assert "\n" not in problem
    assert f"odd.toml: {key}: '{word}' is not one of" in problem
