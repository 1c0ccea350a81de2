"""The streamed answer: the request each server kind gets, its SSE or NDJSON lines as events,
and the tally of those events turned into a result, with the server's own timings where it
gives them (llama.cpp `timings`, Ollama `eval_count`/`eval_duration`, LM Studio `stats`) and
the client's clock otherwise."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from vramtui.core.errors import ProbeError
from vramtui.core.probe.fields import as_float, as_int, rate
from vramtui.core.probe.http import one_line, parse_json
from vramtui.core.probe.results import MemoryEvidence, ProbeResult
from vramtui.core.vocab import ServerKind

# A fixed prompt, so runs are comparable across servers and days.
PROBE_PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
_FILLER = (
    "The quick brown fox jumps over the lazy dog while the farmer counts sheep in the green "
    "field beside the old stone bridge. "
)
_FILLER_TOKENS = 24  # roughly, for common BPE vocabularies; the server reports the real count


def build_prompt(prompt_tokens: int) -> str:
    """The fixed prompt, preceded by filler of about `prompt_tokens` tokens for a prefill test."""
    if prompt_tokens <= 0:
        return PROBE_PROMPT
    repeats = max(1, round(prompt_tokens / _FILLER_TOKENS))
    return _FILLER * repeats + "\n\n" + PROBE_PROMPT


def request_for(
    kind: ServerKind, model: str, prompt: str, max_tokens: int
) -> tuple[str, dict[str, Any]]:
    """The path and JSON body of the streamed request for this kind of server."""
    if kind == ServerKind.LLAMACPP:
        # llama-server's native /completion streams per-token chunks with `tokens` and puts
        # `timings` in the last one (tools/server/README.md). ignore_eos: a fixed token count;
        # cache_prompt off so the prefill is measured every time.
        return "/completion", {
            "model": model,
            "prompt": prompt,
            "n_predict": max_tokens,
            "stream": True,
            "ignore_eos": True,
            "cache_prompt": False,
        }
    messages = [{"role": "user", "content": prompt}]
    if kind == ServerKind.OLLAMA:
        # Ollama /api/chat streams NDJSON; the object with done=true carries eval_count,
        # eval_duration, prompt_eval_* and load_duration in ns (ollama docs/api.md).
        return "/api/chat", {
            "model": model,
            "messages": messages,
            "stream": True,
            "options": {"num_predict": max_tokens},
        }
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": max_tokens,
        "stream": True,
    }
    if kind == ServerKind.LMSTUDIO:
        # LM Studio's REST v0 adds `stats` (tokens_per_second, time_to_first_token ...).
        return "/api/v0/chat/completions", body
    body["stream_options"] = {"include_usage": True}
    return "/v1/chat/completions", body


# --------------------------------------------------------------------------- events


@dataclass
class Event:
    """One streamed line, as far as the probe cares."""

    text: str = ""
    n_tokens: int | None = None  # tokens carried by this chunk, when the server says
    n_total: int | None = None  # tokens generated so far, when the server says
    final: dict[str, Any] | None = None  # the chunk with the server's own numbers
    done: bool = False  # the server's end marker
    error: str | None = None


def _parse_json_line(url: str, payload: bytes) -> Any:
    try:
        return parse_json(payload)
    except ValueError:
        raise ProbeError(
            f"{url}: malformed stream (not JSON): {one_line(repr(payload[:60]))}"
        ) from None


def _sse_data(url: str, line: bytes) -> bytes | None:
    """The payload of an SSE `data:` line; comments, ids and blank lines -> None."""
    if not line or line.startswith(b":"):
        return None
    name, _, value = line.partition(b":")
    if name in {b"event", b"id", b"retry"}:
        return None
    if name != b"data":
        raise ProbeError(
            f"{url}: malformed stream (not server-sent events): {one_line(repr(line[:60]))}"
        )
    return value.strip()


def _llamacpp_chunk(data: dict[str, Any]) -> Event:
    """llama-server's /completion chunk. It holds back incomplete UTF-8, so one chunk can carry
    several tokens while `tokens` lists only some: `tokens_predicted` is the running count."""
    tokens = data.get("tokens")
    n = len(tokens) if isinstance(tokens, list) else None
    total = as_int(data.get("tokens_predicted"))
    content = data.get("content")
    text = content if isinstance(content, str) else ""
    if data.get("stop") is True:
        return Event(text=text, n_tokens=n, n_total=total, final=data, done=True)
    return Event(text=text, n_tokens=n, n_total=total)


def _chat_chunk(data: dict[str, Any]) -> Event:
    """An OpenAI-style chat completion chunk (choices[0].delta), with usage/timings/stats."""
    choices = data.get("choices")
    text = ""
    finished = False
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        delta = choices[0].get("delta")
        if isinstance(delta, dict):
            part = delta.get("content")
            reasoning = delta.get("reasoning_content")
            text = part if isinstance(part, str) else ""
            if not text and isinstance(reasoning, str):
                text = reasoning  # thinking models stream their reasoning first; still tokens
        finished = choices[0].get("finish_reason") is not None
    if any(isinstance(data.get(k), dict) for k in ("usage", "timings", "stats")):
        return Event(text=text, final=data)
    if finished:
        return Event(text=text, final={})
    return Event(text=text)


def sse_event(kind: ServerKind, url: str, line: bytes) -> Event | None:
    """One SSE line -> an event; comments, ids and blank lines -> None."""
    payload = _sse_data(url, line)
    if payload is None:
        return None
    if payload == b"[DONE]":
        return Event(done=True)
    data = _parse_json_line(url, payload)
    if not isinstance(data, dict):
        raise ProbeError(f"{url}: malformed stream (chunk is not an object)")
    if "error" in data:
        err = data["error"]
        msg = err.get("message", err) if isinstance(err, dict) else err
        return Event(error=one_line(str(msg)))
    if kind == ServerKind.LLAMACPP and "choices" not in data:
        return _llamacpp_chunk(data)
    return _chat_chunk(data)


def ndjson_event(url: str, line: bytes) -> Event | None:
    """One line of Ollama's NDJSON stream -> an event; blank lines -> None."""
    if not line.strip():
        return None
    data = _parse_json_line(url, line)
    if not isinstance(data, dict):
        raise ProbeError(f"{url}: malformed stream (line is not an object)")
    if "error" in data:
        return Event(error=one_line(str(data["error"])))
    message = data.get("message")
    text = ""
    if isinstance(message, dict):
        content = message.get("content")
        thinking = message.get("thinking")
        text = content if isinstance(content, str) else ""
        if not text and isinstance(thinking, str):
            text = thinking
    elif isinstance(data.get("response"), str):
        text = data["response"]
    if data.get("done") is True:
        return Event(text=text, final=data, done=True)
    return Event(text=text)


