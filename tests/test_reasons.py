"""The fit's reasons are data in the core (a code and its figures) and words in present: every
code the fit emits has a sentence that quotes its figures, each sentence reads as it always has,
and no core JSON carries a sentence (the faces add them)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from tests.support.gguf_files import llama_metadata, llama_tensors, write_gguf
from vramtui.cli.main import main
from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.cluster.build import evaluate_cluster
from vramtui.core.cluster.types import Cluster, node_from_text
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import evaluate_fit
from vramtui.core.fit.types import (
    LOAD_HELD_BASELINE,
    LOAD_HELD_KEPT,
    LOAD_HELD_STAGED,
    Reason,
)
from vramtui.core.gguf.files import open_local_model
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.links import DEFAULT_LINK, get_link
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.sizes import GiB, MiB, format_bytes
from vramtui.core.vocab import OsName, ReasonCode
from vramtui.present.reasons import reason_sentence, reason_text

S = RuntimeSettings

# (machine, state changes, catalog model, settings): together they make the fit emit every
# reason code, and each code's variants (discrete/unified, what a load holds, experts).
_SCENARIOS: list[tuple[str, dict[str, Any], str, RuntimeSettings]] = [
    ("hp-zbook-ultra-g1a-64gb", {"carve_out_bytes": 512 * MiB}, "glm-4.7-flash:Q4_K_M", S()),
    (
        "hp-zbook-ultra-g1a-64gb",
        {"carve_out_bytes": 512 * MiB, "os": "linux"},
        "glm-4.7-flash:Q4_K_M",
        S(),
    ),
    ("hp-zbook-ultra-g1a-64gb", {"carve_out_bytes": 48 * GiB}, "qwen3-vl-32b:Q6_K", S()),
    ("hp-zbook-ultra-g1a-64gb", {"carve_out_bytes": 48 * GiB}, "llama-3.1-8b:Q4_K_M", S()),
    (
        "hp-zbook-ultra-g1a-64gb",
        {"carve_out_bytes": 20 * GiB},
        "llama-3.1-8b:Q4_K_M",
        S(ctx_size=500000),
    ),
    ("hp-zbook-ultra-g1a-64gb", {"carve_out_bytes": 8 * GiB}, "gpt-oss-20b", S(n_cpu_moe=12)),
    (
        "hp-zbook-ultra-g1a-64gb",
        {"carve_out_bytes": 512 * MiB, "runtime": "lmstudio"},
        "qwen3-235b-a22b",
        S(),
    ),
    ("apple-m4-max-128gb", {}, "gpt-oss-20b", S(n_cpu_moe=12)),
    ("apple-m4-16gb", {}, "qwen3-235b-a22b", S()),
    ("apple-m1-ultra-128gb", {}, "qwen3-vl-32b:Q6_K", S(n_gpu_layers=10)),
    ("desktop-rtx-4090", {}, "qwen3-235b-a22b", S()),
    ("desktop-rtx-4090", {}, "qwen3-235b-a22b", S(n_gpu_layers=99)),
    # Strix Halo under Windows: above a 64 GiB carve-out (Vulkan), past 64 GiB of GPU buffers
    # (ROCm)
    ("hp-z2-mini-g1a-128gb", {"carve_out_bytes": 96 * GiB}, "llama-3.1-8b:Q4_K_M", S()),
    (
        "hp-z2-mini-g1a-128gb",
        {"carve_out_bytes": 32 * GiB, "backend": "rocm"},
        "gpt-oss-120b:F16",
        S(ctx_size=131072),
    ),
    # ROCm 7.2.0 at a llama.cpp build inside its prefill window
    (
        "framework-desktop-128gb",
        {"backend": "rocm", "os": "linux"},
        "gpt-oss-20b",
        S(llama_build=7938, rocm_release="7.2.0"),
    ),
]


def _catalog(ref: str) -> ModelSpec:
    spec = open_catalog_model(ref)
    assert spec is not None
    return spec


def _emitted(tmp_path: Path) -> list[Reason]:
    reasons: list[Reason] = []
    for machine, changes, model, settings in _SCENARIOS:
        state = MachineState.default_for(get_machine(machine), **changes)
        reasons += evaluate_fit(_catalog(model), settings, state).reasons
    odd = write_gguf(
        tmp_path / "odd.gguf", "frobnicator", llama_metadata("frobnicator"), llama_tensors()
    )
    rtx = MachineState.default_for(get_machine("desktop-rtx-4090"))
    reasons += evaluate_fit(open_local_model(str(odd)), S(ctx_size=4096), rtx).reasons
    return reasons


def _quoted(reason: Reason) -> list[str]:
    """How each of the reason's figures must appear in its words."""
    said: list[str] = []
    for name, value in reason.figures:
        if name == "host_bytes":
            said.append(f"{reason.count(name) / GiB:.1f} GiB")
        elif name.endswith("_bytes") and isinstance(value, tuple):
            said += [format_bytes(v) for v in value]
        elif name.endswith("_bytes"):
            said.append(format_bytes(reason.count(name)))
        elif name == "tps" and reason.has("tps_low"):
            continue  # said as its range, by the two ends
        elif name == "tps":
            said.append(f"{reason.rate(name):.1f}")
        elif name in ("tps_low", "tps_high"):  # whole numbers from 10 up, one decimal below
            rate = reason.rate(name)
            said.append(f"{rate:.0f}" if round(rate, 1) >= 10 else f"{rate:.1f}")
        elif name == "factor":  # a speed ratio, two decimals
            said.append(f"{reason.rate(name):.2f}")
        elif name == "os":
            said.append(OsName(reason.text(name)).label)
        elif isinstance(value, bool) or name == "held":
            continue  # picks the sentence, quoted by none
        else:
            said.append(str(value))
    return said


