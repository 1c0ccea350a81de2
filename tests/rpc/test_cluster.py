"""The cluster plan without llama.cpp: the split's rounding, links, per-node verdicts, commands,
the recommendation and the `vramtui cluster` command (tests/rpc/test_rpc_oracle.py holds the
same numbers to llama.cpp itself)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vramtui.cli.main import main
from vramtui.core.catalog.entries import catalog_metadata, open_catalog_model
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.cluster.build import Cluster, ClusterNode, evaluate_cluster
from vramtui.core.cluster.plan import balanced_tensor_split, recommend_cluster
from vramtui.core.cluster.split import assign_layers, split_points
from vramtui.core.errors import SettingsError
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf
from vramtui.core.hardware.links import LINKS, get_link
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB, MiB
from vramtui.core.vocab import Verdict
from vramtui.present.cluster_words import cluster_recommendation_sentence

FRAMEWORK = "framework-desktop-128gb"


def _node(
    machine: str = FRAMEWORK, carve: int | None = None, host: str = "", **kw: object
) -> ClusterNode:
    m = get_machine(machine)
    changes = dict(kw)
    if carve is not None:
        changes["carve_out_bytes"] = carve
    return ClusterNode(MachineState.default_for(m, **changes), host=host)


def test_layers_follow_llama_cpp_split_points() -> None:
    """64 layers + output over 1:1: layer il goes to device 0 while il/65 < 0.5 (33 layers),
    the output layer (il = 64) to the last device."""
    split = assign_layers(64, [1, 1])
    assert split.ranges == ((0, 33), (33, 64))
    assert split.output_device == 1
    assert split.host_layers == ()


def test_split_rounds_in_single_precision() -> None:
    """-ts 0.3,1 on 64 layers puts the boundary exactly on 15/65 = 3/13: in double precision
    layer 15 would stay on device 0 (15 layers); llama.cpp's float arithmetic gives 16."""
    assert assign_layers(64, [0.3, 1.0]).ranges[0] == (0, 16)
    exact = 3 / 13
    assert split_points([0.3, 1.0])[0] != exact


def test_partial_offload_leaves_first_layers_on_cpu() -> None:
    split = assign_layers(64, [1, 1], n_gpu_layers=40)
    assert split.host_layers == tuple(range(25))
    assert split.ranges[0][0] == 25 and split.output_device == 1


def test_zero_share_device_gets_no_layers() -> None:
    split = assign_layers(40, [1, 0, 1])
    assert split.layers(1) == 0
    assert split.layers(0) + split.layers(2) == 40


@pytest.mark.parametrize("bad", [[], [-1, 1], [0, 0]])
def test_bad_split_is_a_settings_error(bad: list[float]) -> None:
    with pytest.raises(SettingsError):
        split_points(bad)


def test_links_are_sourced_and_ordered() -> None:
    ids = [link.id for link in LINKS]
    assert ids[:4] == ["1gbe", "2.5gbe", "5gbe", "10gbe"] and "usb4" in ids
    assert all(link.source and link.rtt_s > 0 for link in LINKS)
    speeds = [get_link(i).bandwidth_gbps for i in ("1gbe", "2.5gbe", "5gbe", "10gbe")]
    assert speeds == sorted(speeds) and speeds[0] == pytest.approx(0.941, abs=0.001)
    assert get_link("thunderbolt").id == "usb4"
    with pytest.raises(SettingsError, match="not one of"):
        get_link("carrier-pigeon")


