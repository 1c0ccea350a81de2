"""Advice beside the answer in words: expert offload, and the quant ladder's rows."""

from __future__ import annotations

from vramtui.core.advice.backend import BackendChoice
from vramtui.core.advice.moe_offload import N_CPU_MOE, ExpertOffload
from vramtui.core.advice.quants import QuantRow
from vramtui.core.estimate.flags import FLAGS, flag_args
from vramtui.core.sizes import format_file_size, short_tokens
from vramtui.present.reasons import reason_text
from vramtui.present.speed_words import decode_words, rate_span


def expert_offload_sentence(moe: ExpertOffload) -> str:
    """One line for the CLI, the app and the plan: the flag, its speed, the other way."""
    n = moe.n_cpu_moe
    words = " ".join(flag_args(FLAGS["n_cpu_moe"], n))  # as the llama-server line says it
    text = (
        f"Expert offload: {words} keeps the experts of the first {n} layers in "
        f"system RAM and the rest on the GPU: {decode_words(moe.fit.speed)}"
    )
    spill = moe.spill_decode_tps
    other = "spilling" if moe.spill.spilled_bytes else "fewer GPU layers"
    if spill is None:
        return text + f" (without it the model does not load: {other} is not enough)."
    mark = "faster" if moe.faster == N_CPU_MOE else "slower"
    return text + f", {mark} than {other} ({decode_words(moe.spill.speed)})."


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def _backend_figures(choice: BackendChoice) -> tuple[str, str]:
    """(what the other backend is faster for, both backends' figures side by side)."""
    cur = choice.current.value
    wins = []
    if choice.other_prefills_faster:
        wins.append("long prompts")
    if choice.other_decodes_faster:
        wins.append("decode")
    prompt = short_tokens(choice.long_prompt)
    spans = choice.decode_ranges or (None, None)
    now, then = (rate_span(v, r) for v, r in zip(choice.decode, spans, strict=True))
    figures = (
        f"a {prompt}-token prompt in {_seconds(choice.long_prefill_s[1])} "
        f"({cur} {_seconds(choice.long_prefill_s[0])}), decode {then} tok/s ({cur} {now})"
    )
    return " and ".join(wins), figures


def backend_choice_sentence(choice: BackendChoice) -> str:
    """ "Use rocm instead of vulkan (--backend rocm): faster for long prompts by the speed
    model: a 32K-token prompt in 25 s (vulkan 40 s), decode 58–98 tok/s (vulkan 54–117)." """
    cur, other = choice.current.value, choice.other.value
    wins, figures = _backend_figures(choice)
    return (
        f"Use {other} instead of {cur} (--backend {other}): faster for {wins} by "
        f"the speed model: {figures}."
    )


def backend_choice_brief(choice: BackendChoice) -> str:
    """The banner's line (no flags): "Use rocm instead of vulkan for long prompts: a 32K-token
    prompt in 25 s (vulkan 40 s), decode 58–98 tok/s (vulkan 54–117)." """
    wins, figures = _backend_figures(choice)
    return f"Use {choice.other.value} instead of {choice.current.value} for {wins}: {figures}."


def quant_messages(row: QuantRow) -> list[str]:
    """Why a quant got its verdict: the fit's reasons, or why its file was not read."""
    if row.fit is not None:
        return [reason_text(r) for r in row.fit.reasons]
    memory = format_file_size(row.machine_memory_bytes or 0)
    return [
        f"the file ({format_file_size(row.file_size_bytes)}) is larger than this machine's "
        f"memory ({memory}): not read"
    ]
