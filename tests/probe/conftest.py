"""Probe test setup: one real llama.cpp server (xllamacpp) per session, and a hang guard."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import sys
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from tests.support.probe_doubles import free_port
from tests.support.tiny_llama import LlamaServer, write_tiny_llama
from tests.support.waiting import WAIT_S, record_notifications

# No test here may take long: past this, the process dumps every thread's stack and exits, so a
# hang fails loudly instead of blocking CI. Past every wait's own bound, so a wait that runs out
# fails with its own message first.
HANG_GUARD_S = 2 * WAIT_S
SERVER_N_CTX = 2048
# How soon after a cancelled probe the server's slot must be free again: far less than the
# hundreds of tokens the cancelled runs ask for take to generate.
SLOT_IDLE_WITHIN_S = 2.0


@pytest.fixture(autouse=True)
def _notifications_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    record_notifications(monkeypatch)


@pytest.fixture(autouse=True)
def hang_guard() -> Iterator[None]:
    faulthandler.dump_traceback_later(HANG_GUARD_S, exit=True, file=sys.stderr)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-server (xllamacpp's build) on a free loopback port, serving a tiny real llama."""
    xllamacpp = pytest.importorskip("xllamacpp")
    model = write_tiny_llama(tmp_path_factory.mktemp("model") / "tiny-llama.gguf")
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.hostnames = ["127.0.0.1"]
    params.port = free_port()
    params.n_ctx = SERVER_N_CTX
    params.n_parallel = 1
    params.warmup = False
    params.endpoint_props = True
    params.endpoint_slots = True
    params.verbosity = -1  # keep the server log out of the test output
    server = xllamacpp.Server(params)
    try:
        yield LlamaServer(f"http://127.0.0.1:{params.port}", model, SERVER_N_CTX)
    finally:
        # The server stops in its destructor (it waits for its main loop to exit).
        del server
        gc.collect()


@pytest.fixture
def slot_idle(llama_server: LlamaServer) -> Callable[[], Awaitable[bool]]:
    """An async check: do the server's slots all stop processing within SLOT_IDLE_WITHIN_S?"""

    async def idle() -> bool:
        async with httpx.AsyncClient(base_url=llama_server.url, trust_env=False) as client:
            for _ in range(int(SLOT_IDLE_WITHIN_S / 0.02)):
                slots = (await client.get("/slots")).json()
                if not any(slot.get("is_processing") for slot in slots):
                    return True
                await asyncio.sleep(0.02)
        return False

    return idle
