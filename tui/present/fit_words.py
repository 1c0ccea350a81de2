"""The fit and the carve-out comparison in words, for the CLI and the app alike."""

from __future__ import annotations

from tui.core.machine.fit import FitResult, MachineState, Reason
from tui.core.machine.recommend import GttAlternative, Recommendation
from tui.core.machine.resolve import ResolvedScenario
from tui.core.machine.speed import SpeedEstimate
from tui.core.sizes import format_bytes
from tui.core.vocab import OsName, Runtime
from tui.present.untrusted import plain


def sentence(text: str) -> str:
    """A message as a sentence: capital first letter."""
    return text[:1].upper() + text[1:]


def reason_sentence(reason: Reason) -> str:
    return sentence(reason.message)


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


def speed_sentence(speed: SpeedEstimate) -> str:
    calibrated = " [calibrated]" if speed.calibrated else ""
    return (
        f"expected: {speed.decode_tokens_per_second:.1f} tok/s decode, "
        f"{speed.prefill_tokens_per_second:.0f} tok/s prefill, first token after "
        f"{speed.time_to_first_token_s:.1f} s ({speed.prompt_tokens}-token prompt){calibrated}"
    )


def gtt_alternative_sentence(alt: GttAlternative) -> str:
    """The Linux route of a small carve-out plus a large GTT, in one sentence."""
    return (
        f"Linux alternative: carve-out {format_bytes(alt.carve_out_bytes)} + GTT "
        f"{format_bytes(alt.gtt_bytes)} -> {alt.fit.verdict.label}, "
        f"{alt.fit.speed.decode_tokens_per_second:.1f} tok/s; kernel parameters: "
        f"{alt.kernel_params}"
    )


def recommendation_sentence(rec: Recommendation) -> str:
    if rec.recommended_index is None:
        return "No carve-out step runs this model at these settings."
    row = rec.rows[rec.recommended_index]
    return (
        f"★ recommended: {carve_out_label(row.carve_out_bytes)}, it runs the model cleanly "
        "and leaves the OS the most RAM"
    )


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
