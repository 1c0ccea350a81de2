"""Hostile inputs per class: tried, answered, refused, internal errors, hangs, peak memory.

Reference: a first pass over ~33,000 hostile inputs found internal errors (exit 70) in every
class below, hangs (a FIFO, a dripping server) and multi-GB allocations; the target is 0
internal errors and 0 hangs, with peak memory set by the inputs' size, not their values.

Classes (each input must end answered or refused with one line, within its time bound):
- metadata: seeded mutations of seven real architectures' metadata (tests/support/hostile.py)
  through estimate, check and recommend, in process, and through `inspect`'s view;
- header bytes: a real model's GGUF header with bytes overwritten at random (counts, lengths,
  types, offsets), written to a file and opened + estimated;
- tensor tables and special files: duplicates across shards, overlapping offsets, huge
  counts, a FIFO and a device named *.gguf, through the CLI;
- remote: every behaviour of tests/support/hostile_http.py against the remote reader;
- user files: machine presets, scenario presets, probe history lines and cache entries, broken
  every way the tests know, through the CLI and the loaders;
- bounds: `-ot` patterns that backtrack for ever in a regex engine, thousands of rules, machine
  files with thousands of BIOS steps, names ending in a newline or naming a Windows device, and
  numbers that are digits to str.isdigit() but not to int() ("²"), through the CLI.
- the probe (bench/hostile_probe_cases.py): a 64 MiB probe history (garbage, then valid) read
  by `check` and `probe --history`; server numbers that are not numbers; a slow server and a
  180K-model listing under one --timeout; a 190K-file Hub listing and 65 quants for `quants`;
  a config.toml the app cannot parse, never overwritten.
- names shown: a model's `general.name` and file name, a preset's description, a user machine's
  name and id holding terminal escapes (OSC 52, CSI 2J, BEL, C1 U+009B), markup (`[/]`,
  `[red]`) or 100 KB of text, through every command that shows them.
Every CLI run counts an escape, BEL or C1 control on its stdout or stderr as an internal error.
Peak memory is the process's maximum resident set (resource.getrusage) after each class.
Run: `python -m bench hostile` (about two minutes on two cores).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench import hostile_probe_cases as probe_cases
from tests.support.hostile import Tally, mutations, pipeline, run_case
from tests.support.hostile_http import BEHAVIOURS, hostile_server
from vramtui.cli.main import main as cli
from vramtui.core.errors import VramtuiError
from vramtui.core.gguf.reader import read_gguf_header
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf
from vramtui.core.model.source import open_model
from vramtui.core.remote.header import RemoteOptions, open_remote_model

METADATA_INPUTS = 3000
HEADER_INPUTS = 3000
FILE_ROUNDS = 3
BOUND_S = 5.0  # per input in process; far above any one answer (milliseconds)
REMOTE_TOTAL_S = 2.0


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _metadata(tally: Tally) -> None:
    for what, spec in mutations(seed=10, count=METADATA_INPUTS):
        run_case(tally, what, lambda spec=spec: pipeline(spec), BOUND_S)  # type: ignore[misc]


def _inspect(tally: Tally) -> None:
    """The same mutations through `inspect` (its facts, JSON and table)."""
    from vramtui.cli.inspect_cmd import inspect_data, render  # noqa: PLC0415 - the CLI's own view

    for what, spec in mutations(seed=12, count=METADATA_INPUTS // 2):

        def work(spec: ModelSpec = spec) -> None:
            data = inspect_data(spec)
            json.dumps(data, default=str)
            with _quiet():
                render(data)

        run_case(tally, what, work, BOUND_S)


_EDGE = (b"\xff" * 8, b"\x00" * 8, b"\x7f" + b"\xff" * 7, b"\x01\x00\x00\x80", b"\xfe\xff\xff\xff")


def _headers(tally: Tally, folder: Path) -> None:
    spec = open_model("qwen3-30b-a3b:Q4_K_M")
    base = write_sparse_gguf(folder / "base.gguf", spec, tokenizer=False)
    size = base.stat().st_size  # sparse: ~18 GB apparent, a few KB on disk
    header_end = read_gguf_header(base).data_offset
    with base.open("rb") as fh:
        raw = fh.read(header_end)
    rng = random.Random(11)
    target = folder / "mutated.gguf"
    for i in range(HEADER_INPUTS):
        data = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(0, header_end - 8)
            if rng.random() < 0.5:
                patch = rng.choice(_EDGE)
            else:
                patch = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            data[at : at + len(patch)] = patch
        target.write_bytes(bytes(data))
        os.truncate(target, size)  # the data section stays a hole
        run_case(
            tally, f"header #{i}", lambda: pipeline(open_model(str(target), mmproj="none")), BOUND_S
        )


@contextlib.contextmanager
def _quiet() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


def _cli_case(tally: Tally, what: str, argv: list[str]) -> None:
    """A CLI run: exit 70 or a traceback is an internal error; SystemExit 2 is a refusal."""

    def work() -> None:
        with _quiet() as (out, err):
            try:
                code = cli(argv)
            except SystemExit as exc:
                code = int(exc.code or 0)
        text = err.getvalue()
        shown = out.getvalue() + text
        if code == 70 or "Traceback" in text or any(c in shown for c in _RAW):
            raise RuntimeError(f"exit {code}: {text.strip()[:160]!a}")
        if code == 2:
            raise VramtuiError(text.strip())

    run_case(tally, what, work, BOUND_S * 4)


def _special_files(tally: Tally, folder: Path) -> None:
    fifo = folder / "trap.gguf"
    if not fifo.exists():
        os.mkfifo(fifo)
    tree = folder / "tree"
    tree.mkdir(exist_ok=True)
    if not (tree / "x.gguf").exists():
        os.mkfifo(tree / "x.gguf")
    evil = folder / "\x1b[2Jevil.gguf"
    evil.write_bytes(b"GGUF" + b"\xff" * 60)
    for _ in range(FILE_ROUNDS):
        for target in (str(fifo), "/dev/zero", "/dev/null", str(folder), str(evil), "http://[::1"):
            for verb in ("inspect", "estimate"):
                _cli_case(tally, f"{verb} {target!r}", [verb, target, "--mmproj", "none"])
        _cli_case(tally, "models --dir with a FIFO", ["models", "--dir", str(tree)])
        _cli_case(tally, "preset import /dev/zero", ["preset", "import", "/dev/zero"])
        _cli_case(tally, "preset import FIFO", ["preset", "import", str(fifo)])


def _remote(tally: Tally) -> None:
    path = Path(tempfile.mkdtemp(prefix="vramtui-hostile-")) / "m.gguf"
    write_sparse_gguf(path, open_model("llama-3.1-8b:Q4_K_M"), tokenizer=True)
    with path.open("rb") as fh:
        data = fh.read(3 << 20)  # the header (and the start of the sparse data)
    options = RemoteOptions(
        connect_timeout=0.5, read_timeout=0.5, total_timeout=REMOTE_TOTAL_S, use_cache=False
    )
    with hostile_server(data, drip_s=0.05) as server:
        for behaviour in BEHAVIOURS:
            url = server.url(behaviour)

            def work(url: str = url) -> object:
                return open_remote_model(url, mmproj="none", options=options)

            run_case(tally, behaviour, work, REMOTE_TOTAL_S + 1.0)


def _user_files(tally: Tally, folder: Path) -> None:
    from vramtui.core.hardware.presets import load_machines  # noqa: PLC0415 - after the env is set
    from vramtui.core.paths import bundled_presets_dir, user_machines_dir  # noqa: PLC0415
    from vramtui.core.probe.history import history_path, load_history  # noqa: PLC0415

    machines = user_machines_dir()
    machines.mkdir(parents=True, exist_ok=True)
    values = (
        "nan",
        "inf",
        "-inf",
        "1e300",
        "-1",
        "0",
        '"x"',
        "[[[[1]]]]",
        "true",
        "[" * 5000 + "]" * 5000,
    )
    keys = ("total_ram_gib", "bandwidth_gbps", "fp16_tflops", "carve_out_steps_mib", "gpu_vram_gib")
    base = (bundled_presets_dir() / "desktop-rtx-4090.toml").read_text().splitlines()
    for key in keys:
        for value in values:
            lines = [f"{key} = {value}" if line.startswith(f"{key} =") else line for line in base]
            (machines / "m.toml").write_text("\n".join(lines) + "\n")
            run_case(
                tally, f"machine {key}={value[:20]}", lambda: _must_skip(load_machines()), BOUND_S
            )
    (machines / "m.toml").unlink()
    history = history_path()
    history.parent.mkdir(parents=True, exist_ok=True)
    for line in (
        "[" * 50_000,
        "{" * 1000 + "}" * 1000,
        json.dumps({"timestamp": 1}),
        "\xff\xfe",
        "x" * 300_000,
    ):
        history.write_text(line + "\n")
        run_case(tally, f"history {line[:12]!r}", load_history, BOUND_S)
        _cli_case(tally, f"probe --history {line[:12]!r}", ["probe", "--history"])
    for preset in ("a = " + "[" * 20_000, "format = nan", "model = 1", "\x00\x01", "[" * 100):
        (folder / "p.toml").write_text(preset)
        _cli_case(
            tally, f"preset import {preset[:12]!r}", ["preset", "import", str(folder / "p.toml")]
        )


_ZBOOK = "hp-zbook-ultra-g1a-64gb"
_MODEL = "llama-3.1-8b:Q4_K_M"


def _bounds(tally: Tally) -> None:
    from vramtui.core.paths import bundled_presets_dir, user_machines_dir  # noqa: PLC0415

    for pattern in ("(.|.)*Z", "(a*)*b", "(a|aa)+$", ".*" * 60 + "Z", "(?=x)a", r"\1", "a{99}"):
        _cli_case(tally, f"-ot {pattern[:16]!r}", ["plan", _MODEL, "-ot", f"{pattern}=CPU"])
    _cli_case(tally, "-ot 5000 rules", ["plan", _MODEL, "-ot", ",".join(["a=CPU"] * 5000)])
    _cli_case(tally, "-ot 500 rules", ["plan", _MODEL, "-ot", ",".join(["a=CPU"] * 500)])
    base = (bundled_presets_dir() / f"{_ZBOOK}.toml").read_text()
    for count in (65, 8500, 125_000):
        steps = ", ".join(str(512 + i) for i in range(count))
        text = base.replace(f'id = "{_ZBOOK}"', 'id = "many"')
        lines = [
            f"carve_out_steps_mib = [{steps}]" if line.startswith("carve_out_steps_mib") else line
            for line in text.splitlines()
        ]
        machines = user_machines_dir()
        machines.mkdir(parents=True, exist_ok=True)
        (machines / "many.toml").write_text("\n".join(lines) + "\n")
        _cli_case(tally, f"{count} BIOS steps", ["recommend", _MODEL, "--machine", "many"])
        (machines / "many.toml").unlink()
    for name in ("evil\n", "con", "nul.toml", "COM1", "lpt9"):
        argv = ["preset", "save", name, _MODEL, "--machine", _ZBOOK]
        _cli_case(tally, f"preset save {name!r}", argv)
        _cli_case(tally, f"detect --save {name!r}", ["detect", "--save", name])
    for port in ("²", "٣", "1_0", "0", "9" * 400):
        node = f"{_ZBOOK}@10.0.0.2:{port}"
        _cli_case(
            tally,
            f"--node port {port[:8]!r}",
            ["cluster", _MODEL, "--node", node, "--node", _ZBOOK],
        )
    _cli_case(tally, "--image-size ²x512", ["check", _MODEL, "--image-size", "²²x512"])


_RAW = tuple(chr(c) for c in (0x1B, 0x07, *range(0x80, 0xA0)))
_NAMES = (
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b[2J\x1b[H",
    "\u009b31m",
    "box [/]",
    "[red]x[/red] [bold",
    "\u202eevil\u2066",
    "n\nwill not fit\r",
    "x" * 100_000,
)


def _names(tally: Tally, folder: Path) -> None:
    from tests.support.gguf_files import write_tiny_model  # noqa: PLC0415 - test data writer
    from vramtui.core.paths import bundled_presets_dir, user_machines_dir  # noqa: PLC0415

    folder.mkdir(exist_ok=True)
    machines = user_machines_dir()
    machines.mkdir(parents=True, exist_ok=True)
    base = (bundled_presets_dir() / "desktop-rtx-4090.toml").read_text()
    for i, name in enumerate(_NAMES):
        stem = name.replace("/", "_").replace("\n", "_")[:200]
        model = write_tiny_model(folder / f"{i}-{stem}-Q4_K_M.gguf", name=name)
        box = f"box-{i}-{name[:60]}"
        lines = [
            f"name = {json.dumps(name)}"
            if line.startswith("name =")
            else f"id = {json.dumps(box)}"
            if line.startswith("id =")
            else line
            for line in base.splitlines()
        ]
        (machines / f"n{i}.toml").write_text("\n".join(lines) + "\n")
        on = ["--machine", box]
        for argv in (
            ["inspect", str(model)],
            ["check", str(model), *on],
            ["plan", str(model), *on],
            ["recommend", str(model), *on],
            ["quants", str(folder), *on],
            ["models", "--dir", str(folder)],
            ["machines"],
            ["preset", "save", f"n{i}", str(model), *on, "--description", name, "--force"],
            ["preset", "list"],
            ["preset", "show", f"n{i}"],
        ):
            _cli_case(tally, f"{argv[0]} named {name[:16]!r}", argv)


def _must_skip(catalog: object) -> None:
    """A valid value loads; a bad one is one problem line (reported and skipped: a refusal)."""
    problems = getattr(catalog, "problems", ())
    if len(problems) > 1:
        raise AssertionError(f"expected at most one problem line, got {problems}")
    if problems:
        raise VramtuiError(problems[0])


def _run(name: str, work: Callable[[Tally], None]) -> Tally:
    tally = Tally()
    started = time.perf_counter()
    work(tally)
    took = time.perf_counter() - started
    internal = len(tally.internal or [])
    hangs = len(tally.slow or [])
    print(
        f"{name:<22} {tally.tried:>6} {tally.answered:>8} {tally.refused:>7} {internal:>8} "
        f"{hangs:>5} {tally.worst_s:>8.2f} {_peak_mib():>9.0f} {took:>6.1f}"
    )
    for line in (tally.internal or [])[:5] + (tally.slow or [])[:5]:
        print(f"    ! {line}")
    return tally


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="vramtui-hostile-") as tmp:
        root = Path(tmp)
        for name in ("CONFIG", "CACHE", "DATA"):
            (root / name).mkdir()
            os.environ[f"VRAMTUI_{name}_DIR"] = str(root / name)
        print(
            f"{'class':<22} {'tried':>6} {'answered':>8} {'refused':>7} {'internal':>8} "
            f"{'hangs':>5} {'worst s':>8} {'peak MiB':>9} {'took s':>6}"
        )
        tallies = [
            _run("metadata values", _metadata),
            _run("metadata via inspect", _inspect),
            _run("header bytes", lambda t: _headers(t, root)),
            _run("special files (CLI)", lambda t: _special_files(t, root)),
            _run("remote behaviours", _remote),
            _run("user files and caches", lambda t: _user_files(t, root)),
            _run("bounds (CLI)", _bounds),
            _run("probe history 64 MiB", lambda t: probe_cases.probe_history(t, _cli_case)),
            _run("probe server numbers", lambda t: probe_cases.probe_numbers(t, _cli_case)),
            _run("probe one deadline", lambda t: probe_cases.probe_deadline(t, _cli_case)),
            _run("quants hub listing", lambda t: probe_cases.hub_listing(t, _cli_case)),
            _run("app config kept", probe_cases.app_config),
            _run("names shown (CLI)", lambda t: _names(t, root / "names")),
        ]
    tried = sum(t.tried for t in tallies)
    internal = sum(len(t.internal or []) for t in tallies)
    hangs = sum(len(t.slow or []) for t in tallies)
    print(
        f"total: {tried} inputs, {internal} internal errors, {hangs} hangs "
        f"(target 0 and 0), peak RSS {_peak_mib():.0f} MiB"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
