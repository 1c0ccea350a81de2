"""Expert placement (-ot, --cpu-moe, --n-cpu-moe): exactly the matched tensors' bytes move to
the host, in the estimate, the fit, the speed model, the CLI and preset files."""

from __future__ import annotations

import json
import re

import pytest
import tomli_w

from vramtui.cli.main import main
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.errors import SettingsError
from vramtui.core.estimate.hparams import ModelHparams
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.placement import tensor_moves
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.estimate.tensor_rules import parse_override_tensor, tensor_overrides
from vramtui.core.fit.fit import evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.scenario.files import scenario_from_toml
from vramtui.core.scenario.resolve import ScenarioOverrides, resolve_scenario, scenario_args
from vramtui.core.vocab import BufferKind, Place, ReasonCode
from vramtui.present.reasons import reason_text

S = RuntimeSettings
# Independent of the code under test: the expert tensors of one block, by name.
_EXPERT = re.compile(r"^blk\.(\d+)\.ffn_(up|down|gate|gate_up)_(ch)?exps\.")


def _expert_bytes(spec: ModelSpec, layers: range) -> int:
    total = 0
    for t in spec.tensors:
        m = _EXPERT.match(t.name)
        if m and int(m.group(1)) in layers:
            total += t.n_bytes
    return total


def _weights(spec: ModelSpec, s: RuntimeSettings) -> tuple[int, int]:
    bd = estimate_memory(spec, s)
    return bd.total(Place.DEVICE, BufferKind.WEIGHTS), bd.total(Place.HOST, BufferKind.WEIGHTS)


@pytest.mark.parametrize(
    ("ref", "counts"),
    [
        ("gpt-oss-120b", (1, 10, 24, 36)),  # gate, up, down experts and their biases
        ("glm-4.7-flash:Q4_K_M", (1, 2, 30)),  # block 0 is dense: --n-cpu-moe 1 moves nothing
        ("qwen3-30b-a3b:Q4_K_M", (5, 48)),
        ("qwen3-next-80b-a3b:Q4_K_M", (7,)),  # shared experts (ffn_*_shexp) stay
    ],
)
def test_n_cpu_moe_moves_exactly_the_experts_of_n_layers(ref: str, counts: tuple[int, ...]) -> None:
    spec = open_catalog_model(ref)
    assert spec is not None
    dev0, host0 = _weights(spec, S())
    for n in counts:
        moved = _expert_bytes(spec, range(n))
        dev, host = _weights(spec, S(n_cpu_moe=n))
        assert dev0 - dev == moved, (ref, n)
        assert host - host0 == moved, (ref, n)
    if ref.startswith("glm-4.7-flash"):
        assert _weights(spec, S(n_cpu_moe=1)) == (dev0, host0)


def test_cpu_moe_and_exps_pattern_and_all_layers_agree() -> None:
    spec = open_catalog_model("gpt-oss-120b")
    assert spec is not None
    every = _expert_bytes(spec, range(10_000))
    dev0, _ = _weights(spec, S())
    n_layer = spec.meta("block_count")
    assert isinstance(n_layer, int)
    for s in (
        S(cpu_moe=True),
        S(override_tensor="exps=CPU"),
        S(n_cpu_moe=n_layer),
        S(n_cpu_moe=n_layer + 5),
    ):
        dev, _ = _weights(spec, s)
        assert dev0 - dev == every
    dev, _ = _weights(spec, S(override_tensor=r"blk\.(0|1|2)\.ffn_.*_exps\.=CPU"))
    assert dev0 - dev == _expert_bytes(spec, range(3))


def test_first_matching_rule_decides() -> None:
    """llama.cpp tries the rules in order: -ot before --cpu-moe, so block 0's experts that an
    -ot rule sends to the GPU stay there."""
    spec = open_catalog_model("gpt-oss-120b")
    assert spec is not None
    dev0, _ = _weights(spec, S())
    dev, _ = _weights(spec, S(override_tensor=r"blk\.0\.=CUDA0", cpu_moe=True))
    assert dev0 - dev == _expert_bytes(spec, range(10_000)) - _expert_bytes(spec, range(1))
    rules = tensor_overrides(r"blk\.0\.=CUDA0", True, 2)
    assert [r.buffer for r in rules] == ["CUDA0", "CPU", "CPU", "CPU"]


def test_a_gpu_rule_moves_host_tensors_to_the_device() -> None:
    spec = open_catalog_model("llama-3.1-8b:Q4_K_M")
    assert spec is not None
    embd = spec.tensor("token_embd.weight")
    assert embd is not None
    dev0, host0 = _weights(spec, S())
    dev, host = _weights(spec, S(override_tensor=r"^token_embd\.=Vulkan0"))
    assert (dev - dev0, host0 - host) == (embd.n_bytes, embd.n_bytes)


def test_cpu_backend_and_layers_already_on_the_cpu_move_nothing() -> None:
    spec = open_catalog_model("qwen3-30b-a3b:Q4_K_M")
    assert spec is not None
    cpu = estimate_memory(spec, S(), backend="cpu")
    cpu_moe = estimate_memory(spec, S(cpu_moe=True), backend="cpu")
    assert cpu.buffers == cpu_moe.buffers
    # -ngl 10 leaves blocks 0..38 on the CPU: --n-cpu-moe 20 has nothing left to move.
    assert _weights(spec, S(n_gpu_layers=10)) == _weights(spec, S(n_gpu_layers=10, n_cpu_moe=20))
    # -ngl 45 offloads blocks 4..47: only the experts of blocks 4..19 move.
    dev0, _ = _weights(spec, S(n_gpu_layers=45))
    dev, _ = _weights(spec, S(n_gpu_layers=45, n_cpu_moe=20))
    assert dev0 - dev == _expert_bytes(spec, range(4, 20))


