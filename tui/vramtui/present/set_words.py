"""A set of models loaded at once, in words: one line per model with its own share and its
speed alone and while the others generate (vramtui.core.fit.set), for the CLI and the app."""

from __future__ import annotations

from vramtui.core.advice.plan import PATH_PLACEHOLDER
from vramtui.core.advice.set_plan import SetPlan
from vramtui.core.fit.set import MemberShare, SetFit
from vramtui.core.sizes import format_bytes
from vramtui.core.vocab import OsName
from vramtui.present.plan_words import PATH_HINT, bios_sentence, platform_step_sentence
from vramtui.present.reasons import reason_text
from vramtui.present.speed_words import decode_words, span_words
from vramtui.present.untrusted import command, plain


def member_line(m: MemberShare, runs: bool) -> str:
    """ "Llama 3.1 8B (llama-3.1-8b:Q4_K_M): ctx 4096, GPU 5.2 GiB, host 0.4 GiB, 36–44 tok/s
    alone, 12–20 tok/s while the others generate" """
    text = (
        f"{plain(m.name)} ({plain(m.model_ref)}): ctx {m.breakdown.n_ctx}, "
        f"GPU {format_bytes(m.device_bytes)}"
    )
    if m.shared_bytes:
        text += f" ({format_bytes(m.shared_bytes)} in shared memory)"
    text += f", host {format_bytes(m.host_bytes)}"
    if runs:
        low, high = m.busy_decode_range
        text += f", {decode_words(m.speed)} alone"
        if high > 0 and (low, high) != (m.speed.decode_tokens_per_second,) * 2:
            text += f", {span_words(low, high, 'tok/s')} while the others generate"
    return text


def set_lines(the_set: SetFit) -> list[str]:
    """The set, one model a line, headed by how many are loaded together."""
    runs = the_set.fit.runs
    head = f"  {len(the_set.members)} models loaded at the same time (each its own process):"
    return [head, *(f"    {member_line(m, runs)}" for m in the_set.members)]


def set_plan_lines(plan: SetPlan) -> list[str]:
    """The set's plan: the carve-out, each model as it runs, and the commands."""
    if plan.carve_out_bytes is None:
        why = reason_text(plan.blocker) if plan.blocker is not None else ""
        where = "at any carve-out step" if plan.has_carve_out else "here"
        text = f"These {len(plan.asked)} models do not run together on {plain(plan.machine_name)}"
        text += f" {where}, even at smaller quants"
        return [text + (f": {why}." if why else ".")]
    out: list[str] = []
    fit = plan.set_fit.fit
    if plan.has_carve_out:
        current = plan.current_carve_out_bytes
        out.append(bios_sentence(plan.carve_out_bytes, current, plan.current_source))
    left = format_bytes(fit.system_ram_left_bytes)
    out.append(
        f"Run these {len(plan.refs)} models together: {fit.verdict.label}, "
        f"{left} left for {OsName(plan.os).label}."
    )
    for m, asked in zip(plan.set_fit.members, plan.asked, strict=True):
        swapped = ""
        if asked != m.model_ref:
            swapped = f" (instead of {plain(asked)}: the set runs no other way)"
        out.append(f"  {member_line(m, fit.runs)}{swapped}")
    out += ["", "llama.cpp (one server per model):"]
    out += [f"  {command(line)}" for line in plan.commands]
    if any(PATH_PLACEHOLDER in line for line in plan.commands):
        out.append(f"  {PATH_HINT}")
    out += ["llama-swap (config.yaml, the models run together):"]
    out += [f"  {command(line)}" for line in plan.llama_swap.splitlines()]
    if plan.platform:
        out += ["", "Platform:", *(f"  {platform_step_sentence(p)}" for p in plan.platform)]
    return out
