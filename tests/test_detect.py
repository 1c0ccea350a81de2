"""`vramtui detect` on Linux: fake /proc + /sys trees built under tmp_path (VRAMTUI_SYSROOT),
nvidia-smi through a recorded runner, and this real box."""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.sysroot import (
    amdgpu_card,
    half_visible,
    hp_zbook_tree,
    make_tree,
)
from vramtui.cli.main import main
from vramtui.core.detect.linux import NVIDIA_SMI
from vramtui.core.detect.match import THIS_MACHINE, detected_machine_state
from vramtui.core.detect.this_machine import detect_machine, save_detected_machine
from vramtui.core.detect.types import CommandOutput, CommandRunner, read_text, run_command
from vramtui.core.errors import VramtuiError
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import evaluate_fit
from vramtui.core.hardware.presets import load_machines
from vramtui.core.model.source import open_model
from vramtui.core.paths import user_machines_dir
from vramtui.core.sizes import GiB, MiB, format_bytes

DATA = Path(__file__).parent / "data" / "detect"


def test_strix_halo_laptop_is_the_hp_preset_at_512_mb(tmp_path: Path) -> None:
    d = detect_machine(sysroot=hp_zbook_tree(tmp_path))
    assert d.os == "linux"
    assert d.preset == "hp-zbook-ultra-g1a-64gb"
    assert d.carve_out_bytes == 512 * MiB
    assert d.total_ram_basis == "visible+carve-out"
    assert d.total_ram_bytes == d.visible_ram_bytes + 512 * MiB  # type: ignore[operator]
    (gpu,) = d.gpus  # the connector and render node beside card0 are not GPUs
    assert (gpu.vendor, gpu.pci_id, gpu.unified) == ("amd", "1002:1586", True)
    assert gpu.dedicated_used_bytes == 64 * MiB and gpu.shared_used_bytes == 64 * MiB
    assert d.ttm_pages_limit == half_visible(64 * GiB, 512 * MiB) // 4096
    assert d.amdgpu_gttsize_mib == -1
    assert "/sys/class/dmi/id/product_name" in d.sources
    state = detected_machine_state(d)
    assert state.machine.id == "hp-zbook-ultra-g1a-64gb"
    assert (state.carve_out_bytes, state.os) == (512 * MiB, "linux")
    assert state.gtt_bytes is None  # the kernel default: the fit derives it per step


