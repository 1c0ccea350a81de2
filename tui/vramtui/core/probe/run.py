"""The probe itself: stream a short fixed prompt to a running llama.cpp server, LM Studio or
Ollama and measure time to first token, decode and prompt tokens/s, tokens generated and the
memory evidence the server or the OS gives.

Every wait has a deadline: connect, first token, and a total deadline that a slow-drip server
cannot escape. Cancelling the task that awaits `run_probe` closes the stream at once (the
connection is dropped, so the server frees its slot) and raises CancelledError as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from vramtui.core.detect.conditions import RunConditions, sample_conditions
from vramtui.core.errors import ProbeError
from vramtui.core.probe.evidence import memory_after, memory_before
from vramtui.core.probe.http import (
    MAX_ERROR_BYTES,
    error_text,
    is_loopback,
    lines,
    new_client,
    normalize_url,
    read_capped,
    status_error,
    transport_error,
)
from vramtui.core.probe.results import SERVER_KINDS, MemoryEvidence, ProbeResult, ProbeTimeouts
from vramtui.core.probe.servers import available_hint, model_to_probe, resolve_server
from vramtui.core.probe.stream import Tally, build_prompt, parse_line, request_for
from vramtui.core.probe.sysfs import DEFAULT_SYSFS_DRM, peak, read_amdgpu_memory
from vramtui.core.vocab import ServerKind

MAX_TOKENS_RANGE = (1, 8192)
PROMPT_TOKENS_RANGE = (0, 131072)


@dataclass(frozen=True)
class _Run:
    """One probe's fixed facts, handed to the steps below."""

    base: str
    kind: ServerKind
    prompt: str
    max_tokens: int
    timeouts: ProbeTimeouts
    total_deadline: float  # on the event loop's clock
    sysfs: Path
    on_text: Callable[[str], None] | None
    on_progress: Callable[[int], None] | None


def _check_arguments(kind: str, max_tokens: int, prompt_tokens: int) -> None:
    if kind not in SERVER_KINDS:
        raise ProbeError(f"unknown server kind {kind!r} (one of {', '.join(SERVER_KINDS)})")
    low, high = MAX_TOKENS_RANGE
    if not low <= max_tokens <= high:
        raise ProbeError(f"max tokens must be {low}..{high}, not {max_tokens}")
    low, high = PROMPT_TOKENS_RANGE
    if not low <= prompt_tokens <= high:
        raise ProbeError(f"prompt tokens must be {low}..{high}, not {prompt_tokens}")


