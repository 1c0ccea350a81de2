"""From a detection to a machine: the preset it matches, or one built from what was found.

Matching (every rule needs total RAM within -8 % / +2 % of the preset's: the OS and firmware
keep 1-3 % of the installed RAM out of MemTotal / TotalPhysicalMemory, and neighbouring
presets differ by 25 % or more):
- a preset with `match_dmi` matches only when the DMI product name (Windows: the computer
  model) starts with one of them: it names one product;
- otherwise the PCI id of the GPU a model runs on (the discrete one where there are two) in
  `match_pci`, or the chip (CPU brand or that GPU's name) in `match_chip`.
Ties go to the better evidence (DMI, then PCI or chip), then to the user's own preset, then to
the closest RAM. A preset hit by PCI id or chip but not by RAM serves as the template for a
machine built from what was found (id `this-machine`): its bandwidth, compute and BIOS steps
are kept, RAM and carve-out come from the detection.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from vramtui.core.detect.cpu_memory import cpu_bandwidth
from vramtui.core.detect.types import Detection, GpuInfo
from vramtui.core.errors import VramtuiError
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import MachineCatalog, MachinePreset, load_machines
from vramtui.core.paths import user_machines_dir
from vramtui.core.sizes import GiB, MiB, format_bytes
from vramtui.core.vocab import Backend, MachineKind, OsName

THIS_MACHINE = "this-machine"
RAM_MATCH_LOW = 0.92
RAM_MATCH_HIGH = 1.02
# Linux GTT equal to half the visible RAM (within this share) is the kernel's default, not a
# ttm.pages_limit the user set: ttm_device.c ttm_global_init limits the pool to ~50 % of RAM.
GTT_DEFAULT_TOLERANCE = 0.03

# Figures for hardware no preset describes. Each is a deliberately modest assumption:
# - CPU only: dual-channel DDR5 (~60-70 GB/s; the fit's own default CPU bandwidth is 60) and
#   ~1 FP32 TFLOPS (AVX2 FMA, ~100 GFLOPS per core on 8-16 cores).
# - an unknown integrated GPU: dual-channel DDR5-5600 = 89.6 GB/s; Radeon 780M class compute
#   (12 CU x 2.7 GHz x 256 FP16 ops/clk ~ 8.3 TFLOPS).
# - an unknown discrete GPU: an RTX 4060 Ti class card (288 GB/s, ~22 FP16 TFLOPS, NVIDIA
#   specifications).
# - an unknown Apple chip: the base M2/M3 bandwidth (100 GB/s, research notes section 9) and
#   the M4 base preset's FP16 estimate (4.3).
CPU_BANDWIDTH_GBPS = 60.0
CPU_TFLOPS = 1.0
IGPU_BANDWIDTH_GBPS = 89.6
IGPU_TFLOPS = 8.3
DGPU_BANDWIDTH_GBPS = 288.0
DGPU_TFLOPS = 22.0
APPLE_BANDWIDTH_GBPS = 100.0
APPLE_TFLOPS = 4.3
# BIOS carve-out steps of an ordinary AMD APU, up to 16 GB: "values above 16 GB" are not in
# vendor BIOS code except on Strix Halo (help.xmg.gg, research notes 1.2).
GENERIC_APU_STEPS = (512 * MiB, 1 * GiB, 2 * GiB, 4 * GiB, 8 * GiB, 16 * GiB)


def ram_matches(detected: int | None, preset_total: int) -> bool:
    if not detected:
        return False
    return preset_total * RAM_MATCH_LOW <= detected <= preset_total * RAM_MATCH_HIGH


def _hits(d: Detection, m: MachinePreset) -> tuple[bool, bool, bool]:
    """(DMI, PCI id, chip) evidence that `d` is machine `m`. PCI id and chip count only for
    the GPU a model runs on (primary_gpu): a laptop's iGPU does not make it its dGPU's twin."""
    names = [n.casefold() for n in (d.product, d.board) if n]
    dmi = any(n.startswith(p.casefold()) for p in m.match_dmi for n in names)
    gpu = primary_gpu(d)
    pci = gpu is not None and gpu.pci_id is not None and gpu.pci_id in m.match_pci
    chips = {c.casefold() for c in (d.cpu, gpu.name if gpu else None) if c}
    chip = any(c.casefold() in chips for c in m.match_chip)
    return dmi, pci, chip


def _is_user(m: MachinePreset) -> bool:
    return bool(m.path) and Path(m.path).parent == user_machines_dir()


def match_preset(d: Detection, catalog: MachineCatalog) -> MachinePreset | None:
    """The preset this machine is, by the rules in the module docstring; None if none."""
    best: tuple[tuple[bool, bool, bool, int], MachinePreset] | None = None
    for m in catalog.machines:
        dmi, pci, chip = _hits(d, m)
        if (m.match_dmi and not dmi) or not (dmi or pci or chip):
            continue
        if not ram_matches(d.total_ram_bytes, m.total_ram_bytes):
            continue
        assert d.total_ram_bytes is not None
        key = (dmi, pci or chip, _is_user(m), -abs(d.total_ram_bytes - m.total_ram_bytes))
        if best is None or key > best[0]:
            best = (key, m)
    return best[1] if best else None


def template_for(d: Detection, catalog: MachineCatalog) -> MachinePreset | None:
    """A preset with the same GPU or chip (any RAM): the closest in RAM."""
    found = [m for m in catalog.machines if any(_hits(d, m)[1:])]
    total = d.total_ram_bytes or 0
    return min(found, key=lambda m: abs(m.total_ram_bytes - total)) if found else None


def primary_gpu(d: Detection) -> GpuInfo | None:
    """The GPU a model would run on: the discrete GPU with the most VRAM, else the integrated
    one (an AMD APU first: its carve-out is what the plan is about)."""
    discrete = [g for g in d.gpus if not g.unified and g.dedicated_bytes and g.dedicated_bytes > 0]
    if discrete:
        return max(discrete, key=lambda g: g.dedicated_bytes or 0)
    unified = [g for g in d.gpus if g.unified]
    unified.sort(key=lambda g: (g.vendor != "amd", -(g.dedicated_bytes or 0)))
    return unified[0] if unified else None


def _describe(d: Detection, gpu: GpuInfo | None, total: int) -> str:
    what = d.product or (gpu.name if gpu else None) or d.cpu or "unknown hardware"
    return f"This machine ({what}, {format_bytes(total, 0)} RAM)"


def _apu_steps(d: Detection, total: int, template: MachinePreset | None) -> tuple[int, ...]:
    if template is not None and template.carve_out_steps:
        cap = total * (template.max_carve_out_fraction or 0.75)
        steps = {s for s in template.carve_out_steps if s <= cap}
    else:
        steps = {s for s in GENERIC_APU_STEPS if s < total // 2}
    if d.carve_out_bytes:
        steps.add(d.carve_out_bytes)
    return tuple(sorted(steps))


def built_machine(d: Detection, catalog: MachineCatalog | None = None) -> MachinePreset:
    """A machine preset (id `this-machine`) from what was found; figures come from a template
    preset with the same GPU or chip, else from the assumptions at the top of this module."""
    catalog = catalog or load_machines()
    total = d.total_ram_bytes or d.visible_ram_bytes
    if not total:
        why = "; ".join(d.problems) or "no source answered"
        raise VramtuiError(f"detect: could not read this machine's RAM ({why})")
    gpu = primary_gpu(d)
    template = template_for(d, catalog) if gpu is not None else None
    base = _from_assumptions(d, gpu, total)
    if template is None or gpu is None:
        return base
    steps = _apu_steps(d, total, template) if gpu.unified and gpu.vendor == "amd" else ()
    return replace(
        template,
        id=base.id,
        name=base.name,
        total_ram_bytes=total,
        carve_out_steps=steps,
        default_carve_out_bytes=d.carve_out_bytes if steps else None,
        gpu_vram_bytes=base.gpu_vram_bytes,
        default_os=d.os,
        default_gtt_bytes=_gtt_override(d),
        sources=(*base.sources[:-1], f"figures from preset {template.id}", *template.sources),
        notes=f"Built by `vramtui detect` from this machine and preset {template.id}.",
        match_dmi=(),
        match_pci=(),
        match_chip=(),
        path="",
    )


def _from_assumptions(d: Detection, gpu: GpuInfo | None, total: int) -> MachinePreset:
    kind, backend, unified = MachineKind.OTHER, Backend.CPU, False
    bw, tflops, vram = CPU_BANDWIDTH_GBPS, CPU_TFLOPS, 0
    steps: tuple[int, ...] = ()
    rule = "no carve-out"
    note = "No GPU found: the model runs on the CPU from system RAM."
    if gpu is not None and not gpu.unified:
        kind, bw, tflops = MachineKind.DISCRETE_GPU, DGPU_BANDWIDTH_GBPS, DGPU_TFLOPS
        vram = gpu.dedicated_bytes or 0
        backend = Backend.CUDA if gpu.vendor == "nvidia" else Backend.VULKAN
        rule = "discrete GPU: no carve-out"
        note = "Unknown discrete GPU: RTX 4060 Ti class figures assumed."
    elif gpu is not None and gpu.vendor == "apple":
        kind, backend, unified = MachineKind.APPLE, Backend.METAL, True
        bw, tflops = APPLE_BANDWIDTH_GBPS, APPLE_TFLOPS
        rule = "no carve-out: unified memory"
        note = "Unknown Apple chip: base M2/M3 figures assumed."
    elif gpu is not None:
        bw, tflops, unified = IGPU_BANDWIDTH_GBPS, IGPU_TFLOPS, True
        backend = Backend.CUDA if gpu.vendor == "nvidia" else Backend.VULKAN
        note = "Unknown integrated GPU: dual-channel DDR5 and Radeon 780M class figures assumed."
        if gpu.vendor == "amd":
            steps = _apu_steps(d, total, None)
            rule = "assumed: an ordinary AMD APU's BIOS offers up to 16 GB"
    detected = tuple(f"detected: {s}" for s in d.sources) or ("detected by vramtui",)
    assumed = "figures assumed: generic figures for an unrecognised machine"
    cpu_ram = cpu_bandwidth(d.cpu, CPU_BANDWIDTH_GBPS)
    measured = cpu_ram.measured_gbps
    if gpu is None:
        bw = cpu_ram.gbps
        note = "No GPU found: the model runs on the CPU from system RAM."
        assumed = f"RAM bandwidth: {cpu_ram.source}"
    return MachinePreset(
        id=THIS_MACHINE,
        name=_describe(d, gpu, total),
        kind=kind,
        total_ram_bytes=total,
        carve_out_steps=steps,
        default_carve_out_bytes=d.carve_out_bytes if steps else None,
        max_carve_out_fraction=0.5 if steps else 0.0,
        max_carve_out_rule=rule,
        gpu_vram_bytes=vram,
        bandwidth_gbps=bw,
        measured_bandwidth_gbps=measured if gpu is None else None,
        fp16_tflops=tflops,
        default_os=d.os,
        default_backend=backend,
        unified_memory=unified,
        sources=(*detected, assumed),
        notes=note,
        cpu_bandwidth_gbps=cpu_ram.gbps,
        cpu_bandwidth_basis=cpu_ram.basis if gpu is None else None,
    )


def _gtt_override(d: Detection) -> int | None:
    """The GTT size when it is not the kernel default (a ttm.pages_limit / gttsize the user
    set): then it stays the same at every carve-out step, as the fit's gtt_bytes does."""
    gtt = next((g.shared_bytes for g in d.gpus if g.unified and g.vendor == "amd"), None)
    if d.os != OsName.LINUX or gtt is None or not d.visible_ram_bytes:
        return None
    default = d.visible_ram_bytes / 2
    return gtt if abs(gtt - default) > default * GTT_DEFAULT_TOLERANCE else None


def detected_machine_state(d: Detection, catalog: MachineCatalog | None = None) -> MachineState:
    """The matched preset at the detected carve-out, or a machine built from what was found;
    a CPU-only machine when there is no GPU. Linux GTT and macOS wired limits the user set are
    carried over."""
    catalog = catalog or load_machines()
    preset = catalog.get(d.preset) if d.preset else None
    machine = preset or built_machine(d, catalog)
    changes: dict[str, object] = {"os": d.os}
    if machine.carve_out_steps and not machine.discrete and d.carve_out_bytes is not None:
        changes["carve_out_bytes"] = d.carve_out_bytes
    if (gtt := _gtt_override(d)) is not None:
        changes["gtt_bytes"] = gtt
    if d.os == OsName.LINUX and d.ttm_module:
        changes["ttm_module"] = d.ttm_module
    if d.os == OsName.LINUX and d.uma_carveout_path:
        changes["uma_carveout_path"] = d.uma_carveout_path
    if d.os == OsName.MACOS and d.wired_limit_bytes:
        changes["wired_limit_bytes"] = d.wired_limit_bytes
    return MachineState.default_for(machine, **changes)
