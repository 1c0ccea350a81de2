"""`vramtui probe`: measure a running llama.cpp, LM Studio or Ollama server vs the prediction."""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import replace
from typing import Any

from rich.table import Table
from rich.text import Text

from vramtui.cli.common import (
    add_machine_args,
    add_runtime_args,
    bounded_float,
    bounded_int,
    console,
    emit,
    overrides_from_args,
    print_json,
    settings_from_args,
    warn,
)
from vramtui.core.errors import ProbeError, VramtuiError
from vramtui.core.probe.calibration import refusal, served_model_matches
from vramtui.core.probe.history import (
    HistoryRecord,
    append_history,
    current_os,
    history_path,
    load_history,
    make_record,
)
from vramtui.core.probe.predict import predict
from vramtui.core.probe.results import (
    SERVER_KINDS,
    ComparisonRow,
    Prediction,
    ProbeResult,
    ProbeTimeouts,
    ServerInfo,
    compare,
    format_measure,
    format_ratio,
)
from vramtui.core.probe.run import measure_server
from vramtui.core.probe.servers import detect_servers, server_info
from vramtui.core.scenario.files import Scenario, load_scenario
from vramtui.core.scenario.resolve import resolve_scenario
from vramtui.core.sizes import format_bytes
from vramtui.core.vocab import ExitCode, ServerKind
from vramtui.present.probe_words import calibration_line
from vramtui.present.untrusted import plain


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "probe",
        help="measure a running llama.cpp / LM Studio / Ollama server beside the prediction",
        description="Stream a short fixed prompt to a running server and report time to first "
        "token, decode and prompt tokens/s and memory evidence, beside vramtui's prediction. "
        "Each run is appended to the probe history.",
    )
    p.add_argument("--url", help="server URL (default: look on 127.0.0.1 at the default ports)")
    p.add_argument(
        "--server",
        default="auto",
        choices=("auto", *SERVER_KINDS),
        help="server kind (default: auto-detect)",
    )
    p.add_argument("--model", help="model name on the server (default: the loaded one)")
    p.add_argument(
        "--max-tokens",
        type=bounded_int(1, 1 << 16),
        default=64,
        help="tokens to generate, 1 to 65536 (default 64)",
    )
    p.add_argument(
        "--prompt-tokens",
        type=bounded_int(0, 1 << 20),
        default=0,
        help="add about N tokens of filler before the prompt (prefill), 0 to 1048576",
    )
    p.add_argument(
        "--timeout",
        type=bounded_float(0.1, 86400),
        default=180.0,
        help="total seconds, 0.1 to 86400 (default 180; first token within 60)",
    )
    p.add_argument(
        "--connect-timeout",
        type=bounded_float(0.1, 600),
        default=3.0,
        help="seconds, 0.1 to 600 (default 3)",
    )
    p.add_argument("--api-key", help="bearer token (default: $VRAMTUI_API_KEY or $LM_API_TOKEN)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--history", action="store_true", help="list the probe history and exit")
    p.add_argument("--list", action="store_true", help="list the servers found and their models")
    p.add_argument("--no-save", action="store_true", help="do not append this run to the history")
    g = p.add_argument_group("prediction beside the measurement")
    g.add_argument(
        "--predict",
        metavar="MODEL_REF",
        help="model file / hf: / catalog id to predict for (the path a server "
        "reports is shown, never opened unless given here)",
    )
    g.add_argument(
        "--preset",
        help="scenario preset (model, machine, carve-out, OS, settings); flags given beside it win",
    )
    add_machine_args(g)  # without --machine: the machine vramtui runs on
    add_runtime_args(p)
    p.set_defaults(handler=run)


def _timeouts(args: argparse.Namespace) -> ProbeTimeouts:
    total = float(args.timeout)
    connect = float(args.connect_timeout)
    if not total > 0 or not connect > 0:
        raise ProbeError("--timeout and --connect-timeout must be more than 0 seconds")
    return ProbeTimeouts(
        connect=connect, first_token=min(60.0, total), total=total, request=min(10.0, total)
    )


def run(args: argparse.Namespace) -> int:
    if args.history:
        return _show_history(args)
    timeouts = _timeouts(args)
    if args.list:
        return _show_servers(args, timeouts)
    preset = load_scenario(args.preset) if args.preset else None
    result = asyncio.run(_measure(args, timeouts))
    prediction, note, settings = _prediction(args, result, preset)
    served = result.memory.model_path or result.model
    match = prediction is not None and served_model_matches(served, *prediction.model_names)
    record = _record(args, result, prediction, settings, match)
    refused = refusal(record)
    calibration_note = calibration_line(
        refused, result.conditions, record.decode_ratio, served=served
    )
    saved_note = "" if args.no_save else _save(record)
    if args.json:
        print_json(
            {
                "result": result.to_json(),
                "prediction": prediction.to_json() if prediction else None,
                "prediction_note": note,
                "comparison": [_row_json(r) for r in compare(prediction, result)],
                "model_match": match,
                "calibration": {
                    "calibrates": refused is None,
                    "refusal": refused,
                    "why": calibration_note,
                },
                "history_note": saved_note or None,
            }
        )
    else:
        _print_result(result, prediction, note)
        if prediction is not None:
            emit(f"calibration: {calibration_note}\n")
    if saved_note:
        warn(saved_note)
    return ExitCode.OK


