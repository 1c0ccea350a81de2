"""Server numbers that are not numbers: every numeric field a server sends is read by one
bounded parser (core/probe/fields.py), so odd digits, huge integers and zero-ish durations give
a measurement without that figure, never a crash (exit 70)."""

from __future__ import annotations

import json
import math

import pytest

from tests.support.probe_doubles import llamacpp_double, serve
from vramtui.cli.main import main
from vramtui.core.probe.fields import MAX_FIELD, as_float, as_int, rate
from vramtui.core.probe.servers import ollama_models

HUGE = "9" * 401  # an integer float() cannot take (OverflowError)
LONGER_THAN_INT_LIMIT = "7" * 5000  # int() refuses strings over 4,300 digits


@pytest.mark.parametrize(
    "value",
    ["²", "١٢٣", " ", "", "-5", "1e3", "7" * 5000, int(HUGE), -1, MAX_FIELD + 1, 1e308, True],
    ids=lambda v: repr(v)[:12],
)
def test_as_int_refuses_what_is_not_a_plain_bounded_count(value: object) -> None:
    assert as_int(value) is None


def test_as_int_reads_plain_counts() -> None:
    assert as_int("4096") == as_int(4096) == as_int(4096.7) == 4096
    assert as_int(MAX_FIELD) == MAX_FIELD


@pytest.mark.parametrize("value", [int(HUGE), math.inf, math.nan, "1.5", 1e300, False])
def test_as_float_refuses_huge_and_non_finite(value: object) -> None:
    assert as_float(value) is None


def test_rate_guards_against_zero_and_denormal_durations() -> None:
    assert rate(10, 5e-324 / 1000.0) is None
    assert rate(10, 0.0) is None and rate(10, -1.0) is None and rate(0, 1.0) is None
    assert rate(10, 2.0) == 5.0


def test_ollama_listing_with_huge_size_vram_reads_as_unknown() -> None:
    ps = {"models": [{"name": "m", "size": "²", "size_vram": int(HUGE), "context_length": 1e308}]}
    (model,) = ollama_models({"models": [{"name": "m"}]}, ps)
    assert model.size_bytes is None and model.vram_bytes is None and model.context_length is None


def _probe(capsys: pytest.CaptureFixture[str], *extra: str, **double: str) -> dict[str, object]:
    d = llamacpp_double(**double)  # type: ignore[arg-type]
    with serve(d):
        code = main(["probe", "--url", d.url, "--json", "--no-save", "--timeout", "5", *extra])
    out = capsys.readouterr()
    assert code == 0, out.err
    result = json.loads(out.out)
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize(
    "timings",
    [
        '{"predicted_n": "\u00b2", "predicted_ms": 10.0}',
        '{"predicted_n": 3, "predicted_ms": 5e-324, "prompt_n": 4, "prompt_ms": 5e-324}',
        '{"predicted_n": ' + HUGE + ', "predicted_ms": 10.0}',
        '{"predicted_n": "' + LONGER_THAN_INT_LIMIT + '", "predicted_ms": 10.0}',
        '{"predicted_n": 3, "predicted_per_second": ' + HUGE + "}",
    ],
    ids=["superscript", "denormal-ms", "401-digits", "5000-digit-string", "huge-rate"],
)
def test_probe_survives_hostile_timings(capsys: pytest.CaptureFixture[str], timings: str) -> None:
    result = _probe(capsys, timings=timings)["result"]
    assert isinstance(result, dict)
    # The client's own count stands in for what the server's numbers could not say.
    assert result["decode_source"] in {"client", None}


@pytest.mark.parametrize(
    "props",
    [
        '{"default_generation_settings": {"n_ctx": "\u00b2"}, "total_slots": "\u00b2"}',
        '{"n_ctx": ' + HUGE + ', "total_slots": ' + HUGE + ', "build_info": "x"}',
        '{"n_ctx": 1e308, "total_slots": 1, "build_info": "x"}',
    ],
    ids=["superscript", "401-digits", "1e308"],
)
def test_probe_survives_hostile_props(capsys: pytest.CaptureFixture[str], props: str) -> None:
    # --predict uses the server's context: an absurd one must not reach the estimate.
    result = _probe(
        capsys, "--predict", "llama-3.1-8b:Q4_K_M", props=props, meta='{"size": "\u00b2"}'
    )
    memory = result["result"]["memory"]  # type: ignore[index]
    assert memory["n_ctx"] in {None, 2048}
