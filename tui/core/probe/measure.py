"""Quick inference probe: measure a running llama.cpp server, LM Studio or Ollama.

The probe streams a short fixed prompt and reports time to first token, decode and prompt
tokens/s, tokens generated and whatever memory evidence the server or the OS gives. It prefers
the server's own timings (llama.cpp `timings`, Ollama `eval_count`/`eval_duration`, LM Studio
`stats`) and falls back to what the client measured.

Safety: it talks only to the host in the URL it was given (no redirects followed, no proxies
from the environment), every read is bounded (bytes per line and in total), and every wait has a
deadline: connect, first token, and a total deadline that a slow-drip server cannot escape.
Cancellation (a `threading.Event`) closes the stream at once.

Pure + httpx: no textual import (the TUI and the CLI are two faces on these functions).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

from tui.core.errors import ProbeError
from tui.core.estimate.settings import RuntimeSettings
from tui.core.machine.fit import FitResult, MachineState, evaluate_fit
from tui.core.machine.presets import get_machine
from tui.core.model.source import open_model
from tui.core.probe.calibration import load_calibration
from tui.core.probe.results import (
    SERVER_KINDS,
    GpuMemorySample,
    MemoryEvidence,
    Prediction,
    ProbeResult,
    ProbeTimeouts,
    ServerInfo,
    ServerKind,
    ServerModel,
)
from tui.core.sizes import format_bytes

# Default ports of the servers (llama-server --port default, LM Studio's server, Ollama).
DEFAULT_PORTS: dict[ServerKind, int] = {"llamacpp": 8080, "lmstudio": 1234, "ollama": 11434}

# Bounded reads: a misbehaving server cannot make the probe allocate without limit.
MAX_LINE_BYTES = 1 << 20  # one SSE / NDJSON line
MAX_STREAM_BYTES = 32 << 20  # the whole streamed answer
MAX_JSON_BYTES = 8 << 20  # a model list, /props, /api/ps ...

# A fixed prompt, so runs are comparable across servers and days.
PROBE_PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
_FILLER = (
    "The quick brown fox jumps over the lazy dog while the farmer counts sheep in the green "
    "field beside the old stone bridge. "
)
_FILLER_TOKENS = 24  # roughly, for common BPE vocabularies; the server reports the real count

DEFAULT_SYSFS_DRM = Path("/sys/class/drm")


# --------------------------------------------------------------------------- URLs and errors


def normalize_url(url: str) -> str:
    """`host:port` or `http://host:port/` -> `http://host:port` (no path, no trailing slash)."""
    text = url.strip()
    if not text:
        raise ProbeError("no server URL given")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"}:
        raise ProbeError(f"{url}: only http:// and https:// servers can be probed")
    if not parts.hostname:
        raise ProbeError(f"{url}: no host in the URL")
    try:
        _ = parts.port
    except ValueError:
        raise ProbeError(f"{url}: bad port") from None
    path = parts.path.rstrip("/")
    # People paste the OpenAI base URL; the probe adds /v1 itself.
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def default_url(kind: ServerKind, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{DEFAULT_PORTS.get(kind, 8080)}"


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _error_text(body: bytes) -> str:
    """The server's error message from a JSON error body ({error: str|{message}}), else the text."""
    try:
        data = json.loads(body)
    except ValueError:
        return _one_line(body.decode("utf-8", "replace"))
    if isinstance(data, dict):
        err = data.get("error", data.get("message"))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err is not None:
            return _one_line(str(err))
    return _one_line(body.decode("utf-8", "replace"))


# --------------------------------------------------------------------------- HTTP plumbing


def _client(timeouts: ProbeTimeouts, base_url: str) -> httpx.AsyncClient:
    # trust_env=False: an HTTP(S)_PROXY in the environment must not carry the probe elsewhere.
    # follow_redirects=False: a redirect is reported, never followed (it may point off-host).
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(
            connect=timeouts.connect,
            read=timeouts.total,
            write=timeouts.connect,
            pool=timeouts.connect,
        ),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "vramtui-probe", "Accept-Encoding": "identity"},
    )


