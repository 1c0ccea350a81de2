"""One total deadline for the whole probe (identifying the server, listing its models, the run,
the memory read), and listings read only up to a cap."""

from __future__ import annotations

import json

import pytest

from tests.support.probe_doubles import Conn, Request, openai_double, serve
from vramtui.cli.main import main
from vramtui.core.probe.http import MAX_JSON_BYTES, MAX_MODELS
from vramtui.core.probe.results import ProbeTimeouts
from vramtui.core.probe.servers import server_info

SLOW_S = 0.4  # each question before the run; four of them outlast the 1 s total


def _slow_404(req: Request, conn: Conn) -> None:
    conn.wait(SLOW_S)
    conn.send_json({"error": "no"}, status=404)


def test_identification_counts_against_the_total_deadline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = openai_double()
    for path in ("/props", "/api/tags", "/api/v0/models"):
        d.routes[("GET", path)] = _slow_404
    models = d.routes[("GET", "/v1/models")]

    def slow_models(req: Request, conn: Conn) -> None:
        conn.wait(SLOW_S)
        models(req, conn)

    d.routes[("GET", "/v1/models")] = slow_models
    with serve(d):
        code = main(["probe", "--url", d.url, "--timeout", "1", "--no-save"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "total time limit of 1 s" in err and d.url in err


def _listing(count: int, pad: int = 0) -> dict[str, object]:
    return {
        "object": "list",
        "data": [{"id": f"m{i:06d}", "object": "model", "pad": "x" * pad} for i in range(count)],
    }


async def test_listing_is_capped_in_models() -> None:
    d = openai_double()
    d.routes[("GET", "/v1/models")] = lambda req, conn: conn.send_json(_listing(5 * MAX_MODELS))
    with serve(d):
        info = await server_info(d.url, "openai", ProbeTimeouts(request=5.0))  # type: ignore[arg-type]
    assert len(info.models) == MAX_MODELS


def test_listing_is_capped_in_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    d = openai_double()
    big = json.dumps(_listing(MAX_JSON_BYTES // 1000 + 10, pad=1000)).encode()
    assert len(big) > MAX_JSON_BYTES

    def huge(req: Request, conn: Conn) -> None:
        conn.head(200, extra=f"Content-Length: {len(big)}\r\n")
        conn.raw(big)

    d.routes[("GET", "/v1/models")] = huge
    with serve(d):
        code = main(["probe", "--url", d.url, "--server", "openai", "--timeout", "5"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "larger than 4 MiB" in err


def test_list_counts_against_the_total_deadline(capsys: pytest.CaptureFixture[str]) -> None:
    d = openai_double()
    for path in ("/props", "/api/tags", "/api/v0/models", "/v1/models"):
        d.routes[("GET", path)] = _slow_404
    with serve(d):
        code = main(["probe", "--list", "--url", d.url, "--timeout", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "total time limit of 1 s" in err
