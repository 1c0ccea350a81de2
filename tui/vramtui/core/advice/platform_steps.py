"""The settings a plan gives beside the carve-out, for the platform it runs on: the exact lines
to set and whether a reboot applies them. Words in vramtui.present.plan_words.

- Strix Halo, any OS: set the BIOS carve-out to a size, not "Auto". Under Windows with "Auto"
  llama.cpp's ROCm/HIP sees no VRAM (ggml-org/llama.cpp #26089) and LM Studio's ROCm runtime
  ignores the shared pool (lmstudio-ai/lms #589); under Linux "Auto" left a 128 GB box with a
  63968 MiB GTT and rocminfo capped at 64 GB (antirez/ds4 #475).
- Strix Halo on Linux: the GTT limit as `ttm.pages_limit` (4 KiB pages; `amdgpu.gttsize` beside
  it for kernels that still read it) on the kernel command line, or `options ttm pages_limit=N`
  in /etc/modprobe.d/ttm.conf (AMD's amd-ttm tool, ROCm docs strixhalo.rst); under AMD's DKMS
  amdgpu the module is `amdttm` (ROCm/legacy-rocm-build #5562). A reboot applies either.
- Linux with amdgpu's `uma/carveout` sysfs file (drm/amdgpu "add UMA allocation interfaces to
  sysfs"; LACT #1196): the carve-out is set from Linux by writing the index of the size listed
  in `uma/carveout_options`; the firmware applies it at the next boot, no BIOS menu needed.
- macOS: `sudo sysctl iogpu.wired_limit_mb=N` raises the GPU working set until the next reboot
  (0 restores the default; ark.marianposaceanu.com apple_silicon_gpu_memory_blog; 112 GiB of
  128 with 114688, antirez/ds4 #890). Offered when the default working set is what stops the
  model and the raised one, leaving the desktop its RAM (DESKTOP_RAM), runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState, ttm_setting_lines
from vramtui.core.sizes import MiB
from vramtui.core.vocab import MachineKind, OsName, PlatformStepKind, ReasonCode, Verdict

StepValue = int | str | bool


@dataclass(frozen=True)
class PlatformStep:
    kind: PlatformStepKind
    reboot: bool  # True: a reboot applies it (or the BIOS trip the plan already needs)
    settings: tuple[tuple[str, StepValue], ...] = ()

    def get(self, name: str) -> StepValue:
        for key, value in self.settings:
            if key == name:
                return value
        raise KeyError(f"{self.kind} has no setting {name!r}")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "reboot": self.reboot, **dict(self.settings)}


def platform_steps(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    *,
    carve_out_bytes: int | None,
    gtt_bytes: int | None,
    fit: FitResult | None,
) -> tuple[PlatformStep, ...]:
    """The steps for the plan's carve-out (None: no step runs the model), the GTT it relies on
    (the state's own, else the Linux route's) and its fit."""
    m = state.machine
    steps: list[PlatformStep] = []
    strix = m.kind == MachineKind.STRIX_HALO
    reboot = carve_out_bytes is not None and carve_out_bytes != state.carve_out_bytes
    if strix and carve_out_bytes is not None:
        size = ("carve_out_bytes", carve_out_bytes)
        steps.append(PlatformStep(PlatformStepKind.BIOS_EXPLICIT_SIZE, reboot, (size,)))
        if reboot and state.os == OsName.LINUX and state.uma_carveout_path:
            path = state.uma_carveout_path
            options = path.rsplit("/", 1)[0] + "/carveout_options"
            where = (("path", path), ("options_path", options))
            steps.append(PlatformStep(PlatformStepKind.UMA_CARVEOUT_SYSFS, True, (size, *where)))
    if strix and state.os == OsName.LINUX and gtt_bytes is not None:
        lines = ttm_setting_lines(gtt_bytes, state.ttm_module)
        already = state.gtt_bytes == gtt_bytes
        figures: tuple[tuple[str, StepValue], ...] = (
            ("gtt_bytes", gtt_bytes),
            ("module", state.ttm_module),
            *lines.items(),
            ("set", already),
        )
        steps.append(PlatformStep(PlatformStepKind.TTM_PAGES_LIMIT, not already, figures))
    if state.os == OsName.MACOS and state.wired_limit_bytes is None:
        wired = _wired_limit_step(spec, settings, state, fit)
        if wired is not None:
            steps.append(wired)
    return tuple(steps)


def _wired_limit_step(
    spec: ModelSpec, settings: RuntimeSettings, state: MachineState, fit: FitResult | None
) -> PlatformStep | None:
    """iogpu.wired_limit_mb when the default working set stops the model and RAM less the
    desktop's share runs it."""
    now = fit or evaluate_fit(spec, settings, state)
    if ReasonCode.EXCEEDS_GPU_MEMORY not in now.codes:
        return None
    limit = (state.machine.total_ram_bytes - state.desktop_ram) // MiB * MiB
    if limit <= now.pools.gpu_total_bytes:
        return None
    raised = evaluate_fit(spec, settings, replace(state, wired_limit_bytes=limit))
    if raised.verdict == Verdict.WILL_NOT_FIT:
        return None
    figures = (
        ("wired_limit_mb", limit // MiB),
        ("command", f"sudo sysctl iogpu.wired_limit_mb={limit // MiB}"),
        ("verdict", str(raised.verdict)),
    )
    return PlatformStep(PlatformStepKind.WIRED_LIMIT, False, figures)