def test_every_code_the_fit_emits_says_its_figures(tmp_path: Path) -> None:
    reasons = _emitted(tmp_path)
    assert {r.code for r in reasons} == set(ReasonCode)
    variants = {(r.code, r.has("vram_bytes")) for r in reasons}
    assert {
        (ReasonCode.EXCEEDS_GPU_MEMORY, True),
        (ReasonCode.EXCEEDS_GPU_MEMORY, False),
    } <= variants
    loads = {r.text("held") for r in reasons if r.code == ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM}
    assert loads == {LOAD_HELD_BASELINE, LOAD_HELD_STAGED, LOAD_HELD_KEPT}
    experts = {r.flag("gains_nothing") for r in reasons if r.code == ReasonCode.EXPERTS_ON_HOST}
    assert experts == {True, False}
    for reason in reasons:
        text = reason_text(reason)
        assert reason.figures and text.strip(), reason
        for figure in _quoted(reason):
            assert figure in text, (reason, figure, text)
        assert reason_sentence(reason) == text[:1].upper() + text[1:]


# Each code's words, pinned: the texts check, the JSON and the app have always shown.
_PINNED = [
    (
        Reason.of(ReasonCode.EXCEEDS_GPU_MEMORY, needed_bytes=30 * GiB, vram_bytes=24 * GiB),
        "the GPU buffers (30 GiB) exceed the 24 GiB of VRAM",
    ),
    (
        Reason.of(
            ReasonCode.EXCEEDS_GPU_MEMORY,
            needed_bytes=39 * GiB,
            dedicated_bytes=0,
            shared_bytes=31 * GiB,
            shared_name="shared GPU memory",
            desktop_bytes=1 * GiB,
        ),
        "the GPU needs 39 GiB but can address 31 GiB (dedicated 0 B + shared GPU memory 31 GiB, "
        "once the desktop's own 1 GiB is taken)",
    ),
    (
        Reason.of(ReasonCode.PARTIAL_OFFLOAD, gpu_layers=17, layers=33),
        "only 17 of 33 layers fit on the GPU; the rest run on the CPU (much slower)",
    ),
    (
        Reason.of(ReasonCode.SPILLS_TO_SHARED, spilled_bytes=6 * GiB, carve_out_bytes=512 * MiB),
        "6 GiB does not fit the 512 MiB carve-out and spills into shared GPU memory, which is "
        "slower",
    ),
    (
        Reason.of(ReasonCode.USES_GTT, spilled_bytes=6 * GiB, shared_name="GTT"),
        "6 GiB lives in GTT beyond the carve-out (no speed penalty on Linux per AMD)",
    ),
    (
        Reason.of(
            ReasonCode.CARVE_OUT_NOT_A_STEP,
            carve_out_bytes=20 * GiB,
            nearest_bytes=(16 * GiB, 32 * GiB),
        ),
        "20 GiB is not one of this machine's BIOS steps (nearest: 16 GiB or 32 GiB)",
    ),
    (
        Reason.of(
            ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM,
            needed_bytes=40 * GiB,
            visible_bytes=16 * GiB,
            held=LOAD_HELD_STAGED,
        ),
        "loading needs 40 GiB of system RAM (the weights staged for upload (the CPU cannot write "
        "the carve-out), host buffers and spilled GPU memory) but the OS sees only 16 GiB",
    ),
    (
        Reason.of(
            ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM,
            needed_bytes=40 * GiB,
            visible_bytes=16 * GiB,
            held=LOAD_HELD_KEPT,
        ),
        "loading needs 40 GiB of system RAM (the copy the runtime keeps in memory, host buffers "
        "and spilled GPU memory) but the OS sees only 16 GiB",
    ),
    (
        Reason.of(
            ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM,
            needed_bytes=40 * GiB,
            visible_bytes=16 * GiB,
            held=LOAD_HELD_BASELINE,
        ),
        "loading needs 40 GiB of system RAM (the OS baseline, host buffers and spilled GPU "
        "memory) but the OS sees only 16 GiB",
    ),
    (
        Reason.of(
            ReasonCode.DESKTOP_RAM_LOW,
            left_bytes=4 * GiB,
            os="windows",
            desktop_bytes=16 * GiB,
        ),
        "4 GiB of RAM is left for Windows and its apps once the model is loaded; a desktop needs "
        "about 16 GiB to stay smooth, so expect stutter",
    ),
    (
        Reason.of(ReasonCode.CONTEXT_EXCEEDS_TRAINING, ctx=500000, train_ctx=131072),
        "context 500000 is beyond the model's training context 131072: quality degrades",
    ),
    (
        Reason.of(ReasonCode.SLOW_DECODE, tps=1.84),
        "about 1.8 tok/s expected: below the ~10 tok/s that feels usable",
    ),
    (
        Reason.of(ReasonCode.SLOW_DECODE, tps=3.8, tps_low=2.24, tps_high=9.96),
        "2.2\u201310 tok/s expected: below the ~10 tok/s that feels usable",
    ),
    (
        Reason.of(ReasonCode.APPROXIMATE_ESTIMATE, architecture=""),
        "architecture '?' is not one vramtui knows: memory is estimated with the generic rules "
        "(dense attention on every layer)",
    ),
    (
        Reason.of(ReasonCode.EXPERTS_ON_HOST, host_bytes=3 * GiB, gains_nothing=True),
        "3.0 GiB of expert weights kept in system RAM gain nothing here: the GPU's memory is "
        "that same RAM, so none is freed, and the CPU computes them slower",
    ),
    (
        Reason.of(ReasonCode.EXPERTS_ON_HOST, host_bytes=3 * GiB, gains_nothing=False),
        "3.0 GiB of expert weights stay in system RAM: the CPU reads them for every token, "
        "slower than the GPU's own memory",
    ),
    (
        Reason.of(
            ReasonCode.VULKAN_HEAPS_SPLIT,
            carve_out_bytes=96 * GiB,
            first_heap_bytes=32 * GiB,
            heap_limit_bytes=64 * GiB,
        ),
        "above a 64 GiB carve-out AMD's Windows driver reports GPU memory as two Vulkan heaps: "
        "llama.cpp before PR #17110, and runtimes built on it, see only 32 GiB of the 96 GiB and "
        "fail to load past about 64 GiB; update the runtime or carve out 64 GiB",
    ),
    (
        Reason.of(ReasonCode.ROCM_WINDOWS_64G, needed_bytes=70 * GiB, limit_bytes=64 * GiB),
        "the GPU buffers (70 GiB) exceed the 64 GiB ROCm places under Windows on Strix Halo: "
        "use the Vulkan backend, or Linux",
    ),
    (
        Reason.of(
            ReasonCode.ROCM_WINDOWS_KV_SHARED,
            kv_bytes=846 * MiB,
            carve_out_bytes=32 * GiB,
            shared_name="shared GPU memory",
        ),
        "ROCm under Windows keeps the KV cache (846 MiB) in shared GPU memory, not the 32 GiB "
        "carve-out, whatever its size (llama.cpp's Strix Halo report of December 2025): long "
        "contexts decode slower; the Vulkan backend keeps it in the carve-out",
    ),
    (
        Reason.of(
            ReasonCode.ROCM_RELEASE_SLOW_PREFILL,
            release="7.2.0",
            build=7938,
            factor=0.3149,
            rows=6,
            measured="kyuz0's Strix Halo toolbox benchmarks of 2026-01-23 and 2026-02-09",
            end_build=8180,
        ),
        "ROCm 7.2.0 at llama.cpp build 7938 ran prompt processing at 0.31x the speed of ROCm "
        "7.2.1 or newer (6 llama-bench rows, kyuz0's Strix Halo toolbox benchmarks of 2026-01-23 "
        "and 2026-02-09); llama.cpp build 8180 or newer, or ROCm 7.2.1 or newer, runs it at full "
        "speed",
    ),
]