def _record(
    args: argparse.Namespace,
    result: ProbeResult,
    prediction: Prediction | None,
    settings: dict[str, Any],
    match: bool,
) -> HistoryRecord:
    """The run as the history keeps it (and as calibration judges it)."""
    return make_record(
        result,
        prediction,
        machine=prediction.machine if prediction else args.machine,
        carve_out_bytes=prediction.carve_out_bytes if prediction else None,
        os_name=(prediction.os if prediction else args.os_name) or current_os(),
        backend=args.backend or (prediction.backend if prediction else None),
        settings=settings,
        model_ref=_model_ref(args, result),
        runtime=prediction.runtime if prediction else args.runtime,
        model_key=prediction.model_key if prediction else None,
        model_match=match,
    )


def _save(record: HistoryRecord) -> str:
    """Append the run to the history; a line saying why not when it cannot be written."""
    try:
        append_history(record)
    except OSError as err:
        return f"the history was not written ({history_path()}: {err.strerror or err})"
    return ""


async def _measure(args: argparse.Namespace, timeouts: ProbeTimeouts) -> ProbeResult:
    """Find the server (`--url`/`--server`) and run the probe against it, within one total
    deadline (--timeout)."""
    api_key = args.api_key or os.environ.get("VRAMTUI_API_KEY") or os.environ.get("LM_API_TOKEN")
    return await measure_server(
        args.url,
        args.server,
        args.model,
        max_tokens=args.max_tokens,
        prompt_tokens=args.prompt_tokens,
        timeouts=timeouts,
        api_key=api_key,
    )


def _model_ref(
    args: argparse.Namespace, result: ProbeResult, preset: Scenario | None = None
) -> str | None:
    """What to predict for: --predict, or the preset's model. The path a server reports is
    text from the server: shown, never opened (it could name any file, a FIFO or a device);
    the user passes it with --predict to predict for it."""
    if args.predict:
        return str(args.predict)
    if preset is not None:
        return preset.model_ref
    return None


def _prediction(
    args: argparse.Namespace, result: ProbeResult, preset: Scenario | None
) -> tuple[Prediction | None, str, dict[str, Any]]:
    """The prediction for the same model and settings, or None with a note saying why not.
    The machine comes from the scenario resolver: --machine, the preset, or this machine."""
    # Settings: the flags, with the server's context when the user gave none. llama-server
    # reports n_ctx per slot (/props default_generation_settings, /slots): the -c total split
    # over the slots, or the whole -c with a unified KV cache (-kvu), which /props does not show
    # (checked against xllamacpp's llama-server with -np 2, with and without kv_unified).
    base_settings = settings_from_args(args, preset.settings if preset else None)
    if preset is None and args.ctx_size is None and result.memory.n_ctx:
        slots = result.memory.total_slots or 1
        unified = bool(args.kv_unified)
        total = result.memory.n_ctx if unified else result.memory.n_ctx * slots
        base_settings = base_settings.with_changes(ctx_size=total, parallel=slots)
    settings = base_settings.to_dict()
    ref = _model_ref(args, result, preset)
    if ref is None:
        served = result.memory.model_path
        where = f" (the server runs {plain(served, 200)})" if served else ""
        note = f"no prediction: pass --predict MODEL (path, hf: or catalog id){where}"
        return None, note, settings
    try:
        overrides = replace(overrides_from_args(args), model_ref=ref)
        state = resolve_scenario(preset, overrides).state
        prediction = predict(ref, state, base_settings, prompt_tokens=result.prompt_tokens)
    except VramtuiError as err:
        return None, f"no prediction: {err}", settings
    return prediction, prediction.label, settings


def _row_json(row: ComparisonRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "unit": row.unit,
        "predicted": row.predicted,
        "measured": row.measured,
        "ratio": row.ratio,
    }