def parse_line(kind: ServerKind, url: str, line: bytes) -> Event | None:
    """One streamed line of this kind of server -> an event, or None for a line without one."""
    if kind == ServerKind.OLLAMA:
        return ndjson_event(url, line)
    return sse_event(kind, url, line)


# --------------------------------------------------------------------------- the tally


@dataclass
class Tally:
    """What the stream has told so far, on the client's clock (time.perf_counter)."""

    t_sent: float = 0.0
    t_first: float | None = None
    t_last: float | None = None
    chunks_with_text: int = 0
    tokens_seen: int = 0  # from the server's per-chunk token counts, where it gives them
    text: list[str] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    finished: bool = False  # the server said the answer is complete (finish/stop/done)
    done: bool = False

    @property
    def counted(self) -> int:
        """Tokens so far: the server's count where it gives one, else chunks with text."""
        return self.tokens_seen or self.chunks_with_text

    def add(self, event: Event, now: float) -> bool:
        """Count one event; True when it carried tokens (the first such one is the first token)."""
        more = event.n_total is not None and event.n_total > self.tokens_seen
        carried = bool(event.text or event.n_tokens or more)
        if carried:
            if self.t_first is None:
                self.t_first = now
            self.t_last = now
            if event.text:
                self.chunks_with_text += 1
                self.text.append(event.text)
            if event.n_total is not None:
                self.tokens_seen = max(self.tokens_seen, event.n_total)
            elif event.n_tokens:
                self.tokens_seen += event.n_tokens
        if event.final is not None:
            self.finished = True
            self.final.update(event.final)
        if event.done:
            self.done = True
        return carried

    def result(
        self, *, kind: ServerKind, url: str, model: str, memory: MemoryEvidence
    ) -> ProbeResult:
        """The measurement: the client's clock, then the server's own numbers where it gave them."""
        counted = self.counted
        result = ProbeResult(
            kind=kind,
            url=url,
            model=model,
            ttft_client_s=(self.t_first - self.t_sent) if self.t_first is not None else None,
            ttft_server_s=None,
            decode_tokens_per_second=None,
            prompt_tokens_per_second=None,
            tokens_generated=counted,
            prompt_tokens=None,
            server_timings={},
            memory=memory,
            text="".join(self.text),
            wall_s=(time.perf_counter() - self.t_sent) if self.t_sent else 0.0,
        )
        if self.t_first is not None and self.t_last is not None and counted > 1:
            span = self.t_last - self.t_first
            if span > 0:
                # The first token's time belongs to the prefill; the rest is decode.
                result.decode_tokens_per_second = (counted - 1) / span
                result.decode_source = "client"
        if self.finished:
            apply_timings(result, kind, self.final)
        discard_impossible(result)
        return result


# --------------------------------------------------------------------------- server timings


