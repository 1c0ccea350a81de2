"""The plan in words: what to set in the BIOS and what to run, for the CLI and the app alike."""

from __future__ import annotations

from vramtui.core.advice.plan import GttRoute, Plan
from vramtui.core.advice.platform_steps import PlatformStep
from vramtui.core.fit.fit import FitResult
from vramtui.core.sizes import format_bytes, format_tokens, short_tokens
from vramtui.core.vocab import OsName, PlatformStepKind, Severity, Verdict
from vramtui.present.advice_words import expert_offload_sentence
from vramtui.present.reasons import reason_text
from vramtui.present.speed_words import decode_words, rate_span
from vramtui.present.untrusted import plain

# How the current carve-out is known, as said after it: "(now 512 MB: reboot needed)".
_CURRENT_WORDS = {
    "detected": "",
    "given": "",
    "preset": ", per the preset",
    "default": ", if still at the machine's default",
}


# Under commands that hold a PATH_PLACEHOLDER.
PATH_HINT = "(replace each <path to ...> with the file on your disk)"


def bios_step(n_bytes: int) -> str:
    """A BIOS step as its menu shows it: "512 MB", "32 GB", "1.5 GB"."""
    whole = n_bytes % (1024**3 if n_bytes >= 1024**3 else 1024**2) == 0
    return format_bytes(n_bytes, 0 if whole else 1)


def gtt_route_sentence(route: GttRoute) -> str:
    """AMD's Linux route beside the plan, in one sentence."""
    return (
        f"On Linux you can instead keep the carve-out at {bios_step(route.carve_out_bytes)} and "
        f"give the GPU {format_bytes(route.gtt_bytes, 0)} of GTT with the kernel parameters "
        f"`{route.kernel_params}` (a reboot too): {route.verdict.label}, "
        f"{rate_span(route.decode_tps, route.decode_range)} tok/s."
    )


def plan_sentence(plan: Plan) -> str:
    """ "Set the BIOS carve-out to 32 GB (now 512 MB: reboot needed). Run X at up to 18K
    context: about 3.8 tok/s, 31.4 GiB left for Windows." and what goes with it."""
    if plan.fit is None or plan.carve_out_bytes is None:
        return _fail_sentence(plan)
    text = _bios_part(plan, plan.carve_out_bytes) if plan.has_carve_out else ""
    text += _run_part(plan, plan.fit)
    if plan.expert_offload is not None:
        text += " " + expert_offload_sentence(plan.expert_offload)
    gtt = plan.gtt_route
    if gtt is not None and plan.reboot_needed and gtt.verdict == Verdict.FITS:
        text += " " + gtt_route_sentence(gtt)
    return text


def bios_sentence(target: int, current: int, current_source: str) -> str:
    """ "Set the BIOS carve-out to 32 GB (now 512 MB, per the preset: reboot needed)." """
    now = f"now {bios_step(current)}{_CURRENT_WORDS.get(current_source, '')}"
    if target == current:
        return f"Keep the BIOS carve-out at {bios_step(current)} ({now}: no reboot needed)."
    return f"Set the BIOS carve-out to {bios_step(target)} ({now}: reboot needed)."


def _bios_part(plan: Plan, target: int) -> str:
    return bios_sentence(target, plan.current_carve_out_bytes, plan.current_source) + " "


def _run_part(plan: Plan, fit: FitResult) -> str:
    ctx = fit.breakdown.n_ctx or fit.settings.ctx_size
    best_ctx = plan.max_clean_context
    if plan.ctx_given or best_ctx == 0:
        run = f"Run {plain(plan.model)} at {format_tokens(ctx)} context"
        if best_ctx and best_ctx != ctx:
            run += f" (up to {short_tokens(best_ctx)} runs cleanly)"
    else:
        run = f"Run {plain(plan.model)} at up to {short_tokens(best_ctx)} context"
    layers = fit.breakdown.n_layers + 1
    if fit.backend == "cpu":
        run += " on the CPU"
    elif plan.discrete and fit.n_gpu_layers < layers:
        run += f" with {fit.n_gpu_layers} of {layers} layers on the GPU"
    left = format_bytes(max(fit.system_ram_left_bytes, 0))
    text = f"{run}: {decode_words(fit.speed)}, {left} left for {OsName(plan.os).label}."
    if fit.verdict != Verdict.FITS:
        warned = [str(r.code) for r in fit.reasons if r.severity != Severity.INFO]
        text += f" Warnings: {', '.join(warned)}."
    return text


def _fail_sentence(plan: Plan) -> str:
    where = "at any carve-out step" if plan.has_carve_out else "here"
    why = reason_text(plan.blocker) if plan.blocker is not None else ""
    model, machine = plain(plan.model), plain(plan.machine_name)
    text = f"{model} does not run on {machine} {where} with these settings"
    text += f": {why}." if why else "."
    gtt = plan.gtt_route
    if gtt is not None and gtt.verdict != Verdict.WILL_NOT_FIT:
        text += " " + gtt_route_sentence(gtt)
    return text


def _int(step: PlatformStep, name: str) -> int:
    value = step.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{step.kind}'s {name} is not a whole number")
    return value


def _bios_size(step: PlatformStep) -> str:
    size = bios_step(_int(step, "carve_out_bytes"))
    return (
        f"In the BIOS choose {size} for the GPU memory (UMA Frame Buffer Size or Dedicated "
        "Graphics Memory), not Auto: with Auto, ROCm under Windows has seen no VRAM and Linux "
        "a GTT stuck near 64 GB."
    )


def _uma_sysfs(step: PlatformStep) -> str:
    size = bios_step(_int(step, "carve_out_bytes"))
    return (
        f"Or set it from Linux without the BIOS menu: find {size} in "
        f"`{plain(str(step.get('options_path')))}` and write its index with "
        f"`echo INDEX | sudo tee {plain(str(step.get('path')))}`; the firmware applies it at "
        "the next reboot."
    )


def _ttm(step: PlatformStep) -> str:
    gtt = format_bytes(_int(step, "gtt_bytes"), 0)
    lines = (
        f"on the kernel command line `{step.get('kernel_cmdline')}`, or in "
        f"{step.get('modprobe_file')} the line `{step.get('modprobe_line')}`"
    )
    if step.get("set"):
        return f"The GPU relies on the {gtt} GTT limit set now ({lines}): keep it."
    dkms = (
        ""
        if step.get("module") != "ttm"
        else (" (under AMD's DKMS amdgpu the module is amdttm: `amdttm.pages_limit=`)")
    )
    return f"Give the GPU a {gtt} GTT limit: {lines}{dkms}; a reboot applies it."


def _wired(step: PlatformStep) -> str:
    return (
        f"Raise the GPU working set with `{step.get('command')}` (no reboot; it resets at the "
        f"next one, and 0 restores the default): {Verdict(str(step.get('verdict'))).label}."
    )


_STEP_WORDS = {
    PlatformStepKind.BIOS_EXPLICIT_SIZE: _bios_size,
    PlatformStepKind.UMA_CARVEOUT_SYSFS: _uma_sysfs,
    PlatformStepKind.TTM_PAGES_LIMIT: _ttm,
    PlatformStepKind.WIRED_LIMIT: _wired,
}


def platform_step_sentence(step: PlatformStep) -> str:
    """One platform step of the plan, with the exact lines to set."""
    return _STEP_WORDS[step.kind](step)
