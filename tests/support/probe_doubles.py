"""Loopback HTTP doubles: small raw-socket servers that answer like LM Studio, Ollama or an
OpenAI-compatible server (shapes after their documented APIs), or misbehave on purpose.

Raw sockets rather than http.server so a handler can stall before the headers, drip one byte at
a time, send garbage or hang up mid-stream. Every wait a handler does is on the double's stop
event, so stopping the double never waits for a stalled handler.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Conn:
    """The handler's side of one connection."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self.sock = sock
        self.stop = stop

    def raw(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def wait(self, seconds: float) -> bool:
        """Sleep, but wake at once when the double stops. True when it is stopping."""
        return self.stop.wait(seconds)

    def head(self, status: int = 200, ctype: str = "application/json", extra: str = "") -> None:
        reason = {200: "OK", 302: "Found", 401: "Unauthorized", 404: "Not Found"}.get(status, "X")
        self.raw(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n{extra}"
            "Connection: close\r\n\r\n".encode()
        )

    def send_json(self, obj: Any, status: int = 200, extra: str = "") -> None:
        body = json.dumps(obj).encode()
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}.get(status, "X")
        self.raw(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    def sse(self, chunks: list[dict[str, Any]], done: bool = True) -> None:
        self.head(200, "text/event-stream")
        for chunk in chunks:
            if not self.raw(b"data: " + json.dumps(chunk).encode() + b"\n\n"):
                return
        if done:
            self.raw(b"data: [DONE]\n\n")

    def ndjson(self, objects: list[dict[str, Any]]) -> None:
        self.head(200, "application/x-ndjson")
        for obj in objects:
            if not self.raw(json.dumps(obj).encode() + b"\n"):
                return


Handler = Callable[[Request, Conn], None]


@dataclass
class Double:
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.routes[(method, path)] = fn
            return fn

        return deco

    def handle(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(5)
            try:
                req = _read_request(sock)
            except (OSError, ValueError):
                return
            if req is None:
                return
            self.requests.append(req)
            conn = Conn(sock, self.stop)
            handler = self.routes.get((req.method, req.path))
            if handler is None:
                conn.send_json({"error": f"no route {req.path}"}, status=404)
                return
            with suppress(OSError):
                handler(req, conn)
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            raise ValueError("headers too large")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, target.split("?", 1)[0], headers, body)


@contextmanager
def serve(double: Double) -> Iterator[Double]:
    """Run `double` on a free loopback port until the block ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    double.port = listener.getsockname()[1]

    def accept_loop() -> None:
        while not double.stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=double.handle, args=(sock,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        double.stop.set()
        thread.join(timeout=2)
        listener.close()


def free_port() -> int:
    """A loopback port with nothing listening (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --------------------------------------------------------------------------- Ollama

# Shapes from ollama docs/api.md: /api/tags, /api/ps, /api/chat streaming (NDJSON; the last object
# has done=true with eval_count, eval_duration, prompt_eval_count, prompt_eval_duration,
# load_duration, total_duration in nanoseconds).
OLLAMA_LOADED = "qwen3:8b"
OLLAMA_IDLE = "llama3.2:3b"
OLLAMA_SIZE = 6_654_289_920
OLLAMA_SIZE_VRAM = 5_368_709_120
OLLAMA_FINAL = {
    "total_duration": 1_400_000_000,
    "load_duration": 150_000_000,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 130_000_000,
    "eval_count": 8,
    "eval_duration": 200_000_000,
}
OLLAMA_PIECES = ["Once", " upon", " a", " time", ",", " a", " keeper", "."]


def _ollama_tags() -> dict[str, Any]:
    return {
        "models": [
            {
                "name": OLLAMA_IDLE,
                "model": OLLAMA_IDLE,
                "size": 2_019_393_189,
                "digest": "a80c4f17acd5",
                "details": {
                    "format": "gguf",
                    "family": "llama",
                    "parameter_size": "3.2B",
                    "quantization_level": "Q4_K_M",
                },
            },
            {
                "name": OLLAMA_LOADED,
                "model": OLLAMA_LOADED,
                "size": 5_225_388_164,
                "digest": "500a1f067a9f",
                "details": {
                    "format": "gguf",
                    "family": "qwen3",
                    "parameter_size": "8.2B",
                    "quantization_level": "Q4_K_M",
                },
            },
        ]
    }


def _ollama_ps() -> dict[str, Any]:
    return {
        "models": [
            {
                "name": OLLAMA_LOADED,
                "model": OLLAMA_LOADED,
                "size": OLLAMA_SIZE,
                "digest": "500a1f067a9f",
                "details": {"format": "gguf"},
                "expires_at": "2026-11-24T17:00:00Z",
                "size_vram": OLLAMA_SIZE_VRAM,
                "context_length": 4096,
            }
        ]
    }


def _ollama_chat(req: Request, conn: Conn) -> None:
    models = {OLLAMA_LOADED, OLLAMA_IDLE}
    body = req.json()
    if body.get("model") not in models:
        conn.send_json({"error": f"model '{body.get('model')}' not found"}, status=404)
        return
    stamp = "2026-11-24T16:00:00Z"
    objs: list[dict[str, Any]] = [
        {
            "model": body["model"],
            "created_at": stamp,
            "message": {"role": "assistant", "content": piece},
            "done": False,
        }
        for piece in OLLAMA_PIECES
    ]
    final = {
        "model": body["model"],
        "created_at": stamp,
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "length",
        **OLLAMA_FINAL,
    }
    conn.ndjson([*objs, final])


def ollama_double() -> Double:
    d = Double()
    d.routes[("GET", "/api/tags")] = lambda req, conn: conn.send_json(_ollama_tags())
    d.routes[("GET", "/api/ps")] = lambda req, conn: conn.send_json(_ollama_ps())
    d.routes[("POST", "/api/chat")] = _ollama_chat
    return d


# --------------------------------------------------------------------------- LM Studio

# Shapes from lmstudio-ai/docs 1_developer/2_rest/endpoints.mdx: GET /api/v0/models (state
# loaded/not-loaded, max_context_length) and POST /api/v0/chat/completions, whose last streamed
# chunk carries usage and `stats` {tokens_per_second, time_to_first_token, generation_time,
# stop_reason}.
LMS_LOADED = "qwen3-8b"
LMS_IDLE = "meta-llama-3.1-8b-instruct"
LMS_STATS = {
    "tokens_per_second": 51.43709529007664,
    "time_to_first_token": 0.111,
    "generation_time": 0.954,
    "stop_reason": "maxPredictedTokensReached",
}
LMS_PIECES = ["The", " lamp", " turned", " slowly", "."]


def _lms_models(loaded: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": LMS_IDLE,
                "object": "model",
                "type": "llm",
                "publisher": "lmstudio-community",
                "arch": "llama",
                "compatibility_type": "gguf",
                "quantization": "Q4_K_M",
                "state": "not-loaded",
                "max_context_length": 131072,
            },
            {
                "id": LMS_LOADED,
                "object": "model",
                "type": "llm",
                "publisher": "qwen",
                "arch": "qwen3",
                "compatibility_type": "gguf",
                "quantization": "Q4_K_M",
                "state": "loaded" if loaded else "not-loaded",
                "max_context_length": 32768,
            },
            {
                "id": "text-embedding-nomic-embed-text-v1.5",
                "object": "model",
                "type": "embeddings",
                "publisher": "nomic-ai",
                "arch": "nomic-bert",
                "compatibility_type": "gguf",
                "quantization": "Q4_0",
                "state": "not-loaded",
                "max_context_length": 2048,
            },
        ],
    }