def test_two_framework_nodes_per_device_figures() -> None:
    """Qwen3-32B Q4_K_M at 16K over two 128 GB nodes, -ts 1,1: the weights and KV per device
    llama.cpp reports for the same split (the issue's RPC0 9169 + 2112, RPC1 9254 + 1984 MiB)."""
    spec = open_catalog_model("qwen3-32b:Q4_K_M")
    assert spec is not None
    cl = Cluster((_node(), _node()), get_link("10gbe"), (1.0, 1.0))
    res = evaluate_cluster(spec, RuntimeSettings(ctx_size=16384), cl)
    got = [(n.buffers.weights // MiB, n.buffers.kv // MiB) for n in res.nodes]
    assert got == [(9169, 2112), (9254, 1984)]
    assert res.buffers.host.weights // MiB == 417  # token_embd stays on the head's CPU
    assert [n.layers for n in res.nodes] == [33, 31] and res.nodes[1].output_layer
    assert res.verdict == Verdict.FITS
    assert all(n.system_ram_left_bytes > 32 * GiB for n in res.nodes)


def test_json_keys_and_commands() -> None:
    spec = open_catalog_model("qwen3-30b-a3b:Q4_K_M")
    assert spec is not None
    nodes = (_node(host="10.0.0.2"), _node(host="10.0.0.3"), _node())
    cl = Cluster(nodes, get_link("2.5gbe"), (1.0, 2.0, 1.0))
    data = evaluate_cluster(spec, RuntimeSettings(ctx_size=8192), cl).to_json()
    for key in (
        "nodes",
        "verdict",
        "decode_tokens_per_second",
        "prefill_tokens_per_second",
        "commands",
    ):
        assert key in data
    for node in data["nodes"]:
        for key in (
            "machine",
            "layers",
            "weights_bytes",
            "kv_bytes",
            "compute_bytes",
            "verdict",
            "system_ram_left_bytes",
        ):
            assert key in node
    assert [n["device"] for n in data["nodes"]] == ["RPC0", "RPC1", "Vulkan0"]
    assert sum(n["layers"] for n in data["nodes"]) == 48
    cmd = data["commands"]
    assert len(cmd["rpc_servers"]) == 2
    assert all(
        line.startswith("rpc-server --host 0.0.0.0 --port 50052") for line in cmd["rpc_servers"]
    )
    assert "--rpc 10.0.0.2:50052,10.0.0.3:50052" in cmd["llama_server"]
    assert "-ts 1,2,1" in cmd["llama_server"]


def test_slower_link_costs_decode_and_limits_prefill() -> None:
    spec = open_catalog_model("qwen3-30b-a3b:Q4_K_M")
    assert spec is not None
    s = RuntimeSettings(ctx_size=8192)

    def run(link: str) -> tuple[float, float, bool]:
        cl = Cluster((_node(), _node(), _node(), _node()), get_link(link))
        sp = evaluate_cluster(spec, s, cl).speed
        return sp.decode_tokens_per_second, sp.prefill_tokens_per_second, sp.prefill_limited_by_link

    fast, slow = run("10gbe"), run("1gbe")
    assert slow[0] < fast[0] and slow[1] < fast[1]
    assert slow[2] and not fast[2]


def test_node_that_cannot_hold_its_share_will_not_fit() -> None:
    """A 64 GB laptop at 512 MiB beside a 128 GB box, split 1:1 for a model of ~240 GB."""
    spec = _deepseek("Q2_K")
    nodes = (_node(), _node("hp-zbook-ultra-g1a-64gb", carve=512 * MiB, os="linux"))
    res = evaluate_cluster(
        spec, RuntimeSettings(ctx_size=4096), Cluster(nodes, get_link("10gbe"), (1.0, 1.0))
    )
    assert res.verdict == Verdict.WILL_NOT_FIT
    assert res.nodes[1].verdict == Verdict.WILL_NOT_FIT


def _deepseek(quant: str) -> ModelSpec:
    md = dict(catalog_metadata("deepseek-v3") or {})
    return synthesize_spec(md, quant, name="DeepSeek-R1-671B", source="test")


def test_balanced_split_favours_the_bigger_node() -> None:
    spec = open_catalog_model("llama-3.3-70b:Q8_0")
    assert spec is not None
    small = _node("hp-zbook-ultra-g1a-64gb", carve=512 * MiB, os="linux")
    cl = Cluster((small, _node(carve=512 * MiB)), get_link("10gbe"))
    ts = balanced_tensor_split(spec, RuntimeSettings(ctx_size=8192), cl)
    assert ts[1] > ts[0] * 1.5
    res = evaluate_cluster(spec, RuntimeSettings(ctx_size=8192), Cluster(cl.nodes, cl.link, ts))
    used = [n.gpu_used_bytes / n.gpu_capacity_bytes for n in res.nodes]
    assert abs(used[0] - used[1]) < 0.15  # both nodes about equally full


def test_recommendation_finds_fewest_nodes() -> None:
    """DeepSeek-R1 Q3_K_M (319 GB) needs three 128 GB nodes; the search also picks the
    carve-out that leaves the GPU the most room (96 GiB + GTT beats 512 MiB + default GTT)."""
    spec = _deepseek("Q3_K_M")
    nodes = tuple(_node(carve=512 * MiB) for _ in range(4))
    rec = recommend_cluster(spec, RuntimeSettings(ctx_size=8192), Cluster(nodes, get_link("10gbe")))
    assert rec.result is not None
    assert rec.node_indices == (0, 1, 2)
    assert rec.result.verdict != Verdict.WILL_NOT_FIT
    assert all(n.state.carve_out_bytes > 512 * MiB for n in rec.result.cluster.nodes)
    two = evaluate_cluster(
        spec,
        RuntimeSettings(ctx_size=8192),
        Cluster(rec.result.cluster.nodes[:2], get_link("10gbe")),
    )
    assert two.verdict == Verdict.WILL_NOT_FIT


def test_recommendation_says_when_one_node_is_enough() -> None:
    spec = open_catalog_model("qwen3-32b:Q4_K_M")
    assert spec is not None
    rec = recommend_cluster(spec, RuntimeSettings(), Cluster((_node(), _node()), get_link("1gbe")))
    assert rec.single_node is not None
    words = cluster_recommendation_sentence(rec)
    assert "no cluster needed" in words
    assert f": {rec.single_node.verdict.label}, " in words  # the vocabulary's label
    span = rec.single_node.speed.decode_range()  # the decode range, as every face says it
    assert span is not None and span[0] < rec.single_node.speed.decode_tokens_per_second
    assert "\u2013" in words.split(rec.single_node.verdict.label)[1]


@pytest.fixture(scope="module")
def deepseek_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = _deepseek("Q2_K")
    return write_sparse_gguf(tmp_path_factory.mktemp("ds") / "DeepSeek-R1-Q2_K.gguf", spec)


def test_cli_deepseek_r1_over_four_nodes(
    deepseek_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DeepSeek-R1 671B Q2_K plan (244 GB) over four 128 GB nodes: per-node RAM left, the
    rpc-server lines and the head's llama-server line."""
    args = [
        "cluster",
        str(deepseek_file),
        "--json",
        "-c",
        "16384",
        "--link",
        "10gbe",
        "--gtt",
        "100G",
    ]
    for i in range(4):
        args += ["--node", f"{FRAMEWORK}:512M@10.0.0.{i + 1}"]
    code = main(args)
    data = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and data["verdict"] != "will_not_fit"
    assert len(data["nodes"]) == 4 and sum(n["layers"] for n in data["nodes"]) == 61
    assert sum(n["weights_bytes"] for n in data["nodes"]) > 230e9
    assert all(n["system_ram_left_bytes"] > 8 * GiB for n in data["nodes"])
    cmds = data["commands"]
    assert len(cmds["rpc_servers"]) == 3
    assert "--rpc 10.0.0.1:50052,10.0.0.2:50052,10.0.0.3:50052" in cmds["llama_server"]
    assert str(deepseek_file) in cmds["llama_server"]
    assert any("ttm.pages_limit=26214400" in line for line in cmds["setup"])
    assert 0 < data["decode_tokens_per_second"] < 30


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--node", "no-such-machine", "--node", FRAMEWORK], "no-such-machine"),
        (["--node", FRAMEWORK, "--node", FRAMEWORK, "-ts", "1,2,3"], "3 values for 2 nodes"),
        (["--node", FRAMEWORK, "--node", FRAMEWORK, "-ts", "a,b"], "not comma-separated"),
        (["--node", FRAMEWORK], "2 to 16"),
        (["--node", f"{FRAMEWORK}@", "--node", FRAMEWORK], "nothing after '@'"),
        (["--node", f"{FRAMEWORK}:999G", "--node", FRAMEWORK], "carve-out"),
        (["--node", FRAMEWORK, "--node", FRAMEWORK, "--cpu-moe"], "not modelled for a cluster"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["cluster", "qwen3-32b:Q4_K_M", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_cli_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "cluster",
            "glm-4.5-air:Q8_0",
            "--node",
            FRAMEWORK,
            "--node",
            f"{FRAMEWORK}:512M",
            "-c",
            "32768",
            "--recommend",
        ]
    )
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert re.search(r"RPC0 \(rpc\)", out) and "Vulkan0 (head)" in out
    assert "rpc-server --host 0.0.0.0" in out and "llama-server" in out
    assert "recommendation:" in out


def test_decode_wire_cost_is_round_trip_commands_and_bytes() -> None:
    """One rpc-server node, decode at depth 1000: a round trip, the RPC commands, and the bytes:
    activations in and out (F32 x n_embd each), the F16 mask over the padded cache, a position."""
    from vramtui.core.cluster.speed import RPC_COMMAND_S, cluster_speed  # noqa: PLC0415

    spec = open_catalog_model("qwen3-32b:Q4_K_M")
    assert spec is not None
    link = get_link("1gbe")
    cl = Cluster((_node(), _node()), link, (1.0, 1.0))
    res = evaluate_cluster(spec, RuntimeSettings(ctx_size=8192), cl)
    sp = cluster_speed(spec, res.settings, cl, res.buffers, decode_depth=1000)
    n_embd, cells = 5120, 1024  # depth 1000 + 1 padded to 256
    wire = 2 * 4 * n_embd + 2 * cells + 4
    want = link.rtt_s + RPC_COMMAND_S + wire / link.bytes_per_second
    assert sp.nodes[0].decode_network_s == pytest.approx(want, rel=1e-9)
    assert sp.nodes[1].decode_network_s == 0  # the head's own GPU: no wire
    assert sp.pipeline