def test_cli_detect_json_reads_the_sysroot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(hp_zbook_tree(tmp_path, carve=32 * GiB)))
    assert main(["detect", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in (
        "os",
        "total_ram_bytes",
        "visible_ram_bytes",
        "gpus",
        "carve_out_bytes",
        "preset",
        "sources",
    ):
        assert key in data
    assert data["preset"] == "hp-zbook-ultra-g1a-64gb"
    assert data["carve_out_bytes"] == 32 * GiB
    assert data["machine"]["carve_out_bytes"] == 32 * GiB
    assert set(data["gpus"][0]) >= {
        "name",
        "vendor",
        "pci_id",
        "dedicated_bytes",
        "shared_bytes",
        "unified",
    }
    assert main(["detect"]) == 0
    text = capsys.readouterr().out
    assert "hp-zbook-ultra-g1a-64gb" in text and f"carve-out now: {format_bytes(32 * GiB)}" in text


def test_strix_halo_desktop_with_raised_gtt(tmp_path: Path) -> None:
    installed, carve, gtt = 128 * GiB, 512 * MiB, 124 * GiB  # kyuz0's 124 GiB GTT setup
    root = make_tree(
        tmp_path,
        installed=installed,
        carve=carve,
        cards=[amdgpu_card(carve, gtt)],
        dmi={"sys_vendor": "Framework", "product_name": "Desktop (AMD Ryzen AI Max 300 Series)"},
        params={"ttm/parameters/pages_limit": "32505856", "amdgpu/parameters/gttsize": "126976"},
    )
    d = detect_machine(sysroot=root)
    assert d.preset == "framework-desktop-128gb"
    assert (d.ttm_pages_limit, d.amdgpu_gttsize_mib) == (32505856, 126976)
    assert d.gpus[0].shared_bytes == gtt
    state = detected_machine_state(d)
    assert state.carve_out_bytes == carve
    assert state.gtt_bytes == gtt  # set by the user: kept at every carve-out step
    save_detected_machine(d, "desk")
    saved = load_machines().get("desk")
    assert saved is not None and saved.default_gtt_bytes == gtt
    assert saved.match_pci == ("1002:1586",) and saved.total_ram_bytes == 128 * GiB


def test_strix_halo_desktop_at_96_gb_is_still_128_gb(tmp_path: Path) -> None:
    carve = 96 * GiB
    root = make_tree(
        tmp_path,
        installed=128 * GiB,
        carve=carve,
        cards=[amdgpu_card(carve, half_visible(128 * GiB, carve))],
    )
    d = detect_machine(sysroot=root)
    assert d.visible_ram_bytes is not None and d.visible_ram_bytes < 32 * GiB
    assert d.preset == "framework-desktop-128gb"
    assert detected_machine_state(d).carve_out_bytes == carve


def test_unknown_strix_halo_box_is_built_from_the_template(tmp_path: Path) -> None:
    # A 64 GB mini PC: same GPU as the HP laptop, but not an HP: no preset, a built machine.
    root = make_tree(
        tmp_path,
        installed=64 * GiB,
        carve=16 * GiB,
        cards=[amdgpu_card(16 * GiB, half_visible(64 * GiB, 16 * GiB))],
        dmi={
            "sys_vendor": "GMKtec",
            "product_name": "Default string",
            "board_name": "NucBox_EVO-X2",
        },
    )
    d = detect_machine(sysroot=root)
    assert d.preset is None
    assert d.product is None and d.board == "NucBox_EVO-X2"  # the placeholder is dropped
    state = detected_machine_state(d)
    m = state.machine
    assert m.id == THIS_MACHINE and m.kind == "strix_halo"
    assert m.bandwidth_gbps == 256.0  # from the same-GPU preset
    assert 16 * GiB in m.carve_out_steps and max(m.carve_out_steps) <= 0.75 * m.total_ram_bytes
    assert state.carve_out_bytes == 16 * GiB and m.total_ram_bytes == d.total_ram_bytes


def _runner(outputs: dict[tuple[str, ...], CommandOutput]) -> CommandRunner:
    """Recorded outputs by argv; anything else is "not installed"."""

    def run(argv: Sequence[str], timeout: float) -> CommandOutput:
        assert timeout <= 10
        return outputs.get(tuple(argv), CommandOutput(127, "", f"{argv[0]} not found"))

    return run


def nvidia_tree(root: Path, installed: int) -> Path:
    card = {"vendor": "0x10de", "device": "0x2684", "revision": "0xa1"}
    return make_tree(
        root,
        installed=installed,
        cards=[card],
        dmi={"sys_vendor": "ASUS", "product_name": "System Product Name"},
        cpu="13th Gen Intel(R) Core(TM) i9-13900K",
    )


def test_nvidia_desktop_reads_vram_from_nvidia_smi(tmp_path: Path) -> None:
    smi = (DATA / "nvidia-smi-rtx-4090.csv").read_text(encoding="utf-8")
    run = _runner({NVIDIA_SMI: CommandOutput(0, smi)})
    d = detect_machine(sysroot=nvidia_tree(tmp_path, 64 * GiB), runner=run)
    (gpu,) = d.gpus
    assert gpu.name == "NVIDIA GeForce RTX 4090" and gpu.pci_id == "10de:2684"
    assert gpu.dedicated_bytes == 24564 * MiB and gpu.dedicated_used_bytes == 1093 * MiB
    assert not gpu.unified and d.carve_out_bytes is None
    assert d.preset == "desktop-rtx-4090"
    assert d.product is None  # "System Product Name" is a placeholder
    assert detected_machine_state(d).machine.discrete


def test_nvidia_desktop_with_less_ram_than_the_preset(tmp_path: Path) -> None:
    smi = (DATA / "nvidia-smi-rtx-4090.csv").read_text(encoding="utf-8")
    run = _runner({NVIDIA_SMI: CommandOutput(0, smi)})
    d = detect_machine(sysroot=nvidia_tree(tmp_path, 32 * GiB), runner=run)
    assert d.preset is None
    m = detected_machine_state(d).machine
    assert m.id == THIS_MACHINE and m.gpu_vram_bytes == 24564 * MiB
    assert m.total_ram_bytes == d.total_ram_bytes and m.bandwidth_gbps == 1008.0


def test_nvidia_smi_missing_or_hanging_is_a_note(tmp_path: Path) -> None:
    root = nvidia_tree(tmp_path, 64 * GiB)
    for out in (
        CommandOutput(127, "", "nvidia-smi not found"),
        CommandOutput(124, "", "nvidia-smi timed out after 2 s"),
    ):
        d = detect_machine(sysroot=root, runner=_runner({NVIDIA_SMI: out}))
        assert d.gpus[0].dedicated_bytes is None
        assert any(out.error in p for p in d.problems if out.error)
    d = detect_machine(sysroot=root)  # a recorded tree runs no command at all
    assert any("not run" in p for p in d.problems)


def test_laptop_with_apu_and_discrete_gpu_runs_on_the_discrete_one(tmp_path: Path) -> None:
    apu = amdgpu_card(512 * MiB, half_visible(32 * GiB, 512 * MiB))  # a Strix Halo iGPU
    dgpu = {"vendor": "0x10de", "device": "0x28e0"}
    root = make_tree(tmp_path, installed=32 * GiB, carve=512 * MiB, cards=[apu, dgpu])
    smi = "NVIDIA GeForce RTX 4060 Laptop GPU, 0x28E010DE, 8188, 10\n"
    d = detect_machine(sysroot=root, runner=_runner({NVIDIA_SMI: CommandOutput(0, smi)}))
    amd, nvidia = d.gpus
    assert amd.unified and not nvidia.unified and d.carve_out_bytes == 512 * MiB
    assert d.preset is None  # not the 32 GB Strix Halo preset: the model runs on the dGPU
    state = detected_machine_state(d)
    m = state.machine
    assert m.discrete and m.gpu_vram_bytes == 8188 * MiB and state.carve_out_bytes == 0
    assert m.bandwidth_gbps == 288.0  # the unknown-dGPU assumption, not the APU's figures
    assert state.resolved_backend == "cuda"


def test_dgx_spark_gpu_without_its_own_memory_is_unified(tmp_path: Path) -> None:
    smi = (DATA / "nvidia-smi-dgx-spark.csv").read_text(encoding="utf-8")
    root = make_tree(tmp_path, installed=128 * GiB, cpu="")
    d = detect_machine(sysroot=root, runner=_runner({NVIDIA_SMI: CommandOutput(0, smi)}))
    (gpu,) = d.gpus
    assert gpu.unified and gpu.dedicated_bytes is None and gpu.pci_id == "10de:2e12"
    assert d.preset == "nvidia-dgx-spark"


def test_no_gpu_gets_a_cpu_machine(tmp_path: Path) -> None:
    virtio = {"vendor": "0x1af4", "device": "0x1050"}  # a VM's virtual display: not a GPU
    qemu = {"sys_vendor": "QEMU", "product_name": "Standard PC (Q35 + ICH9, 2009)"}
    root = make_tree(tmp_path, installed=16 * GiB, cards=[virtio], cpu="Intel(R) Xeon(R)", dmi=qemu)
    d = detect_machine(sysroot=root)
    assert d.gpus == () and d.carve_out_bytes is None and d.preset is None
    assert any("not a GPU" in s for s in d.sources)
    state = detected_machine_state(d)
    assert state.resolved_backend == "cpu" and not state.machine.carve_out_steps
    spec = open_model("llama-3.1-8b:Q4_K_M")
    fit = evaluate_fit(spec, RuntimeSettings(), state)
    assert fit.verdict != "will_not_fit"
    assert fit.speed.basis.startswith("cpu")


def test_unreadable_machine_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    d = detect_machine(sysroot=tmp_path)
    assert d.visible_ram_bytes is None and any("MemTotal" in p for p in d.problems)
    with pytest.raises(VramtuiError, match="RAM"):
        detected_machine_state(d)


def test_sysroot_that_is_not_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(tmp_path / "nope"))
    assert main(["detect"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "VRAMTUI_SYSROOT" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_huge_file_in_the_tree_is_not_read(tmp_path: Path) -> None:
    root = hp_zbook_tree(tmp_path)
    vram = root / "sys/devices/pci0000:00/0000:00:00.0/mem_info_vram_total"
    vram.unlink()
    os.mkfifo(vram)  # opening a FIFO for reading would block without a writer
    meminfo = root / "proc/meminfo"
    meminfo.write_text("MemTotal: 1 kB\n" + "x" * (1 << 20), encoding="utf-8")
    d = detect_machine(sysroot=root)
    assert d.gpus[0].dedicated_bytes is None and d.carve_out_bytes is None
    assert d.visible_ram_bytes == 1024
    assert read_text(vram) is None
    assert read_text(meminfo, 100) is not None and len(read_text(meminfo, 100) or "") == 100


def test_control_characters_from_dmi_are_not_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_tree(tmp_path, installed=16 * GiB, dmi={"product_name": "Box\x1b[31mRED\x07"})
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(root))
    assert main(["detect"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "Box [31mRED" in out


def test_save_then_detect_recognises_the_saved_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_tree(
        tmp_path / "tree",
        installed=64 * GiB,
        carve=8 * GiB,
        cards=[amdgpu_card(8 * GiB, half_visible(64 * GiB, 8 * GiB))],
        dmi={"sys_vendor": "GMKtec", "product_name": "NucBox EVO-X2"},
    )
    monkeypatch.setenv("VRAMTUI_SYSROOT", str(root))
    assert main(["detect", "--save", "my-evo"]) == 0
    assert "saved machine preset my-evo" in capsys.readouterr().out
    path = user_machines_dir() / "my-evo.toml"
    assert path.is_file()
    saved = load_machines().get("my-evo")
    assert saved is not None and saved.match_dmi == ("NucBox EVO-X2",)
    assert saved.match_pci == ("1002:1586",) and 8 * GiB in saved.carve_out_steps
    assert main(["detect", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["preset"] == "my-evo"
    assert main(["detect", "--save", "my-evo"]) == 2  # no silent replacement
    assert "--force" in capsys.readouterr().err
    assert main(["detect", "--save", "hp-zbook-ultra-g1a-64gb"]) == 2  # a bundled id
    assert main(["detect", "--save", "Bad Name"]) == 2
    code = main(["check", "glm-4.7-flash:Q4_K_M", "--machine", "my-evo", "--carve-out", "8G"])
    assert code in (0, 1, 3)


def test_save_refuses_without_force_but_replaces_with_it(tmp_path: Path) -> None:
    d = detect_machine(sysroot=make_tree(tmp_path, installed=16 * GiB, cpu="Intel(R) Xeon(R)"))
    first = save_detected_machine(d, "box")
    with pytest.raises(VramtuiError, match="exists"):
        save_detected_machine(d, "box")
    assert save_detected_machine(d, "box", force=True) == first
    m = load_machines().get("box")
    assert m is not None and m.default_backend == "cpu"
    assert m.match_chip == ("Intel(R) Xeon(R)",) and not m.match_pci


def _mem_total() -> int:
    for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


@pytest.mark.skipif(platform.system() != "Linux", reason="reads this Linux box")
def test_this_real_box(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("VRAMTUI_SYSROOT", raising=False)
    assert main(["detect", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["os"] == "linux"
    assert data["visible_ram_bytes"] == _mem_total()
    drm = Path("/sys/class/drm")
    has_cards = drm.is_dir() and any(p.name.startswith("card") for p in drm.iterdir())
    if not has_cards and shutil.which("nvidia-smi") is None:
        assert data["gpus"] == [] and data["carve_out_bytes"] is None
        assert data["total_ram_bytes"] == _mem_total()
        assert data["machine"]["backend"] == "cpu"


@pytest.mark.skipif(shutil.which("sleep") is None, reason="needs POSIX tools")
def test_commands_are_bounded_in_time_and_size() -> None:
    assert run_command(["no-such-program-vramtui"]).error == "no-such-program-vramtui not found"
    slow = run_command(["sleep", "5"], 0.3)
    assert slow.returncode == 124 and not slow.ok and "timed out" in (slow.error or "")
    big = run_command(["sh", "-c", "head -c 3000000 /dev/zero"])
    assert big.ok and len(big.stdout) == 1 << 20
