"""The one table of runtime settings (core/estimate/flags.py) and everything derived from it:
the CLI's options, preset files, the settings record's own checks and every generated command
line read and write each setting the same way, with the same bounds."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from tests.support.gguf_files import write_tiny_model
from vramtui.cli.common import ArgumentParser, add_runtime_args, settings_from_args
from vramtui.core.advice.plan import build_plan, run_settings
from vramtui.core.cluster.build import Cluster, ClusterNode, evaluate_cluster
from vramtui.core.cluster.commands import head_settings
from vramtui.core.errors import PresetError, SettingsError
from vramtui.core.estimate.flags import (
    ALL_LAYERS,
    FLAGS,
    MAX_BATCH,
    MAX_GPU_LAYERS,
    MAX_PARALLEL,
    SETTING_FLAGS,
)
from vramtui.core.estimate.settings import RuntimeSettings, settings_argv, settings_from_argv
from vramtui.core.hardware.links import get_link
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.model.source import open_model
from vramtui.core.scenario.files import Scenario, scenario_from_toml, scenario_to_toml
from vramtui.core.scenario.resolve import ResolvedScenario, scenario_args
from vramtui.core.sizes import MAX_TOKENS, GiB

# Values every field must carry through each face (a new field without samples fails below).
SAMPLES: dict[str, tuple[Any, ...]] = {
    "ctx_size": (0, 1, 4096, 20_000, MAX_TOKENS),
    "parallel": (1, 4, MAX_PARALLEL),
    "kv_unified": (True, False),
    "batch_size": (1, 4096, MAX_BATCH),
    "ubatch_size": (1, 256, MAX_BATCH),
    "cache_type_k": FLAGS["cache_type_k"].choices,
    "cache_type_v": FLAGS["cache_type_v"].choices,
    "flash_attn": FLAGS["flash_attn"].choices,
    "n_gpu_layers": (None, 0, 1, 24, MAX_GPU_LAYERS),
    "kv_offload": (False, True),
    "mmap": (False, True),
    "keep_in_memory": (True, False),
    "swa_full": (True, False),
    "mmproj_offload": (False, True),
    "override_tensor": ("exps=CPU", r"blk\.(1|2)\.ffn=CPU,exps=CUDA0"),
    "cpu_moe": (True, False),
    "n_cpu_moe": (0, 1, 36, MAX_GPU_LAYERS),
    "model_draft": ("hf:org/repo:Q4_K_M", "/models/draft model.gguf", ""),
    "llama_build": (0, 6918, 9187),
    "rocm_release": FLAGS["rocm_release"].choices,
}
CASES = [(name, value) for name, values in SAMPLES.items() for value in values]

# Values out of bounds (or of no kind the field takes): refused by the CLI, a preset file and
# the settings record alike.
BAD: dict[str, tuple[Any, ...]] = {
    "ctx_size": (-1, MAX_TOKENS + 1, 2**63),
    "parallel": (0, -3, MAX_PARALLEL + 1, 10**8),
    "batch_size": (0, MAX_BATCH + 1),
    "ubatch_size": (0, MAX_BATCH + 1),
    "n_gpu_layers": (-2, MAX_GPU_LAYERS + 1, 2**63),
    "n_cpu_moe": (-1, MAX_GPU_LAYERS + 1),
    "cache_type_k": ("q9",),
    "cache_type_v": ("q3_k",),
    "flash_attn": ("yes",),
    "rocm_release": ("7.3", "7.2"),
    "override_tensor": ("exps", "exps=Floppy0"),
}
BAD_CASES = [(name, value) for name, values in BAD.items() for value in values]


def _parser() -> ArgumentParser:
    p = ArgumentParser(prog="t")
    add_runtime_args(p)
    return p


def _cli(argv: list[str]) -> RuntimeSettings:
    return settings_from_args(_parser().parse_args(argv))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return f'"{ALL_LAYERS}"'
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\") + '"'
    return str(value)


def _preset(key: str, value_text: str) -> Scenario:
    text = (
        'name = "t"\nmodel = "m.gguf"\n[machine]\nid = "framework-desktop-128gb"\n'
        f"[settings]\n{key} = {value_text}\n"
    )
    return scenario_from_toml(text, "friend.toml")


def test_the_table_is_the_settings_record() -> None:
    """One row per RuntimeSettings field, in its order, with its default; one sample set each."""
    assert [f.name for f in SETTING_FLAGS] == [f.name for f in fields(RuntimeSettings)]
    default = RuntimeSettings()
    assert all(getattr(default, f.name) == f.default for f in SETTING_FLAGS)
    assert list(SAMPLES) == [f.name for f in SETTING_FLAGS]
    spellings = [o for f in SETTING_FLAGS for o in f.option_strings]
    assert len(spellings) == len(set(spellings))
    assert all(f.flag in f.option_strings and f.long.startswith("--") for f in SETTING_FLAGS)


def test_argparse_options_are_exactly_the_tables_flags() -> None:
    p = _parser()
    (group,) = [g for g in p._action_groups if g.title and "runtime settings" in g.title]
    actions = group._group_actions
    assert [a.dest for a in actions] == [f.name for f in SETTING_FLAGS]
    assert [tuple(a.option_strings) for a in actions] == [f.option_strings for f in SETTING_FLAGS]
    assert [a.help for a in actions] == [f.help_text for f in SETTING_FLAGS]
    table = {o for f in SETTING_FLAGS for o in f.option_strings}
    assert {o for o in p._option_string_actions if o not in ("-h", "--help")} == table


@pytest.mark.parametrize(("name", "value"), CASES)
def test_every_field_round_trips_on_the_command_line(name: str, value: Any) -> None:
    settings = RuntimeSettings(**{name: value})
    argv = settings_argv(settings)
    assert _cli(argv) == settings  # written -> the CLI's argparse
    assert settings_from_argv(argv) == settings  # written -> the table's own reader
    assert settings_argv(_cli(argv)) == argv  # and written again the same


@pytest.mark.parametrize(("name", "value"), CASES)
def test_every_field_round_trips_in_a_preset_file(name: str, value: Any) -> None:
    settings = RuntimeSettings(**{name: value})
    s = Scenario(
        name="t", model_ref="m.gguf", machine_id="framework-desktop-128gb", settings=settings
    )
    text = scenario_to_toml(s)
    back = scenario_from_toml(text, "t.toml")
    assert back.settings == settings
    assert scenario_from_toml(scenario_to_toml(back), "t.toml").settings == settings
    assert _preset(name, _toml_value(value)).settings == settings


def test_texts_the_command_line_reads() -> None:
    assert _cli(["-c", "16K"]).ctx_size == 16384 == _cli(["--ctx-size", "16384"]).ctx_size
    assert _cli(["-c", "max"]).ctx_size == 0
    for word in ("all", "ALL", "auto", "-1"):
        assert _cli(["-ngl", word]).n_gpu_layers is None
    assert _cli(["--gpu-layers", "12"]).n_gpu_layers == 12
    assert _cli(["-ctk", "Q8_0", "-fa", "ON"]).cache_type_k == "q8_0"
    assert _cli(["-ot", "a=CPU", "-ot", "b=CPU"]).override_tensor == "a=CPU,b=CPU"
    assert _cli(["--keep-in-memory"]) == _cli(["--mlock"]) == RuntimeSettings(keep_in_memory=True)
    # "All layers" is written one way, on command lines and in preset files alike.
    assert settings_argv(RuntimeSettings(), always=("n_gpu_layers",)) == ["-ngl", ALL_LAYERS]
    assert f'n_gpu_layers = "{ALL_LAYERS}"' in scenario_to_toml(
        Scenario(name="t", model_ref="m", machine_id="framework-desktop-128gb")
    )
    assert _preset("n_gpu_layers", "-1").settings.n_gpu_layers is None


@pytest.mark.parametrize(("name", "value"), BAD_CASES)
def test_cli_and_preset_refuse_the_same_values(
    name: str, value: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = FLAGS[name]
    with pytest.raises(SystemExit) as info:
        _parser().parse_args([flag.flag, str(value)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag.long in err
    with pytest.raises(PresetError) as refused:
        _preset(name, _toml_value(value))
    assert refused.value.source == "friend.toml" and refused.value.field == f"settings.{name}"
    assert str(refused.value).startswith(f"friend.toml: settings.{name}: ")
    assert "\n" not in str(refused.value)
    with pytest.raises(SettingsError):
        RuntimeSettings(**{name: value})


@pytest.mark.parametrize(
    ("name", "text"), [("parallel", "1e8"), ("ctx_size", "1.5"), ("n_cpu_moe", "2.0")]
)
def test_numbers_that_are_not_whole_are_refused_everywhere(name: str, text: str) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args([FLAGS[name].flag, text])
    with pytest.raises(PresetError, match=f"settings.{name}: .*integer"):
        _preset(name, text)


def _strip(argv: list[str], skip: tuple[str, ...]) -> list[str]:
    """The setting flags of a generated line: its model, projector, RPC and split words left
    out, and a shell comment cut off."""
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "#":
            break
        if word in skip:
            next(words)
            continue
        out.append(word)
    return out


_MODEL_WORDS = ("-m", "-hf", "-hfr", "-hff", "-mu", "-hfd", "--mmproj", "--rpc", "-ts")


def _split(line: str) -> list[str]:
    quoted = line.replace("<", "'<").replace(".gguf>", ".gguf>'")
    argv = shlex.split(quoted)
    assert argv[0] == "llama-server"
    return _strip(argv[1:], _MODEL_WORDS)


def _state(machine_id: str, carve: int, os_name: str) -> MachineState:
    return MachineState.default_for(get_machine(machine_id), carve_out_bytes=carve, os=os_name)


PLAN_SETTINGS = (
    RuntimeSettings(),
    RuntimeSettings(ctx_size=8192, cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on"),
    RuntimeSettings(parallel=4, kv_unified=True, batch_size=4096, ubatch_size=1024, mmap=False),
    RuntimeSettings(keep_in_memory=True, swa_full=True, kv_offload=False, n_gpu_layers=10),
    RuntimeSettings(override_tensor=r"blk\.1\.=CPU", n_cpu_moe=4, ctx_size=0),
    RuntimeSettings(cpu_moe=True, mmproj_offload=False, flash_attn="off"),
)


@pytest.mark.parametrize("settings", PLAN_SETTINGS)
@pytest.mark.parametrize(
    "where",
    [
        ("glm-4.7-flash:Q4_K_M", "hp-zbook-ultra-g1a-64gb", 512 * 1024**2, "windows"),
        ("qwen3-30b-a3b:Q4_K_M", "desktop-rtx-4090", 0, "windows"),
        ("tiny", "framework-desktop-128gb", 64 * GiB, "linux"),
    ],
)
def test_each_llama_server_line_parses_back_to_its_settings(
    settings: RuntimeSettings, where: tuple[str, str, int, str], tmp_path: Path
) -> None:
    model, machine, carve, os_name = where
    ref = str(write_tiny_model(tmp_path / "my model.gguf")) if model == "tiny" else model
    spec = open_model(ref)
    plan = build_plan(spec, settings, _state(machine, carve, os_name), ctx_given=True)
    if plan.commands is None or plan.fit is None:
        pytest.skip("no step runs it: no command to read back")
    parsed = settings_from_argv(_split(plan.commands.llama_server))
    ran = run_settings(spec, plan.fit)
    assert parsed == ran
    # Only what the fit decides is filled in; everything the user set is on the line as set.
    decided = ("ctx_size", "n_gpu_layers", "flash_attn", "model_draft", "mmproj_offload")
    same = {name: getattr(plan.fit.settings, name) for name in decided}
    assert parsed.with_changes(**same) == plan.fit.settings
    assert parsed.ctx_size == (plan.fit.breakdown.n_ctx or plan.ctx_size)


@pytest.mark.parametrize(
    "settings",
    [
        RuntimeSettings(ctx_size=8192),
        RuntimeSettings(parallel=2, cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on"),
        RuntimeSettings(n_gpu_layers=30, mmap=False, batch_size=1024, swa_full=True),
    ],
)
def test_the_cluster_heads_line_parses_back_to_its_settings(settings: RuntimeSettings) -> None:
    spec = open_model("qwen3-30b-a3b:Q4_K_M")
    fw = get_machine("framework-desktop-128gb")
    node = ClusterNode(MachineState.default_for(fw, carve_out_bytes=64 * GiB, os="linux"))
    cluster = Cluster((node, node), get_link("10gbe"), (1.0, 1.0))
    result = evaluate_cluster(spec, settings, cluster)
    parsed = settings_from_argv(_split(result.commands.llama_server))
    assert parsed == head_settings(result.settings, result.buffers)
    assert parsed.with_changes(
        ctx_size=settings.ctx_size, flash_attn="auto"
    ) == settings.with_changes(flash_attn="auto")


def test_the_copied_vramtui_command_uses_the_same_spelling() -> None:
    """The app's `vramtui check` line writes settings as llama-server lines write them."""
    s = RuntimeSettings(n_gpu_layers=None, keep_in_memory=True, kv_offload=False, n_cpu_moe=3)
    state = _state("framework-desktop-128gb", 64 * GiB, "linux")
    args = scenario_args(ResolvedScenario("m.gguf", "auto", s, state))
    words = args[args.index("-c") :]
    assert words == settings_argv(s)
    assert settings_from_argv(words) == s
    namespace = _parser().parse_known_args(args)[0]
    assert isinstance(namespace, argparse.Namespace) and settings_from_args(namespace) == s