@pytest.mark.parametrize(("reason", "words"), _PINNED)
def test_each_code_reads_as_it_always_has(reason: Reason, words: str) -> None:
    assert reason_text(reason) == words


def test_pinned_words_cover_every_code() -> None:
    assert {r.code for r, _ in _PINNED} == set(ReasonCode)


def test_a_missing_figure_is_an_error_not_a_wrong_sentence() -> None:
    with pytest.raises(KeyError):
        reason_text(Reason.of(ReasonCode.PARTIAL_OFFLOAD, gpu_layers=3))
    with pytest.raises(TypeError):
        reason_text(Reason.of(ReasonCode.PARTIAL_OFFLOAD, gpu_layers=3, layers="33"))


def test_core_json_holds_codes_and_the_faces_add_the_words() -> None:
    spec = _catalog("glm-4.7-flash:Q4_K_M")
    laptop = MachineState.default_for(
        get_machine("hp-zbook-ultra-g1a-64gb"), carve_out_bytes=512 * MiB
    )
    fit = evaluate_fit(spec, S(), laptop)
    assert fit.reasons and "messages" not in fit.to_json()
    out = io.StringIO()
    with redirect_stdout(out):
        main(["check", "glm-4.7-flash:Q4_K_M", "--machine", laptop.machine.id])
        main(["check", "glm-4.7-flash:Q4_K_M", "--machine", laptop.machine.id, "--json"])
    text, _, raw = out.getvalue().partition("\n{")
    data = json.loads("{" + raw)
    assert [m["message"] for m in data["messages"]] == [reason_text(r) for r in fit.reasons]
    assert list(data).index("messages") == list(data).index("reasons") + 1
    assert all(reason_text(r) in text for r in fit.reasons)


def test_cluster_json_holds_codes_and_the_cli_adds_the_words() -> None:
    spec = _catalog("gpt-oss-120b")
    nodes = ("hp-zbook-ultra-g1a-64gb:512M", "strix-halo-32gb")
    cluster = Cluster(tuple(node_from_text(n) for n in nodes), get_link(DEFAULT_LINK), None)
    result = evaluate_cluster(spec, S(), cluster)
    assert any(n.reasons for n in result.nodes)
    assert all("messages" not in node for node in result.to_json()["nodes"])
    out = io.StringIO()
    with redirect_stdout(out):
        main(["cluster", "gpt-oss-120b", *(f"--node={n}" for n in nodes), "--json"])
    said = [node["messages"] for node in json.loads(out.getvalue())["nodes"]]
    assert said == [[reason_text(r) for r in n.reasons] for n in result.nodes]