def _caused_by(err: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is in err's chain (httpx wraps the OS error two levels down)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _transport_error(url: str, err: Exception, timeouts: ProbeTimeouts) -> ProbeError:
    if isinstance(err, httpx.ConnectTimeout):
        return ProbeError(f"{url}: connect timeout after {timeouts.connect:g} s")
    if isinstance(err, httpx.ConnectError):
        if _caused_by(err, ConnectionRefusedError) or "refused" in str(err).lower():
            return ProbeError(f"{url}: connection refused (is the server running?)")
        return ProbeError(f"{url}: cannot connect: {_one_line(str(err)) or type(err).__name__}")
    if isinstance(err, httpx.ReadTimeout):
        return ProbeError(f"{url}: read timeout")
    if isinstance(err, httpx.RemoteProtocolError | httpx.ReadError):
        return ProbeError(
            f"{url}: stream cut mid-way ({_one_line(str(err)) or type(err).__name__})"
        )
    return ProbeError(f"{url}: {type(err).__name__}: {_one_line(str(err))}")


def _status_error(url: str, status: int, body: bytes, headers: httpx.Headers) -> ProbeError:
    if 300 <= status < 400:
        where = headers.get("location", "?")
        return ProbeError(f"{url}: answered a redirect ({status}) to {where}; not followed")
    if status in {401, 403}:
        return ProbeError(f"{url}: authentication required ({status}): {_error_text(body)}")
    return ProbeError(f"{url}: HTTP {status}: {_error_text(body)}")


async def _read_capped(response: httpx.Response, url: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > limit:
            raise ProbeError(f"{url}: answer larger than {limit >> 20} MiB; not read")
        chunks.append(chunk)
    return b"".join(chunks)


class _Unreachable(ProbeError):
    """Nothing answers at all (refused, connect timeout, no answer): asking another path of the
    same server is pointless."""


async def _get_json(
    client: httpx.AsyncClient, base: str, path: str, timeouts: ProbeTimeouts
) -> Any:
    """GET base+path and parse JSON, within `timeouts.request` seconds and MAX_JSON_BYTES."""
    url = base + path
    try:
        async with asyncio.timeout(timeouts.request):
            async with client.stream("GET", path) as response:
                body = await _read_capped(response, url, MAX_JSON_BYTES)
                if response.status_code != 200:
                    raise _status_error(url, response.status_code, body, response.headers)
    except TimeoutError:
        raise _Unreachable(f"{url}: no answer within {timeouts.request:g} s") from None
    except httpx.HTTPError as err:
        problem = _transport_error(url, err, timeouts)
        if isinstance(err, httpx.ConnectError | httpx.ConnectTimeout):
            raise _Unreachable(str(problem)) from None
        raise problem from None
    try:
        return json.loads(body)
    except ValueError:
        raise ProbeError(f"{url}: answer is not JSON: {_one_line(repr(body[:80]))}") from None


async def _lines(response: httpx.Response, url: str) -> AsyncIterator[bytes]:
    """Split a streamed body into lines, refusing any line or total larger than the caps."""
    buf = b""
    total = 0
    async for chunk in response.aiter_raw():
        total += len(chunk)
        if total > MAX_STREAM_BYTES:
            raise ProbeError(f"{url}: streamed answer larger than {MAX_STREAM_BYTES >> 20} MiB")
        buf += chunk
        while True:
            cut = buf.find(b"\n")
            if cut < 0:
                break
            line, buf = buf[:cut], buf[cut + 1 :]
            yield line.rstrip(b"\r")
        if len(buf) > MAX_LINE_BYTES:
            raise ProbeError(f"{url}: a streamed line is longer than {MAX_LINE_BYTES >> 20} MiB")
    if buf.strip():
        yield buf.rstrip(b"\r")


# --------------------------------------------------------------------------- model lists


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _openai_models(data: Any) -> list[ServerModel]:
    items = data.get("data") if isinstance(data, dict) else None
    models: list[ServerModel] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        meta_value = item.get("meta")
        meta: dict[str, Any] = meta_value if isinstance(meta_value, dict) else {}
        status = item.get("status")
        loaded = True
        if isinstance(status, dict) and isinstance(status.get("value"), str):
            loaded = status["value"] == "loaded"  # llama-server router mode
        models.append(
            ServerModel(
                name=item["id"],
                loaded=loaded,
                size_bytes=_int(meta.get("size")),
                context_length=_int(meta.get("n_ctx")) or _int(meta.get("n_ctx_train")),
                details={k: v for k, v in meta.items() if isinstance(v, int | float | str)},
            )
        )
    return models


def _lmstudio_models(data: Any) -> list[ServerModel]:
    """LM Studio GET /api/v0/models: data[] with id, type, state loaded/not-loaded,
    max_context_length (lmstudio-ai/docs 1_developer/2_rest/endpoints.mdx)."""
    items = data.get("data") if isinstance(data, dict) else None
    models: list[ServerModel] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        if item.get("type") == "embeddings":
            continue
        models.append(
            ServerModel(
                name=item["id"],
                loaded=item.get("state") == "loaded",
                context_length=_int(item.get("max_context_length")),
                details={
                    k: item[k]
                    for k in ("type", "arch", "quantization", "compatibility_type", "publisher")
                    if isinstance(item.get(k), str)
                },
            )
        )
    return models


def _ollama_models(tags: Any, ps: Any) -> list[ServerModel]:
    """Ollama GET /api/tags (models[]: name, size) and GET /api/ps (models[]: name, size,
    size_vram, context_length) - ollama docs/api.md."""
    running: dict[str, dict[str, Any]] = {}
    for item in ps.get("models", []) if isinstance(ps, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            running[item["name"]] = item
    models: list[ServerModel] = []
    seen: set[str] = set()
    for item in tags.get("models", []) if isinstance(tags, dict) else []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        seen.add(name)
        run = running.get(name)
        details_value = item.get("details")
        details: dict[str, Any] = details_value if isinstance(details_value, dict) else {}
        models.append(
            ServerModel(
                name=name,
                loaded=run is not None,
                size_bytes=_int((run or item).get("size")),
                vram_bytes=_int(run.get("size_vram")) if run else None,
                context_length=_int(run.get("context_length")) if run else None,
                details={k: v for k, v in details.items() if isinstance(v, str)},
            )
        )
    for name, run in running.items():
        if name not in seen:
            models.append(
                ServerModel(
                    name=name,
                    loaded=True,
                    size_bytes=_int(run.get("size")),
                    vram_bytes=_int(run.get("size_vram")),
                    context_length=_int(run.get("context_length")),
                )
            )
    return models


def _loaded_first(models: list[ServerModel]) -> list[ServerModel]:
    return sorted(models, key=lambda m: (not m.loaded, m.name))


async def _list_models(
    client: httpx.AsyncClient, base: str, kind: ServerKind, timeouts: ProbeTimeouts
) -> list[ServerModel]:
    if kind == "ollama":
        tags = await _get_json(client, base, "/api/tags", timeouts)
        try:
            ps = await _get_json(client, base, "/api/ps", timeouts)
        except ProbeError:
            ps = {}
        return _loaded_first(_ollama_models(tags, ps))
    if kind == "lmstudio":
        try:
            return _loaded_first(
                _lmstudio_models(await _get_json(client, base, "/api/v0/models", timeouts))
            )
        except ProbeError:
            pass  # an LM Studio too old for the v0 REST API: the OpenAI list still works
    return _loaded_first(_openai_models(await _get_json(client, base, "/v1/models", timeouts)))


async def _identify(client: httpx.AsyncClient, base: str, timeouts: ProbeTimeouts) -> ServerKind:
    """Which server answers at `base`: each answers a path only it has, in a shape only it has."""

    def has_list(key: str) -> Callable[[Any], bool]:
        return lambda d: isinstance(d, dict) and isinstance(d.get(key), list)

    def is_llamacpp(d: Any) -> bool:
        return isinstance(d, dict) and ("default_generation_settings" in d or "build_info" in d)

    probes: tuple[tuple[str, ServerKind, Callable[[Any], bool]], ...] = (
        ("/props", "llamacpp", is_llamacpp),
        ("/api/tags", "ollama", has_list("models")),
        ("/api/v0/models", "lmstudio", has_list("data")),
        ("/v1/models", "openai", has_list("data")),
    )
    last: ProbeError | None = None
    for path, kind, looks_right in probes:
        try:
            if looks_right(await _get_json(client, base, path, timeouts)):
                return kind
        except _Unreachable:
            raise
        except ProbeError as err:
            last = err
    if last is not None and "authentication required" in str(last):
        raise last
    raise ProbeError(f"{base}: not a llama.cpp, LM Studio, Ollama or OpenAI-compatible server")


async def _server_info(base: str, kind: ServerKind | None, timeouts: ProbeTimeouts) -> ServerInfo:
    async with _client(timeouts, base) as client:
        found = kind or await _identify(client, base, timeouts)
        return ServerInfo(found, base, await _list_models(client, base, found, timeouts))


def _run_sync(coro_factory: Callable[[], Any]) -> Any:
    """Run a coroutine from sync code, also when the caller's thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro_factory())
        except BaseException as err:  # re-raised in the caller's thread
            box["error"] = err

    worker = threading.Thread(target=target, name="vramtui-probe", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def server_info(
    url: str, kind: ServerKind | None = None, timeouts: ProbeTimeouts | None = None
) -> ServerInfo:
    """Identify the server at `url` (unless `kind` is given) and list its models, loaded first."""
    base = normalize_url(url)
    t = timeouts or ProbeTimeouts()
    return cast(ServerInfo, _run_sync(lambda: _server_info(base, kind, t)))


def detect_servers(
    host: str = "127.0.0.1", timeout: float = 1.5, ports: dict[ServerKind, int] | None = None
) -> list[ServerInfo]:
    """Look for servers at the default ports on `host`, concurrently; skip what does not answer."""
    t = ProbeTimeouts(connect=timeout, first_token=timeout, total=timeout, request=timeout)
    wanted = ports or DEFAULT_PORTS

    async def one(port: int) -> ServerInfo | None:
        base = f"http://{host}:{port}"
        try:
            # The port suggests the kind, the answer decides it (LM Studio may serve on 8080 ...).
            async with _client(t, base) as client:
                found = await _identify(client, base, t)
                return ServerInfo(found, base, await _list_models(client, base, found, t))
        except ProbeError:
            return None
        except httpx.HTTPError:
            return None

    async def all_() -> list[ServerInfo]:
        found = await asyncio.gather(*(one(p) for p in wanted.values()))
        servers = [info for info in found if info is not None]
        # Servers with a model loaded first (a stable sort keeps the default-port order).
        return sorted(servers, key=lambda s: not any(m.loaded for m in s.models))

    return cast(list[ServerInfo], _run_sync(all_))


# --------------------------------------------------------------------------- amdgpu sysfs


def read_amdgpu_memory(root: Path = DEFAULT_SYSFS_DRM) -> list[GpuMemorySample]:
    """amdgpu's counters: /sys/class/drm/card*/device/mem_info_{vram,gtt}_{used,total} (bytes).

    Cards without the files (not amdgpu, or not Linux) are skipped; no card -> [].
    """
    samples: list[GpuMemorySample] = []
    try:
        cards = sorted(p for p in root.glob("card*") if p.name[4:].isdigit())
    except OSError:
        return samples

    def read(path: Path) -> int | None:
        try:
            return int(path.read_text(encoding="ascii").strip()[:32])
        except (OSError, ValueError):
            return None

    for card in cards:
        dev = card / "device"
        values = {
            name: read(dev / f"mem_info_{name}")
            for name in ("vram_used", "vram_total", "gtt_used", "gtt_total")
        }
        if all(v is None for v in values.values()):
            continue
        samples.append(GpuMemorySample(card=card.name, **values))
    return samples


def _peak(a: list[GpuMemorySample], b: list[GpuMemorySample]) -> list[GpuMemorySample]:
    if not a:
        return b
    if not b:
        return a
    return b if sum(s.used for s in b) > sum(s.used for s in a) else a


# --------------------------------------------------------------------------- the probe


def build_prompt(prompt_tokens: int) -> str:
    """The fixed prompt, preceded by filler of about `prompt_tokens` tokens for a prefill test."""
    if prompt_tokens <= 0:
        return PROBE_PROMPT
    repeats = max(1, round(prompt_tokens / _FILLER_TOKENS))
    return _FILLER * repeats + "\n\n" + PROBE_PROMPT


@dataclass
class _Acc:
    """What the stream has told so far; survives a cancellation to build a partial result."""

    t_sent: float = 0.0
    t_first: float | None = None
    t_last: float | None = None
    chunks_with_text: int = 0
    tokens_seen: int = 0  # from the server's per-chunk token counts, where it gives them
    text: list[str] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    finished: bool = False  # the server said the answer is complete (finish/stop/done)
    done: bool = False


@dataclass
class _Event:
    text: str = ""
    n_tokens: int | None = None  # tokens carried by this chunk, when the server says
    n_total: int | None = None  # tokens generated so far, when the server says
    final: dict[str, Any] | None = None
    done: bool = False
    error: str | None = None


def _request(
    kind: ServerKind, model: str, prompt: str, max_tokens: int
) -> tuple[str, dict[str, Any]]:
    if kind == "llamacpp":
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
    if kind == "ollama":
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
    if kind == "lmstudio":
        # LM Studio's REST v0 adds `stats` (tokens_per_second, time_to_first_token ...).
        return "/api/v0/chat/completions", body
    body["stream_options"] = {"include_usage": True}
    return "/v1/chat/completions", body


def _parse_json_line(url: str, payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        raise ProbeError(
            f"{url}: malformed stream (not JSON): {_one_line(repr(payload[:60]))}"
        ) from None


def _sse_event(kind: ServerKind, url: str, line: bytes) -> _Event | None:
    """One SSE line -> an event; comments, ids and blank lines -> None."""
    if not line or line.startswith(b":"):
        return None
    name, _, value = line.partition(b":")
    if name in {b"event", b"id", b"retry"}:
        return None
    if name != b"data":
        raise ProbeError(
            f"{url}: malformed stream (not server-sent events): {_one_line(repr(line[:60]))}"
        )
    payload = value.strip()
    if payload == b"[DONE]":
        return _Event(done=True)
    data = _parse_json_line(url, payload)
    if not isinstance(data, dict):
        raise ProbeError(f"{url}: malformed stream (chunk is not an object)")
    if "error" in data:
        err = data["error"]
        msg = err.get("message", err) if isinstance(err, dict) else err
        return _Event(error=_one_line(str(msg)))
    if kind == "llamacpp" and "choices" not in data:
        # llama-server holds back incomplete UTF-8, so one chunk can carry several tokens while
        # `tokens` lists only some: `tokens_predicted` is the running count.
        tokens = data.get("tokens")
        n = len(tokens) if isinstance(tokens, list) else None
        total = _int(data.get("tokens_predicted"))
        content = data.get("content")
        text = content if isinstance(content, str) else ""
        if data.get("stop") is True:
            return _Event(text=text, n_tokens=n, n_total=total, final=data, done=True)
        return _Event(text=text, n_tokens=n, n_total=total)
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
        return _Event(text=text, final=data)
    if finished:
        return _Event(text=text, final={})
    return _Event(text=text)


def _ndjson_event(url: str, line: bytes) -> _Event | None:
    if not line.strip():
        return None
    data = _parse_json_line(url, line)
    if not isinstance(data, dict):
        raise ProbeError(f"{url}: malformed stream (line is not an object)")
    if "error" in data:
        return _Event(error=_one_line(str(data["error"])))
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
        return _Event(text=text, final=data, done=True)
    return _Event(text=text)


def _apply_timings(result: ProbeResult, kind: ServerKind, final: dict[str, Any]) -> None:
    """Fill the result from the server's own numbers, where it gives them."""
    timings = final.get("timings")
    if isinstance(timings, dict):  # llama.cpp: /completion and /v1/chat/completions
        result.server_timings["timings"] = timings
        tps = _float(timings.get("predicted_per_second"))
        n = _int(timings.get("predicted_n"))
        ms = _float(timings.get("predicted_ms"))
        if tps is None and n and ms:
            tps = n / (ms / 1000.0)
        if tps:
            result.decode_tokens_per_second = tps
            result.decode_source = "server"
        if n is not None:
            result.tokens_generated = n
        pn = _int(timings.get("prompt_n"))
        pms = _float(timings.get("prompt_ms"))
        pps = _float(timings.get("prompt_per_second"))
        if pps is None and pn and pms:
            pps = pn / (pms / 1000.0)
        result.prompt_tokens_per_second = pps
        if pn is not None:
            result.prompt_tokens = pn + (_int(timings.get("cache_n")) or 0)
        if pms is not None:
            result.ttft_server_s = pms / 1000.0
    stats = final.get("stats")
    if isinstance(stats, dict):  # LM Studio REST v0
        result.server_timings["stats"] = stats
        tps = _float(stats.get("tokens_per_second"))
        if tps:
            result.decode_tokens_per_second = tps
            result.decode_source = "server"
        ttft = _float(stats.get("time_to_first_token"))
        if ttft is not None:
            result.ttft_server_s = ttft
    usage = final.get("usage")
    if isinstance(usage, dict):
        result.server_timings["usage"] = usage
        ct = _int(usage.get("completion_tokens"))
        if ct is not None and not isinstance(timings, dict):
            result.tokens_generated = ct
        pt = _int(usage.get("prompt_tokens"))
        if pt is not None and result.prompt_tokens is None:
            result.prompt_tokens = pt
    if kind == "ollama" and "eval_count" in final:
        # Durations in nanoseconds (ollama docs/api.md, "Response" of /api/generate).
        keys = (
            "total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
            "eval_count", "eval_duration", "done_reason",
        )  # fmt: skip
        result.server_timings["ollama"] = {k: final[k] for k in keys if k in final}
        n = _int(final.get("eval_count"))
        dur = _int(final.get("eval_duration"))
        if n is not None:
            result.tokens_generated = n
        if n and dur:
            result.decode_tokens_per_second = n / (dur / 1e9)
            result.decode_source = "server"
        pn = _int(final.get("prompt_eval_count"))
        pdur = _int(final.get("prompt_eval_duration"))
        if pn is not None:
            result.prompt_tokens = pn
        if pn and pdur:
            result.prompt_tokens_per_second = pn / (pdur / 1e9)
        load = _int(final.get("load_duration")) or 0
        if pdur is not None:
            result.ttft_server_s = (load + pdur) / 1e9


def _result_from(
    acc: _Acc, *, kind: ServerKind, url: str, model: str, memory: MemoryEvidence, cancelled: bool
) -> ProbeResult:
    counted = acc.tokens_seen or acc.chunks_with_text
    result = ProbeResult(
        kind=kind,
        url=url,
        model=model,
        ttft_client_s=(acc.t_first - acc.t_sent) if acc.t_first is not None else None,
        ttft_server_s=None,
        decode_tokens_per_second=None,
        prompt_tokens_per_second=None,
        tokens_generated=counted,
        prompt_tokens=None,
        server_timings={},
        memory=memory,
        cancelled=cancelled,
        text="".join(acc.text),
        wall_s=(time.perf_counter() - acc.t_sent) if acc.t_sent else 0.0,
    )
    if acc.t_first is not None and acc.t_last is not None and counted > 1:
        span = acc.t_last - acc.t_first
        if span > 0:
            # The first token's time belongs to the prefill; the rest is decode.
            result.decode_tokens_per_second = (counted - 1) / span
            result.decode_source = "client"
    if acc.finished and not cancelled:
        _apply_timings(result, kind, acc.final)
    return result


async def _choose_model(
    client: httpx.AsyncClient, base: str, kind: ServerKind, timeouts: ProbeTimeouts
) -> str:
    models = await _list_models(client, base, kind, timeouts)
    if not models:
        raise ProbeError(f"{base}: the server lists no models; pass --model")
    chosen = models[0]
    if kind == "lmstudio" and not chosen.loaded:
        names = ", ".join(m.name for m in models[:8])
        raise ProbeError(f"{base}: no model is loaded; pass --model (available: {names})")
    return chosen.name


async def _available(
    client: httpx.AsyncClient, base: str, kind: ServerKind, t: ProbeTimeouts
) -> str:
    try:
        names = [m.name for m in await _list_models(client, base, kind, t)]
    except ProbeError:
        return ""
    if not names:
        return ""
    more = f" (+{len(names) - 10} more)" if len(names) > 10 else ""
    return f"; available: {', '.join(names[:10])}{more}"


async def _memory_before(
    client: httpx.AsyncClient, base: str, kind: ServerKind, t: ProbeTimeouts, sysfs: Path
) -> MemoryEvidence:
    mem = MemoryEvidence(amdgpu_before=read_amdgpu_memory(sysfs))
    if kind != "llamacpp":
        return mem
    try:
        props = await _get_json(client, base, "/props", t)
    except _Unreachable:
        return mem  # the run itself will say what is wrong, once
    except ProbeError:
        props = None
    if isinstance(props, dict):
        dgs = props.get("default_generation_settings")
        n_ctx = _int(props.get("n_ctx"))
        if n_ctx is None and isinstance(dgs, dict):
            n_ctx = _int(dgs.get("n_ctx"))
        mem.n_ctx = n_ctx
        mem.total_slots = _int(props.get("total_slots"))
        if isinstance(props.get("model_path"), str):
            mem.model_path = props["model_path"]
    with contextlib.suppress(ProbeError):  # /slots may be turned off (--no-slots)
        slots = await _get_json(client, base, "/slots", t)
        if isinstance(slots, list):
            mem.slots_n_ctx = [
                n for s in slots if isinstance(s, dict) and (n := _int(s.get("n_ctx")))
            ]
            if mem.n_ctx is None and mem.slots_n_ctx:
                mem.n_ctx = mem.slots_n_ctx[0]
    return mem


async def _memory_after(
    client: httpx.AsyncClient,
    *, base: str, kind: ServerKind, model: str, mem: MemoryEvidence,
    t: ProbeTimeouts,
) -> None:  # fmt: skip
    if kind != "ollama":
        return
    with contextlib.suppress(ProbeError):
        ps = await _get_json(client, base, "/api/ps", t)
        for item in ps.get("models", []) if isinstance(ps, dict) else []:
            if not isinstance(item, dict):
                continue
            if model in {item.get("name"), item.get("model")}:
                mem.ollama_size_bytes = _int(item.get("size"))
                mem.ollama_vram_bytes = _int(item.get("size_vram"))
                mem.ollama_context_length = _int(item.get("context_length"))


async def _probe(
    base: str,
    *,
    kind: ServerKind,
    model: str | None,
    max_tokens: int,
    prompt_tokens: int,
    timeouts: ProbeTimeouts,
    on_text: Callable[[str], None] | None,
    on_progress: Callable[[int], None] | None,
    cancel: threading.Event | None,
    api_key: str | None,
    sysfs: Path,
    acc: _Acc,
    state: dict[str, Any],
) -> ProbeResult:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    loop = asyncio.get_running_loop()
    # The total deadline covers everything, the questions before the run included.
    total_deadline = loop.time() + timeouts.total
    async with _client(timeouts, base) as client:
        client.headers.update(headers)
        try:
            async with asyncio.timeout_at(total_deadline):
                if model is None:
                    model = await _choose_model(client, base, kind, timeouts)
                state["model"] = model
                mem = await _memory_before(client, base, kind, timeouts, sysfs)
        except TimeoutError:
            raise ProbeError(
                f"{base}: total time limit of {timeouts.total:g} s reached before the run"
            ) from None
        state["memory"] = mem
        path, body = _request(kind, model, build_prompt(prompt_tokens), max_tokens)
        url = base + path
        acc.t_sent = time.perf_counter()
        first_deadline = min(loop.time() + timeouts.first_token, total_deadline)
        try:
            async with asyncio.timeout_at(first_deadline) as deadline:
                async with client.stream("POST", path, json=body) as response:
                    if response.status_code != 200:
                        err_body = await _read_capped(response, url, 64 << 10)
                        if response.status_code == 404:
                            hint = await _available(client, base, kind, timeouts)
                            raise ProbeError(
                                f"{url}: model {model!r} not found (404: "
                                f"{_error_text(err_body)}){hint}"
                            )
                        raise _status_error(url, response.status_code, err_body, response.headers)
                    async for line in _lines(response, url):
                        event = (
                            _ndjson_event(url, line)
                            if kind == "ollama"
                            else _sse_event(kind, url, line)
                        )
                        if event is None:
                            continue
                        if event.error is not None:
                            raise ProbeError(f"{url}: server error in stream: {event.error}")
                        now = time.perf_counter()
                        more = event.n_total is not None and event.n_total > acc.tokens_seen
                        if event.text or event.n_tokens or more:
                            if acc.t_first is None:
                                acc.t_first = now
                                deadline.reschedule(total_deadline)
                                mem.amdgpu_during = read_amdgpu_memory(sysfs)
                            acc.t_last = now
                            if event.text:
                                acc.chunks_with_text += 1
                                acc.text.append(event.text)
                                if on_text is not None:
                                    on_text(event.text)
                            if event.n_total is not None:
                                acc.tokens_seen = max(acc.tokens_seen, event.n_total)
                            elif event.n_tokens:
                                acc.tokens_seen += event.n_tokens
                            if on_progress is not None:
                                on_progress(acc.tokens_seen or acc.chunks_with_text)
                        if cancel is not None and cancel.is_set():
                            # Checked per chunk too: a stream already buffered in the socket
                            # must not run on until the watcher task gets its turn.
                            raise asyncio.CancelledError
                        if event.final is not None:
                            acc.finished = True
                            acc.final.update(event.final)
                        if event.done:
                            acc.done = True
                            break
                    mem.amdgpu_during = _peak(mem.amdgpu_during, read_amdgpu_memory(sysfs))
        except TimeoutError:
            if acc.t_first is None and first_deadline < total_deadline:
                raise ProbeError(
                    f"{url}: no first token within {timeouts.first_token:g} s"
                ) from None
            raise ProbeError(
                f"{url}: total time limit of {timeouts.total:g} s reached "
                f"({acc.tokens_seen or acc.chunks_with_text} tokens so far)"
            ) from None
        except httpx.HTTPError as err:
            raise _transport_error(url, err, timeouts) from None
        if not acc.done and not acc.finished:
            raise ProbeError(
                f"{url}: stream cut mid-way (ended after {acc.chunks_with_text} chunks without "
                "the server's end marker)"
            )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeouts.request):
                await _memory_after(client, base=base, kind=kind, model=model, mem=mem, t=timeouts)
    return _result_from(acc, kind=kind, url=base, model=model, memory=mem, cancelled=False)


def run_probe(
    url: str,
    kind: ServerKind,
    model: str | None = None,
    *,
    max_tokens: int = 64,
    prompt_tokens: int = 0,
    timeouts: ProbeTimeouts | None = None,
    on_text: Callable[[str], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    api_key: str | None = None,
    sysfs_root: Path = DEFAULT_SYSFS_DRM,
) -> ProbeResult:
    """Stream the fixed prompt to the server at `url` and measure it.

    `on_text` gets each piece of streamed text as it arrives, `on_progress` the running token
    count (the server's per-chunk counts where it gives them, else chunks); both are called in
    the probe's thread.
    Setting `cancel` closes the stream at once; the result then has `cancelled=True` and what
    was counted so far. Raises ProbeError (one line naming the URL) for anything that fails.
    """
    if kind not in SERVER_KINDS:
        raise ProbeError(f"unknown server kind {kind!r} (one of {', '.join(SERVER_KINDS)})")
    if not 1 <= max_tokens <= 8192:
        raise ProbeError(f"max tokens must be 1..8192, not {max_tokens}")
    if not 0 <= prompt_tokens <= 131072:
        raise ProbeError(f"prompt tokens must be 0..131072, not {prompt_tokens}")
    base = normalize_url(url)
    t = timeouts or ProbeTimeouts()
    acc = _Acc()
    state: dict[str, Any] = {}

    async def main() -> ProbeResult:
        task = asyncio.ensure_future(
            _probe(
                base,
                kind=kind,
                model=model,
                max_tokens=max_tokens,
                prompt_tokens=prompt_tokens,
                timeouts=t,
                on_text=on_text,
                on_progress=on_progress,
                cancel=cancel,
                api_key=api_key,
                sysfs=sysfs_root,
                acc=acc,
                state=state,
            )
        )
        if cancel is None:
            return await task

        async def watch() -> None:
            while not cancel.is_set():
                await asyncio.sleep(0.02)
            task.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            return await task
        except asyncio.CancelledError:
            if not cancel.is_set():
                raise
            mem = state.get("memory") or MemoryEvidence()
            name = state.get("model") or model or ""
            return _result_from(acc, kind=kind, url=base, model=name, memory=mem, cancelled=True)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    if cancel is not None and cancel.is_set():
        return _result_from(
            acc, kind=kind, url=base, model=model or "", memory=MemoryEvidence(), cancelled=True
        )
    return cast(ProbeResult, _run_sync(main))


def resolve_server(
    url: str | None, server: str, timeouts: ProbeTimeouts | None = None, host: str = "127.0.0.1"
) -> ServerInfo:
    """The CLI's `--url/--server` pair -> one server: `auto` identifies it (or finds one on the
    default ports when no URL is given)."""
    t = timeouts or ProbeTimeouts()
    if server not in {"auto", *SERVER_KINDS}:
        raise ProbeError(f"unknown server kind {server!r} (auto, {', '.join(SERVER_KINDS)})")
    if url is None:
        if server != "auto":
            kind = cast(ServerKind, server)
            return server_info(default_url(kind, host), kind, t)
        found = detect_servers(host, timeout=min(t.connect, 2.0))
        if not found:
            ports = ", ".join(f"{k} {p}" for k, p in DEFAULT_PORTS.items())
            raise ProbeError(
                f"no server found on {host} at the default ports ({ports}); pass --url"
            )
        return found[0]
    return server_info(url, None if server == "auto" else cast(ServerKind, server), t)


def first_loaded(models: Iterable[ServerModel]) -> ServerModel | None:
    for m in models:
        if m.loaded:
            return m
    return None


# --------------------------------------------------------------------------- prediction


def prediction_from_fit(
    fit_result: FitResult,
    label: str = "",
    *,
    calibration: float | None = None,
) -> Prediction:
    """The numbers the probe compares, from the fit model's result (what the app shows).

    When the speed estimate was calibrated from the probe history, the factor (`calibration`,
    the one the fit was given) is divided out into `raw_decode_tps`:
    the history must keep raw predictions, or each run would calibrate against the last
    calibration."""
    speed = fit_result.speed
    decode = speed.decode_tokens_per_second
    raw = decode / calibration if speed.calibrated and calibration else decode
    return Prediction(
        decode_tps=decode,
        ttft_s=speed.time_to_first_token_s,
        device_bytes=fit_result.breakdown.device_bytes,
        label=label,
        raw_decode_tps=raw,
        calibration=calibration if speed.calibrated else None,
        backend=fit_result.backend,
    )


def predict(
    model_ref: str,
    machine_id: str,
    settings: RuntimeSettings,
    *,
    carve_out_bytes: int | None = None,
    os_name: str | None = None,
    backend: str | None = None,
    prompt_tokens: int | None = None,
) -> Prediction:
    """vramtui's prediction for `model_ref` on a machine preset (machine.fit.evaluate_fit), for
    the prompt length the probe really sent. Raises a VramtuiError subclass when the model,
    machine or settings do not resolve."""
    spec = open_model(model_ref)
    machine = get_machine(machine_id)
    changes: dict[str, Any] = {}
    if carve_out_bytes is not None:
        changes["carve_out_bytes"] = carve_out_bytes
    if os_name is not None:
        changes["os"] = os_name
    if backend is not None:
        changes["backend"] = backend
    state = MachineState.default_for(machine, **changes)
    calibration = load_calibration(machine.id, state.resolved_backend)
    result = evaluate_fit(
        spec, settings, state, prompt_tokens=prompt_tokens or None, calibration=calibration
    )
    name = spec.name or model_ref
    carve = f" @ {format_bytes(state.carve_out_bytes, 0)}" if state.carve_out_bytes else ""
    label = f"{name} on {machine.id}{carve}, {state.os}, {result.backend}"
    return prediction_from_fit(result, label=label, calibration=calibration)
