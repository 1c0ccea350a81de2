"""The probe's hostile classes for bench_hostile: a huge or garbage probe history read by
`check` and `probe --history`, server numbers that are not numbers, a slow or huge server
before the run, a Hub listing too long to page through, and a config.toml the app cannot
parse. Each input must end answered or refused with one line, within its bound."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from tests.support.hostile import Tally, run_case
from tests.support.http_server import Route
from tests.support.http_server import serve as serve_http
from tests.support.probe_doubles import Conn, Request, llamacpp_double, openai_double, serve

CliCase = Callable[[Tally, str, list[str]], None]
HISTORY_BYTES = 64 << 20
BOUND_S = 5.0
HUGE = "9" * 401
MACHINE = ["--machine", "framework-desktop-128gb"]


def _fill_history(line: bytes) -> None:
    from vramtui.core.probe.history import history_path  # noqa: PLC0415 - after the env is set

    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        block = line * max(1, (1 << 20) // len(line))
        for _ in range(HISTORY_BYTES // len(block)):
            fh.write(block)


def probe_history(tally: Tally, cli_case: CliCase) -> None:
    """64 MiB of corrupt lines, then of valid small records: `check` and `probe --history`."""
    valid = json.dumps(
        {"timestamp": "2026-01-01T00:00:00+00:00", "url": "u", "kind": "llamacpp", "model": "m"}
    )
    for what, line in (("corrupt", b"{corrupt\n"), ("valid", valid.encode() + b"\n")):
        _fill_history(line)
        cli_case(
            tally, f"check with a 64 MiB {what} history", ["check", "llama-3.1-8b:Q4_K_M", *MACHINE]
        )
        cli_case(tally, f"probe --history, 64 MiB {what}", ["probe", "--history"])


TIMINGS = (
    '{"predicted_n": "\u00b2", "predicted_ms": 10.0}',
    '{"predicted_n": 3, "predicted_ms": 5e-324, "prompt_n": 4, "prompt_ms": 5e-324}',
    '{"predicted_n": ' + HUGE + ', "predicted_ms": 10.0}',
    '{"predicted_n": "' + "7" * 5000 + '", "predicted_ms": 10.0}',
)
PROPS = (
    '{"default_generation_settings": {"n_ctx": "\u00b2"}, "total_slots": "\u00b2"}',
    '{"n_ctx": ' + HUGE + ', "total_slots": ' + HUGE + ', "build_info": "x"}',
    '{"n_ctx": 1e308, "total_slots": 1, "build_info": "x"}',
)


def probe_numbers(tally: Tally, cli_case: CliCase) -> None:
    """A llama-server whose numbers are odd digits, huge integers or denormal times."""
    doubles = [llamacpp_double(timings=t) for t in TIMINGS]
    doubles += [llamacpp_double(props=p, meta='{"size": "\u00b2"}') for p in PROPS]
    for i, double in enumerate(doubles):
        with serve(double):
            argv = ["probe", "--url", double.url, "--no-save", "--json", "--timeout", "5"]
            cli_case(tally, f"probe numbers #{i}", argv)
            cli_case(
                tally, f"probe numbers #{i} --predict", [*argv, "--predict", "llama-3.1-8b:Q4_K_M"]
            )


def _slow_404(req: Request, conn: Conn) -> None:
    conn.wait(0.8)
    conn.send_json({"error": "no"}, status=404)


def probe_deadline(tally: Tally, cli_case: CliCase) -> None:
    """A slow server to identify, and a 180,000-model listing, under `--timeout 2`."""
    slow = openai_double()
    for path in ("/props", "/api/tags", "/api/v0/models"):
        slow.routes[("GET", path)] = _slow_404
    many = openai_double()
    listing = {"data": [{"id": f"model-{i:06d}", "object": "model"} for i in range(180_000)]}
    many.routes[("GET", "/v1/models")] = lambda req, conn: conn.send_json(listing)
    for what, double in (("slow identification", slow), ("180K-model listing", many)):
        with serve(double):
            cli_case(tally, what, ["probe", "--url", double.url, "--timeout", "2", "--no-save"])


def hub_listing(tally: Tally, cli_case: CliCase) -> None:
    """`quants hf:` on a 190,000-file listing and on a repository of 65 quants."""
    tree = "/api/models/org/big/tree/main"
    cases = (
        ("190K-file listing", [f"docs/p-{i}.md" for i in range(190_000)]),
        ("65 quants", [f"m-Q{i}_K.gguf" for i in range(65)]),
    )
    for what, names in cases:
        entries = [{"type": "file", "path": n, "oid": "x", "size": 1000} for n in names]
        with serve_http() as server:
            os.environ["HF_ENDPOINT"] = server.url("")
            server.routes[tree] = Route(
                body=json.dumps(entries).encode(), content_type="application/json"
            )
            cli_case(tally, what, ["quants", "hf:org/big", *MACHINE, "--timeout", "10"])
        del os.environ["HF_ENDPOINT"]


def app_config(tally: Tally) -> None:
    """Saving the theme over a config.toml that cannot be parsed: refused, the file kept."""
    from vramtui.app.config import save_theme  # noqa: PLC0415 - after the env is set
    from vramtui.core.paths import config_dir  # noqa: PLC0415

    path = config_dir() / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = 'model_dirs = ["/models"]\n'
    for what, text in (
        ("typo", kept + "theme = \n"),
        ("duplicate key", kept + 'model_dirs = ["/other"]\n'),
        ("over 1 MiB", kept + "# " + "x" * (1 << 20) + "\n"),
    ):
        path.write_text(text)

        def work(text: str = text) -> None:
            try:
                save_theme("nord")
            finally:
                if path.read_text() != text:
                    raise AssertionError("the config was overwritten")

        run_case(tally, f"config {what}", work, BOUND_S)
    path.unlink()