def _lms_chat_chunks(model: str) -> list[dict[str, Any]]:
    """The streamed chunks of one completion; the last carries usage and `stats`."""
    base = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1731990317,
        "model": model,
    }
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        for p in LMS_PIECES
    ]
    chunks.append(
        {
            **base,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}],
            "usage": {
                "prompt_tokens": 24,
                "completion_tokens": len(LMS_PIECES),
                "total_tokens": 24 + len(LMS_PIECES),
            },
            "stats": LMS_STATS,
            "model_info": {
                "arch": "qwen3",
                "quant": "Q4_K_M",
                "format": "gguf",
                "context_length": 4096,
            },
            "runtime": {
                "name": "llama.cpp-linux-x86_64-vulkan-avx2",
                "version": "1.50.0",
                "supported_formats": ["gguf"],
            },
        }
    )
    return chunks


def _lms_chat(req: Request, conn: Conn) -> None:
    body = req.json()
    if body.get("model") not in {LMS_LOADED, LMS_IDLE}:
        conn.send_json(
            {
                "error": {
                    "message": f"Model '{body.get('model')}' not found",
                    "type": "invalid_request_error",
                }
            },
            status=404,
        )
        return
    conn.sse(_lms_chat_chunks(body["model"]))


def lmstudio_double(loaded: bool = True) -> Double:
    d = Double()
    d.routes[("GET", "/api/v0/models")] = lambda req, conn: conn.send_json(_lms_models(loaded))
    d.routes[("GET", "/v1/models")] = lambda req, conn: conn.send_json(
        {
            "object": "list",
            "data": [{"id": LMS_LOADED, "object": "model", "owned_by": "organization_owner"}],
        }
    )
    d.routes[("POST", "/api/v0/chat/completions")] = _lms_chat
    return d


