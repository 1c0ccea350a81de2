"""The fit and the carve-out comparison in words, for the CLI and the app alike."""

from __future__ import annotations

from vramtui.core.advice.actions import Advice
from vramtui.core.advice.recommend import GttAlternative, Recommendation
from vramtui.core.fit.fit import FitResult
from vramtui.core.fit.types import Reason
from vramtui.core.hardware.pools import MachineState
from vramtui.core.scenario.resolve import ResolvedScenario
from vramtui.core.sizes import format_bytes
from vramtui.core.vocab import (
    AdviceKind,
    Evidence,
    MachineKind,
    OsName,
    ReasonCode,
    Runtime,
    Verdict,
)
from vramtui.present.advice_words import backend_choice_brief, backend_choice_sentence
from vramtui.present.speed_words import decode_words
from vramtui.present.untrusted import plain


def carve_out_label(n_bytes: int) -> str:
    """A BIOS step as the BIOS shows it: "512 MB", "32 GB"."""
    return format_bytes(n_bytes, 0 if n_bytes >= 1024**3 else 1)


def setup_line(name: str, state: MachineState, fit: FitResult) -> str:
    """ "GLM-4.7-Flash on HP ZBook Ultra G1a, carve-out 512 MB, windows, vulkan (lmstudio),
    ctx 16384" """
    machine = state.machine
    carve = (
        f"carve-out {format_bytes(state.carve_out_bytes)}"
        if machine.carve_out_steps
        else "no carve-out"
    )
    return (
        f"{plain(name)} on {plain(machine.name)}, {carve}, {state.os}, {fit.backend} "
        f"({state.runtime}), ctx {fit.breakdown.n_ctx}"
    )


def gtt_alternative_sentence(alt: GttAlternative) -> str:
    """The Linux route of a small carve-out plus a large GTT, in one sentence."""
    speed = f", {decode_words(alt.fit.speed)}" if alt.fit.runs else ""
    return (
        f"Linux alternative: carve-out {format_bytes(alt.carve_out_bytes)} + GTT "
        f"{format_bytes(alt.gtt_bytes)} -> {alt.fit.verdict.label}{speed}; kernel parameters: "
        f"{alt.kernel_params}"
    )


def recommendation_sentence(rec: Recommendation) -> str:
    """The step to pick, in words that fit it: "recommended" only for a clean step."""
    if rec.recommended_index is None:
        return (
            "No carve-out step runs this model at these settings: try a smaller quant or context."
        )
    row = rec.rows[rec.recommended_index]
    step = carve_out_label(row.carve_out_bytes)
    if row.fit.verdict == Verdict.FITS:
        return f"★ recommended: {step}, it runs the model cleanly and leaves the OS the most RAM"
    return (
        f"★ best available: {step}, with warnings (no step runs this cleanly: a smaller quant "
        "or context would)"
    )


# Measured in the 2026-02-02 hands-on article "Carve-out VRAM is not unified memory" (HP ZBook
# Ultra G1a, Ryzen AI Max+ 395, 64 GB, Windows, LM Studio).
_ARTICLE_SPILL = (
    "Measured on a 64 GB Strix Halo laptop (2026-02-02 article): GLM-4.7-Flash spilling from a "
    "512 MB carve-out ran 17.26 tok/s, 42.89 tok/s once it fit a 32 GB one."
)
_ARTICLE_PITFALL = (
    "Seen on a 64 GB Strix Halo laptop (2026-02-02 article): Qwen3-VL-32B Q6_K (28.08 GB) loaded "
    "at a 32 GB carve-out but not at 48 GB, even with mmap and keep-in-memory off."
)


def evidence_note(evidence: Evidence) -> str | None:
    """How sure a reason is, where it is less than documented arithmetic or a measurement
    (core.fit.ram.reason_evidence decides)."""
    if evidence == Evidence.EXTRAPOLATED:
        return "(A rule seen in one measured case: applied here, it is an extrapolation.)"
    return None


def measured_evidence(reason: Reason, state: MachineState) -> str | None:
    """The published measurement behind a reason, quoted only where it is evidence: the same
    class of machine (Strix Halo) under the same OS (Windows)."""
    if state.machine.kind != MachineKind.STRIX_HALO or state.os != OsName.WINDOWS:
        return None
    if reason.code == ReasonCode.SPILLS_TO_SHARED:
        return _ARTICLE_SPILL
    if reason.code == ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM:
        return _ARTICLE_PITFALL
    return None


_ADVICE_ACTION = {
    AdviceKind.CONTEXT: "Shorten the context to {value}",
    AdviceKind.KV_CACHE: "Quantize the KV cache to {value}",
    AdviceKind.EXPERT_OFFLOAD: "Keep the experts of {value} layers in system RAM",
    AdviceKind.QUANT: "Use the {value} quant instead",
    AdviceKind.BACKEND: "Use the {value} backend instead",
    AdviceKind.CARVE_OUT: "Set the carve-out to {value} in the BIOS",
}


def advice_sentence(item: Advice) -> str:
    """ "Shorten the context to 18K (-c 18432): fits, 27.4 GiB of RAM left, 3.5–4.6 tok/s." """
    if item.backend_choice is not None:
        return backend_choice_sentence(item.backend_choice)
    action = _ADVICE_ACTION[item.kind].format(value=item.value)
    args = " ".join(plain(a) for a in item.args)
    fit = item.fit
    return (
        f"{action} ({args}): {fit.verdict.label}, {format_bytes(fit.system_ram_left_bytes)} of "
        f"RAM left, {decode_words(fit.speed)}."
    )


def advice_brief(item: Advice) -> str:
    """The app's banner line: the change and what it gives, without its flags (the copied
    command carries those). "Set the carve-out to 32 GiB in the BIOS: fits, 36–47 tok/s." """
    if item.backend_choice is not None:
        return backend_choice_brief(item.backend_choice)
    action = _ADVICE_ACTION[item.kind].format(value=item.value)
    fit = item.fit
    return f"{action}: {fit.verdict.label}, {decode_words(fit.speed)}."


def no_advice_sentence(fit: FitResult) -> str | None:
    """When nothing that was tried makes the answer better, say so (for answers that are not
    clean)."""
    if fit.verdict == Verdict.FITS:
        return None
    return "No single change tried (context, KV cache, quant, carve-out) makes this better."


def headroom_sentence(fit: FitResult) -> str:
    """For a clean answer: room to spare only where there is some (10 % of the GPU's memory)."""
    left = fit.gpu_left_bytes
    if fit.pools.gpu_total_bytes and left >= 0.10 * fit.pools.gpu_total_bytes:
        return f"Everything fits, with {format_bytes(left)} of GPU memory to spare."
    return "Everything fits."


def runtime_label(runtime: str) -> str:
    return Runtime(runtime).label


def os_label(os_name: str) -> str:
    return OsName(os_name).label


def reboot_sentence(resolved: ResolvedScenario) -> str:
    """For the machine vramtui runs on: is a reboot into the BIOS needed for this carve-out?"""
    current = resolved.current_carve_out_bytes
    wanted = resolved.state.carve_out_bytes
    if current is None:
        return ""
    if wanted == current:
        return f"This machine's carve-out is {carve_out_label(current)} now: no reboot needed."
    return (
        f"This machine's carve-out is {carve_out_label(current)} now: set "
        f"{carve_out_label(wanted)} in the BIOS and reboot."
    )
