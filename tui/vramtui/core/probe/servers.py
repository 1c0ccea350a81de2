"""The servers the probe talks to: which kind answers at a URL, the models each lists, and the
servers found on the default ports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from vramtui.core.errors import ProbeError
from vramtui.core.probe.fields import as_context, as_int, plain_value
from vramtui.core.probe.http import MAX_MODELS, Unreachable, get_json, new_client, normalize_url
from vramtui.core.probe.results import SERVER_KINDS, ProbeTimeouts, ServerInfo, ServerModel
from vramtui.core.vocab import ServerKind

# Where each server listens unless told otherwise (vramtui.core.vocab.ServerKind.default_port).
DEFAULT_PORTS: dict[ServerKind, int] = {
    kind: port for kind in ServerKind if (port := kind.default_port) is not None
}


def default_url(kind: ServerKind, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{DEFAULT_PORTS.get(kind, 8080)}"


# --------------------------------------------------------------------------- model lists


def _listed(data: Any, key: str) -> list[Any]:
    """The list under `key` of a listing, its first MAX_MODELS items."""
    items = data.get(key) if isinstance(data, dict) else None
    return items[:MAX_MODELS] if isinstance(items, list) else []


def openai_models(data: Any) -> list[ServerModel]:
    """GET /v1/models: data[] with id; llama-server adds meta (size, n_ctx) and, in router mode,
    status.value loaded/unloaded."""
    models: list[ServerModel] = []
    for item in _listed(data, "data"):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        meta_value = item.get("meta")
        meta: dict[str, Any] = meta_value if isinstance(meta_value, dict) else {}
        status = item.get("status")
        loaded = True
        if isinstance(status, dict) and isinstance(status.get("value"), str):
            loaded = status["value"] == "loaded"
        models.append(
            ServerModel(
                name=item["id"],
                loaded=loaded,
                size_bytes=as_int(meta.get("size")),
                context_length=as_context(meta.get("n_ctx")) or as_context(meta.get("n_ctx_train")),
                details={k: p for k, v in meta.items() if (p := plain_value(v)) is not None},
            )
        )
    return models


def lmstudio_models(data: Any) -> list[ServerModel]:
    """LM Studio GET /api/v0/models: data[] with id, type, state loaded/not-loaded,
    max_context_length (lmstudio-ai/docs 1_developer/2_rest/endpoints.mdx)."""
    models: list[ServerModel] = []
    for item in _listed(data, "data"):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        if item.get("type") == "embeddings":
            continue
        models.append(
            ServerModel(
                name=item["id"],
                loaded=item.get("state") == "loaded",
                context_length=as_context(item.get("max_context_length")),
                details={
                    k: item[k]
                    for k in ("type", "arch", "quantization", "compatibility_type", "publisher")
                    if isinstance(item.get(k), str)
                },
            )
        )
    return models


def _ollama_running(
    run: dict[str, Any], name: str, details: dict[str, Any] | None = None
) -> ServerModel:
    return ServerModel(
        name=name,
        loaded=True,
        size_bytes=as_int(run.get("size")),
        vram_bytes=as_int(run.get("size_vram")),
        context_length=as_context(run.get("context_length")),
        details=details or {},
    )


def ollama_models(tags: Any, ps: Any) -> list[ServerModel]:
    """Ollama GET /api/tags (models[]: name, size) and GET /api/ps (models[]: name, size,
    size_vram, context_length) - ollama docs/api.md."""
    running: dict[str, dict[str, Any]] = {}
    for item in _listed(ps, "models"):
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            running[item["name"]] = item
    models: list[ServerModel] = []
    for item in _listed(tags, "models"):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        details_value = item.get("details")
        details: dict[str, Any] = details_value if isinstance(details_value, dict) else {}
        strings = {k: v for k, v in details.items() if isinstance(v, str)}
        run = running.pop(name, None)
        if run is not None:
            models.append(_ollama_running(run, name, strings))
        else:
            models.append(
                ServerModel(
                    name=name, loaded=False, size_bytes=as_int(item.get("size")), details=strings
                )
            )
    # Running models that /api/tags does not list (pulled under another name, or just removed).
    models.extend(_ollama_running(run, name) for name, run in running.items())
    return models


def _loaded_first(models: list[ServerModel]) -> list[ServerModel]:
    return sorted(models, key=lambda m: (not m.loaded, m.name))


async def list_models(
    client: httpx.AsyncClient, base: str, kind: ServerKind, timeouts: ProbeTimeouts
) -> list[ServerModel]:
    """The models the server offers, loaded first."""
    if kind == ServerKind.OLLAMA:
        tags = await get_json(client, base, "/api/tags", timeouts)
        try:
            ps = await get_json(client, base, "/api/ps", timeouts)
        except ProbeError:
            ps = {}
        return _loaded_first(ollama_models(tags, ps))
    if kind == ServerKind.LMSTUDIO:
        try:
            return _loaded_first(
                lmstudio_models(await get_json(client, base, "/api/v0/models", timeouts))
            )
        except ProbeError:
            pass  # an LM Studio too old for the v0 REST API: the OpenAI list still works
    return _loaded_first(openai_models(await get_json(client, base, "/v1/models", timeouts)))


async def model_to_probe(
    client: httpx.AsyncClient, base: str, kind: ServerKind, timeouts: ProbeTimeouts
) -> str:
    """The model a probe without --model measures: the loaded one (the first listed)."""
    models = await list_models(client, base, kind, timeouts)
    if not models:
        raise ProbeError(f"{base}: the server lists no models; pass --model")
    chosen = models[0]
    if kind == ServerKind.LMSTUDIO and not chosen.loaded:
        names = ", ".join(m.name for m in models[:8])
        raise ProbeError(f"{base}: no model is loaded; pass --model (available: {names})")
    return chosen.name


async def available_hint(
    client: httpx.AsyncClient, base: str, kind: ServerKind, timeouts: ProbeTimeouts
) -> str:
    """ "; available: a, b, ..." for an error about an unknown model ("" when there is no list)."""
    try:
        names = [m.name for m in await list_models(client, base, kind, timeouts)]
    except ProbeError:
        return ""
    if not names:
        return ""
    more = f" (+{len(names) - 10} more)" if len(names) > 10 else ""
    return f"; available: {', '.join(names[:10])}{more}"


# --------------------------------------------------------------------------- which server


def _has_list(key: str) -> Callable[[Any], bool]:
    return lambda d: isinstance(d, dict) and isinstance(d.get(key), list)


def _is_llamacpp(d: Any) -> bool:
    return isinstance(d, dict) and ("default_generation_settings" in d or "build_info" in d)


# Each server answers a path only it has, in a shape only it has; asked in this order.
_IDENTITIES: tuple[tuple[str, ServerKind, Callable[[Any], bool]], ...] = (
    ("/props", ServerKind.LLAMACPP, _is_llamacpp),
    ("/api/tags", ServerKind.OLLAMA, _has_list("models")),
    ("/api/v0/models", ServerKind.LMSTUDIO, _has_list("data")),
    ("/v1/models", ServerKind.OPENAI, _has_list("data")),
)


async def identify(client: httpx.AsyncClient, base: str, timeouts: ProbeTimeouts) -> ServerKind:
    """Which server answers at `base`."""
    last: ProbeError | None = None
    for path, kind, looks_right in _IDENTITIES:
        try:
            if looks_right(await get_json(client, base, path, timeouts)):
                return kind
        except Unreachable:
            raise
        except ProbeError as err:
            last = err
    if last is not None and "authentication required" in str(last):
        raise last
    raise ProbeError(f"{base}: not a llama.cpp, LM Studio, Ollama or OpenAI-compatible server")


async def _describe(base: str, kind: ServerKind | None, timeouts: ProbeTimeouts) -> ServerInfo:
    async with new_client(timeouts, base) as client:
        found = kind or await identify(client, base, timeouts)
        return ServerInfo(found, base, await list_models(client, base, found, timeouts))


async def server_info(
    url: str, kind: ServerKind | None = None, timeouts: ProbeTimeouts | None = None
) -> ServerInfo:
    """Identify the server at `url` (unless `kind` is given) and list its models, loaded first."""
    return await _describe(normalize_url(url), kind, timeouts or ProbeTimeouts())


async def detect_servers(
    host: str = "127.0.0.1", timeout: float = 1.5, ports: dict[ServerKind, int] | None = None
) -> list[ServerInfo]:
    """Look for servers at the default ports on `host`, concurrently; skip what does not answer.
    Servers with a model loaded come first, then the default-port order."""
    t = ProbeTimeouts(connect=timeout, first_token=timeout, total=timeout, request=timeout)

    async def one(port: int) -> ServerInfo | None:
        # The port suggests the kind, the answer decides it (LM Studio may serve on 8080 ...).
        try:
            return await _describe(f"http://{host}:{port}", None, t)
        except (ProbeError, httpx.HTTPError):
            return None

    found = await asyncio.gather(*(one(p) for p in (ports or DEFAULT_PORTS).values()))
    servers = [info for info in found if info is not None]
    return sorted(servers, key=lambda s: not any(m.loaded for m in s.models))


async def resolve_server(
    url: str | None, server: str, timeouts: ProbeTimeouts | None = None, host: str = "127.0.0.1"
) -> ServerInfo:
    """The CLI's `--url/--server` pair -> one server: `auto` identifies it (or finds one on the
    default ports when no URL is given)."""
    t = timeouts or ProbeTimeouts()
    if server not in {"auto", *SERVER_KINDS}:
        raise ProbeError(f"unknown server kind {server!r} (auto, {', '.join(SERVER_KINDS)})")
    kind = None if server == "auto" else ServerKind(server)
    if url is not None:
        return await server_info(url, kind, t)
    if kind is not None:
        return await server_info(default_url(kind, host), kind, t)
    found = await detect_servers(host, timeout=min(t.connect, 2.0))
    if not found:
        ports = ", ".join(f"{k} {p}" for k, p in DEFAULT_PORTS.items())
        raise ProbeError(f"no server found on {host} at the default ports ({ports}); pass --url")
    return found[0]