# --------------------------------------------------------------------------- OpenAI-compatible

OPENAI_PIECES = ["A", " bottle", " washed", " ashore", "."]


def openai_double() -> Double:
    d = Double()

    @d.route("GET", "/v1/models")
    def models(req: Request, conn: Conn) -> None:
        conn.send_json({"object": "list", "data": [{"id": "local-model", "object": "model"}]})

    @d.route("POST", "/v1/chat/completions")
    def chat(req: Request, conn: Conn) -> None:
        base = {"id": "c1", "object": "chat.completion.chunk", "model": "local-model"}
        chunks: list[dict[str, Any]] = [
            {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
            for p in OPENAI_PIECES
        ]
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        chunks.append(
            {
                **base,
                "choices": [],
                "usage": {
                    "prompt_tokens": 20,
                    "completion_tokens": len(OPENAI_PIECES),
                    "total_tokens": 25,
                },
            }
        )
        conn.sse(chunks)

    return d


def llamacpp_double(
    props: dict[str, Any] | str | None = None,
    timings: dict[str, Any] | str | None = None,
    meta: dict[str, Any] | str | None = None,
) -> Double:
    """A llama-server (/props, /slots, /v1/models, streamed /completion) whose numbers are the
    ones given; a str is sent as the raw JSON text (numbers json.dumps cannot write)."""
    d = Double()

    def raw_json(conn: Conn, value: dict[str, Any] | str) -> None:
        body = (value if isinstance(value, str) else json.dumps(value)).encode()
        conn.head(200, extra=f"Content-Length: {len(body)}\r\n")
        conn.raw(body)

    @d.route("GET", "/props")
    def get_props(req: Request, conn: Conn) -> None:
        base = {"default_generation_settings": {"n_ctx": 2048}, "total_slots": 1}
        raw_json(conn, props if props is not None else base)

    @d.route("GET", "/slots")
    def slots(req: Request, conn: Conn) -> None:
        conn.send_json([{"id": 0, "n_ctx": 2048}])

    @d.route("GET", "/v1/models")
    def models(req: Request, conn: Conn) -> None:
        text = meta if isinstance(meta, str) else json.dumps(meta or {"size": 1000, "n_ctx": 2048})
        item = '{"id": "tiny", "object": "model", "meta": ' + text + "}"
        raw_json(conn, '{"object": "list", "data": [' + item + "]}")

    @d.route("POST", "/completion")
    def completion(req: Request, conn: Conn) -> None:
        conn.head(200, "text/event-stream")
        for n in range(1, 4):
            conn.raw(b"data: " + json.dumps({"content": "tok", "tokens": [n]}).encode() + b"\n\n")
        final = timings if isinstance(timings, str) else json.dumps(timings or {})
        conn.raw(b'data: {"content": "", "stop": true, "timings": ' + final.encode() + b"}\n\n")

    return d