def _llamacpp_timings(result: ProbeResult, timings: dict[str, Any]) -> None:
    """llama.cpp's `timings` (on /completion and /v1/chat/completions), in ms."""
    result.server_timings["timings"] = timings
    tps = as_float(timings.get("predicted_per_second"))
    n = as_int(timings.get("predicted_n"))
    ms = as_float(timings.get("predicted_ms"))
    if tps is None and ms is not None:
        tps = rate(n, ms / 1000.0)
    if tps:
        result.decode_tokens_per_second = tps
        result.decode_source = "server"
    if n is not None:
        result.tokens_generated = n
    pn = as_int(timings.get("prompt_n"))
    pms = as_float(timings.get("prompt_ms"))
    pps = as_float(timings.get("prompt_per_second"))
    if pps is None and pms is not None:
        pps = rate(pn, pms / 1000.0)
    result.prompt_tokens_per_second = pps
    if pn is not None:
        result.prompt_tokens = pn + (as_int(timings.get("cache_n")) or 0)
    if pms is not None:
        result.ttft_server_s = pms / 1000.0


def _lmstudio_stats(result: ProbeResult, stats: dict[str, Any]) -> None:
    """LM Studio REST v0 `stats`: tokens_per_second, time_to_first_token (s)."""
    result.server_timings["stats"] = stats
    tps = as_float(stats.get("tokens_per_second"))
    if tps:
        result.decode_tokens_per_second = tps
        result.decode_source = "server"
    ttft = as_float(stats.get("time_to_first_token"))
    if ttft is not None:
        result.ttft_server_s = ttft


def _usage(result: ProbeResult, usage: dict[str, Any], has_timings: bool) -> None:
    """OpenAI `usage`: token counts only (llama.cpp's timings, when present, count better)."""
    result.server_timings["usage"] = usage
    ct = as_int(usage.get("completion_tokens"))
    if ct is not None and not has_timings:
        result.tokens_generated = ct
    pt = as_int(usage.get("prompt_tokens"))
    if pt is not None and result.prompt_tokens is None:
        result.prompt_tokens = pt


_OLLAMA_KEYS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
    "done_reason",
)


def _ollama_durations(result: ProbeResult, final: dict[str, Any]) -> None:
    """Ollama's final object; durations in nanoseconds (ollama docs/api.md, "Response")."""
    result.server_timings["ollama"] = {k: final[k] for k in _OLLAMA_KEYS if k in final}
    n = as_int(final.get("eval_count"))
    dur = as_int(final.get("eval_duration"))
    if n is not None:
        result.tokens_generated = n
    tps = rate(n, dur / 1e9) if dur is not None else None
    if tps:
        result.decode_tokens_per_second = tps
        result.decode_source = "server"
    pn = as_int(final.get("prompt_eval_count"))
    pdur = as_int(final.get("prompt_eval_duration"))
    if pn is not None:
        result.prompt_tokens = pn
    if pdur is not None and (pps := rate(pn, pdur / 1e9)):
        result.prompt_tokens_per_second = pps
    load = as_int(final.get("load_duration")) or 0
    if pdur is not None:
        result.ttft_server_s = (load + pdur) / 1e9


def apply_timings(result: ProbeResult, kind: ServerKind, final: dict[str, Any]) -> None:
    """Fill the result from the server's own numbers, where it gives them."""
    timings = final.get("timings")
    if isinstance(timings, dict):
        _llamacpp_timings(result, timings)
    stats = final.get("stats")
    if isinstance(stats, dict):
        _lmstudio_stats(result, stats)
    usage = final.get("usage")
    if isinstance(usage, dict):
        _usage(result, usage, has_timings=isinstance(timings, dict))
    if kind == ServerKind.OLLAMA and "eval_count" in final:
        _ollama_durations(result, final)


_MEASURES = (
    ("decode_tokens_per_second", "decode speed"),
    ("prompt_tokens_per_second", "prompt speed"),
    ("ttft_server_s", "server time to first token"),
    ("ttft_client_s", "client time to first token"),
    ("prompt_tokens", "prompt token count"),
)


def _possible(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float):
        return math.isfinite(value) and value >= 0
    return value >= 0


def discard_impossible(result: ProbeResult) -> None:
    """Drop measurements no server can have made (negative, NaN, infinite): each is shown as
    missing and saved as missing, with a note naming it, never used as a number."""
    for name, words in _MEASURES:
        value = getattr(result, name)
        if value is None:
            continue
        if not _possible(value):
            setattr(result, name, None)
            result.notes.append(f"the server reported an impossible {words} ({value!r}); discarded")
    if result.tokens_generated < 0:
        result.notes.append(
            f"the server reported {result.tokens_generated} tokens generated; discarded"
        )
        result.tokens_generated = 0