async def run_probe(
    url: str,
    kind: ServerKind,
    model: str | None = None,
    *,
    max_tokens: int = 64,
    prompt_tokens: int = 0,
    timeouts: ProbeTimeouts | None = None,
    on_text: Callable[[str], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    api_key: str | None = None,
    sysfs_root: Path = DEFAULT_SYSFS_DRM,
    deadline: float | None = None,
) -> ProbeResult:
    """Stream the fixed prompt to the server at `url` and measure it.

    `deadline` (on the event loop's clock) ends the probe sooner than `timeouts.total` would:
    the total deadline of a command that asked other questions before this run.

    `on_text` gets each piece of streamed text as it arrives, `on_progress` the running token
    count (the server's per-chunk counts where it gives them, else chunks); both are called on
    the event loop, between reads. Raises ProbeError (one line naming the URL) for anything that
    fails.
    """
    _check_arguments(kind, max_tokens, prompt_tokens)
    t = timeouts or ProbeTimeouts()
    loop = asyncio.get_running_loop()
    total_deadline = loop.time() + t.total
    run = _Run(
        base=normalize_url(url),
        kind=ServerKind(kind),
        prompt=build_prompt(prompt_tokens),
        max_tokens=max_tokens,
        timeouts=t,
        # The total deadline covers everything, the questions before the run included.
        total_deadline=total_deadline if deadline is None else min(deadline, total_deadline),
        sysfs=sysfs_root,
        on_text=on_text,
        on_progress=on_progress,
    )
    async with new_client(t, run.base, api_key) as client:
        name, mem = await _prepare(client, run, model)
        conditions = await _conditions(run)
        tally = Tally()
        await _stream(client, run, name, tally, mem)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(min(loop.time() + t.request, run.total_deadline)):
                await memory_after(client, base=run.base, kind=run.kind, model=name, mem=mem, t=t)
    result = tally.result(kind=run.kind, url=run.base, model=name, memory=mem)
    result.conditions = conditions
    return result


async def _conditions(run: _Run) -> RunConditions | None:
    """How busy the machine is with the server idle, sampled just before the request (only
    when the server runs on this machine: a remote one's load is not readable here)."""
    if not is_loopback(run.base):
        return None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(run.total_deadline):
            return await sample_conditions()
    return None


async def measure_server(
    url: str | None,
    server: str,
    model: str | None = None,
    *,
    timeouts: ProbeTimeouts | None = None,
    max_tokens: int = 64,
    prompt_tokens: int = 0,
    api_key: str | None = None,
) -> ProbeResult:
    """Find the server (`resolve_server`: a URL or the default ports, its kind identified) and
    probe it, all within ONE total deadline of `timeouts.total` seconds: identifying, listing,
    the run and the memory read share it."""
    t = timeouts or ProbeTimeouts()
    deadline = asyncio.get_running_loop().time() + t.total
    try:
        async with asyncio.timeout_at(deadline):
            info = await resolve_server(url, server, t)
    except TimeoutError:
        where = normalize_url(url) if url else "the default ports"
        raise ProbeError(
            f"{where}: total time limit of {t.total:g} s reached while finding the server"
        ) from None
    return await run_probe(
        info.url,
        info.kind,
        model,
        max_tokens=max_tokens,
        prompt_tokens=prompt_tokens,
        timeouts=t,
        api_key=api_key,
        deadline=deadline,
    )


async def _prepare(
    client: httpx.AsyncClient, run: _Run, model: str | None
) -> tuple[str, MemoryEvidence]:
    """The model to measure (the loaded one unless named) and the memory evidence before."""
    try:
        async with asyncio.timeout_at(run.total_deadline):
            if model is None:
                model = await model_to_probe(client, run.base, run.kind, run.timeouts)
            mem = await memory_before(client, run.base, run.kind, run.timeouts, run.sysfs)
    except TimeoutError:
        raise ProbeError(
            f"{run.base}: total time limit of {run.timeouts.total:g} s reached before the run"
        ) from None
    return model, mem


async def _stream(
    client: httpx.AsyncClient, run: _Run, model: str, tally: Tally, mem: MemoryEvidence
) -> None:
    """Send the request and read the answer into `tally`, within the first-token deadline until
    the first token and the total deadline after it."""
    path, body = request_for(run.kind, model, run.prompt, run.max_tokens)
    url = run.base + path
    loop = asyncio.get_running_loop()
    tally.t_sent = time.perf_counter()
    first_deadline = min(loop.time() + run.timeouts.first_token, run.total_deadline)
    try:
        async with asyncio.timeout_at(first_deadline) as deadline:
            async with client.stream("POST", path, json=body) as response:
                if response.status_code != 200:
                    raise await _refusal(client, run, model, url, response)

                def first_token() -> None:
                    deadline.reschedule(run.total_deadline)
                    mem.amdgpu_during = read_amdgpu_memory(run.sysfs)

                await _read_events(run, url, response, tally, first_token)
                mem.amdgpu_during = peak(mem.amdgpu_during, read_amdgpu_memory(run.sysfs))
    except TimeoutError:
        if tally.t_first is None and first_deadline < run.total_deadline:
            raise ProbeError(
                f"{url}: no first token within {run.timeouts.first_token:g} s"
            ) from None
        raise ProbeError(
            f"{url}: total time limit of {run.timeouts.total:g} s reached "
            f"({tally.counted} tokens so far)"
        ) from None
    except httpx.HTTPError as err:
        raise transport_error(url, err, run.timeouts) from None
    if not tally.done and not tally.finished:
        raise ProbeError(
            f"{url}: stream cut mid-way (ended after {tally.chunks_with_text} chunks without "
            "the server's end marker)"
        )


async def _refusal(
    client: httpx.AsyncClient, run: _Run, model: str, url: str, response: httpx.Response
) -> ProbeError:
    """The error for a non-200 answer to the streamed request; a 404 lists the models there."""
    err_body = await read_capped(response, url, MAX_ERROR_BYTES)
    if response.status_code == 404:
        hint = await available_hint(client, run.base, run.kind, run.timeouts)
        return ProbeError(f"{url}: model {model!r} not found (404: {error_text(err_body)}){hint}")
    return status_error(url, response.status_code, err_body, response.headers)


async def _read_events(
    run: _Run, url: str, response: httpx.Response, tally: Tally, first_token: Callable[[], None]
) -> None:
    """Count each event of the stream into `tally` and hand its text and the running count to
    the callbacks, until the server's end marker or the end of the stream."""
    async for line in lines(response, url):
        event = parse_line(run.kind, url, line)
        if event is None:
            continue
        if event.error is not None:
            raise ProbeError(f"{url}: server error in stream: {event.error}")
        first = tally.t_first is None
        if tally.add(event, time.perf_counter()):
            if first:
                first_token()
            if event.text and run.on_text is not None:
                run.on_text(event.text)
            if run.on_progress is not None:
                run.on_progress(tally.counted)
        # A checkpoint per event: a cancellation asked for meanwhile (by a callback or another
        # task) lands here, before another line is read, even when the rest of the answer is
        # already buffered in the socket.
        await asyncio.sleep(0)
        if tally.done:
            break