def _print_result(result: ProbeResult, prediction: Prediction | None, note: str) -> None:
    out = console()
    title = f"{result.kind} at {result.url} - {result.model}"
    table = Table(title=Text(plain(title, 300)), title_justify="left")
    table.add_column("")
    table.add_column("measured", justify="right")
    table.add_column("predicted", justify="right")
    table.add_column("ratio", justify="right")
    for row in compare(prediction, result):
        ratio = format_ratio(row.ratio)
        table.add_row(
            row.name,
            format_measure(row.measured, row.unit),
            format_measure(row.predicted, row.unit),
            ratio,
        )
    table.add_section()
    table.add_row("time to first token (client)", format_measure(result.ttft_client_s, "s"), "", "")
    table.add_row("prompt", format_measure(result.prompt_tokens_per_second, "tok/s"), "", "")
    table.add_row("tokens generated", str(result.tokens_generated), "", "")
    table.add_row(
        "prompt tokens", "-" if result.prompt_tokens is None else str(result.prompt_tokens), "", ""
    )
    mem = result.memory
    if mem.n_ctx:
        slots = f" x {mem.total_slots} slots" if mem.total_slots else ""
        table.add_row("server context", f"{mem.n_ctx}{slots}", "", "")
    if mem.ollama_size_bytes is not None:
        table.add_row(
            "ollama size / in VRAM",
            f"{format_bytes(mem.ollama_size_bytes)} / {format_bytes(mem.ollama_vram_bytes or 0)}",
            "",
            "",
        )
    if mem.amdgpu_during:
        used = sum(s.used for s in mem.amdgpu_during)
        table.add_row("amdgpu VRAM+GTT used (during)", format_bytes(used), "", "")
    out.print(table)
    source = {"server": "server's own timings", "client": "client clock", "none": "no tokens"}
    out.print(f"decode measured by: {source[result.decode_source]}")
    for server_note in result.notes:
        out.print(Text(plain(f"note: {server_note}", 300)))
    if note:
        out.print(Text(plain(note if prediction is None else f"predicted for: {note}", 300)))
    if prediction is not None and prediction.calibration_note:
        out.print(
            f"prediction {prediction.calibration_note} of this model "
            f"(uncalibrated {format_measure(prediction.raw_decode_tps, 'tok/s')})"
        )


def _show_servers(args: argparse.Namespace, timeouts: ProbeTimeouts) -> int:
    servers = asyncio.run(_find_servers(args, timeouts))
    if args.json:
        print_json(
            [{"kind": s.kind, "url": s.url, "models": [vars(m) for m in s.models]} for s in servers]
        )
        return ExitCode.OK
    if not servers:
        emit("no server found on 127.0.0.1 (llama.cpp 8080, LM Studio 1234, Ollama 11434)\n")
        return ExitCode.OK
    for s in servers:
        emit(f"{s.kind} at {plain(s.url)}\n")
        for m in s.models:
            flag = "loaded" if m.loaded else "      "
            size = format_bytes(m.size_bytes) if m.size_bytes else ""
            emit(f"  {flag}  {plain(m.name)}  {size}\n")
    return ExitCode.OK


async def _find_servers(args: argparse.Namespace, timeouts: ProbeTimeouts) -> list[ServerInfo]:
    """The server at `--url`, or the servers on the default ports, within --timeout in all."""
    if args.url:
        kind = None if args.server == "auto" else ServerKind(args.server)
        try:
            async with asyncio.timeout(timeouts.total):
                return [await server_info(args.url, kind, timeouts)]
        except TimeoutError:
            raise ProbeError(
                f"{args.url}: total time limit of {timeouts.total:g} s reached while listing"
            ) from None
    return await detect_servers(timeout=min(timeouts.connect, 2.0))


def _show_history(args: argparse.Namespace) -> int:
    problems: list[str] = []
    records = load_history(problems=problems)
    for problem in problems:
        warn(problem)
    if args.json:
        print_json([r.to_json() for r in records])
        return ExitCode.OK
    if not records:
        emit(f"no probe runs yet ({history_path()})\n")
        return ExitCode.OK
    table = Table(title=Text(plain(f"probe history ({history_path()})", 300)), title_justify="left")
    for col in ("when", "server", "model", "machine", "decode tok/s", "predicted", "ratio", "ttft"):
        table.add_column(
            col,
            justify="right" if col in {"decode tok/s", "predicted", "ratio", "ttft"} else "left",
            no_wrap=col == "when",
        )
    for r in records[-50:]:
        table.add_row(
            Text(plain(r.timestamp.replace("T", " ")[5:16])),
            Text(plain(r.kind)),
            Text(plain(os.path.basename(r.model.rstrip("/\\")) or r.model)),
            Text(plain(r.machine or "-")),
            format_measure(r.measured_decode_tps, ""),
            format_measure(r.predicted_decode_tps, ""),
            format_ratio(r.decode_ratio),
            format_measure(_ttft(r), "s"),
        )
    console().print(table)
    return ExitCode.OK


def _ttft(record: HistoryRecord) -> float | None:
    value = record.measured.get("ttft_s")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
