"""A set of models loaded at once, in words: one line per model with its own share and its
speed alone and while the others generate (vramtui.core.fit.set), for the CLI and the app."""

from __future__ import annotations

from vramtui.core.fit.set import MemberShare, SetFit
from vramtui.core.sizes import format_bytes
from vramtui.present.advice_words import tps_words
from vramtui.present.untrusted import plain


def member_line(m: MemberShare, runs: bool) -> str:
    """ "Llama 3.1 8B (llama-3.1-8b:Q4_K_M): ctx 4096, GPU 5.2 GiB, host 0.4 GiB, 40 tok/s
    alone, 12-20 tok/s while the others generate" """
    text = (
        f"{plain(m.name)} ({plain(m.model_ref)}): ctx {m.breakdown.n_ctx}, "
        f"GPU {format_bytes(m.device_bytes)}"
    )
    if m.shared_bytes:
        text += f" ({format_bytes(m.shared_bytes)} in shared memory)"
    text += f", host {format_bytes(m.host_bytes)}"
    if runs:
        low, high = m.busy_decode_range
        text += f", {tps_words(m.speed.decode_tokens_per_second)} tok/s alone"
        if high > 0 and (low, high) != (m.speed.decode_tokens_per_second,) * 2:
            text += f", {tps_words(low)}-{tps_words(high)} tok/s while the others generate"
    return text


def set_lines(the_set: SetFit) -> list[str]:
    """The set, one model a line, headed by how many are loaded together."""
    runs = the_set.fit.runs
    head = f"  {len(the_set.members)} models loaded at the same time (each its own process):"
    return [head, *(f"    {member_line(m, runs)}" for m in the_set.members)]