def test_device_compute_holds_the_largest_copied_expert_tensor() -> None:
    """Op offload copies a host weight to the GPU per split: one tensor at a time."""
    spec = open_catalog_model("gpt-oss-120b")
    assert spec is not None
    base = estimate_memory(spec, S()).total(Place.DEVICE, BufferKind.COMPUTE)
    moved = estimate_memory(spec, S(n_cpu_moe=3)).total(Place.DEVICE, BufferKind.COMPUTE)
    largest = max(
        t.n_bytes for t in spec.tensors if _EXPERT.match(t.name) and int(t.name.split(".")[1]) < 3
    )
    assert moved - base == largest
    hp = ModelHparams.from_spec(spec)
    hp_moves = tensor_moves(spec, hp, tensor_overrides("", False, 3), (True,) * hp.n_layer, True)
    assert hp_moves.largest_to_host == largest
    assert hp_moves.experts_to_host == _expert_bytes(spec, range(3))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("exps", "expected PATTERN=BUFFER"),
        ("=CPU", "expected PATTERN=BUFFER"),
        ("exps=GPU", "is not CPU or a GPU buffer"),
        ("blk.(0=CPU", "bad pattern"),
    ],
)
def test_bad_override_rules_are_named(text: str, match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        parse_override_tensor(text)
    with pytest.raises(SettingsError, match=match):
        S(override_tensor=text)


def test_bad_flags_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["-ot", "exps"], ["-ncmoe", "-1"], ["--n-cpu-moe", "x"]):
        with pytest.raises(SystemExit) as exc:
            main(["estimate", "gpt-oss-120b", *argv])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("vramtui:")


def test_fit_reads_host_experts_at_host_speed_and_names_them() -> None:
    spec = open_catalog_model("gpt-oss-20b")
    assert spec is not None
    rtx = MachineState.default_for(get_machine("desktop-rtx-4090"))
    full = evaluate_fit(spec, S(), rtx)
    cpu_moe = evaluate_fit(spec, S(cpu_moe=True), rtx)
    assert ReasonCode.EXPERTS_ON_HOST not in full.codes
    assert ReasonCode.EXPERTS_ON_HOST in cpu_moe.codes
    assert cpu_moe.speed.decode_tokens_per_second < full.speed.decode_tokens_per_second / 2
    assert cpu_moe.gpu_memory_used_bytes < full.gpu_memory_used_bytes / 3
    assert cpu_moe.speed.inputs is not None and cpu_moe.speed.inputs.experts_host == 1.0


def test_unified_memory_says_nothing_is_gained() -> None:
    spec = open_catalog_model("gpt-oss-20b")
    assert spec is not None
    mac = MachineState.default_for(get_machine("apple-m4-max-128gb"))
    fit = evaluate_fit(spec, S(n_cpu_moe=12), mac)
    msg = next(reason_text(r) for r in fit.reasons if r.code == ReasonCode.EXPERTS_ON_HOST)
    assert "gain nothing" in msg
    plain = evaluate_fit(spec, S(), mac)
    assert fit.speed.decode_tokens_per_second < plain.speed.decode_tokens_per_second
    # A carve-out frees dedicated memory: the other sentence.
    hp = MachineState.default_for(get_machine("hp-zbook-ultra-g1a-64gb"), carve_out_bytes=8 << 30)
    fit = evaluate_fit(spec, S(n_cpu_moe=12), hp)
    msg = next(reason_text(r) for r in fit.reasons if r.code == ReasonCode.EXPERTS_ON_HOST)
    assert "gain nothing" not in msg


def test_flags_round_trip_through_cli_presets_and_scenario_args(
    capsys: pytest.CaptureFixture[str],
) -> None:
    flags = ["-ot", r"blk\.(0|1)\.ffn_.*_exps\.=CPU", "--cpu-moe", "--n-cpu-moe", "7"]
    code = main(["check", "gpt-oss-120b", "--machine", "desktop-rtx-4090", *flags, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    settings = RuntimeSettings(
        override_tensor=r"blk\.(0|1)\.ffn_.*_exps\.=CPU", cpu_moe=True, n_cpu_moe=7
    )
    resolved = resolve_scenario(
        None,
        ScenarioOverrides(
            model_ref="gpt-oss-120b",
            machine_id="desktop-rtx-4090",
            settings={"override_tensor": settings.override_tensor, "cpu_moe": True, "n_cpu_moe": 7},
        ),
    )
    assert resolved.settings == settings
    args = scenario_args(resolved)
    for flag in ("-ot", "--cpu-moe", "--n-cpu-moe"):
        assert flag in args
    code = main(["check", *args, "--json"])
    again = json.loads(capsys.readouterr().out)
    assert again["estimate"] == data["estimate"]
    # A preset file carries them and reads them back.
    s = resolved.to_scenario("moe")
    back = scenario_from_toml(tomli_w.dumps(s.to_toml_dict()), "moe.toml")
    assert back.settings == settings
    assert RuntimeSettings.from_dict(settings.to_dict()) == settings
