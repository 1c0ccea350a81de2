"""Exact mode: llama.cpp's own dry run beside the instant estimate, from the command line and the
core, on local files, remote headers served from loopback, catalog models and unknown
architectures. Tests that run llama.cpp skip without its package (`vramtui[exact]`)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.oracle.longtail_models import LONGTAIL_MODELS
from tests.support.http_server import serve
from tests.support.oracle_models import MODELS
from vramtui.cli.main import main
from vramtui.core.catalog.synth import synthesize_spec
from vramtui.core.estimate.exact import (
    ExactEstimate,
    ExactFailed,
    ExactPlace,
    compare,
    exact_memory,
    header_identity,
    sparse_header_file,
)
from vramtui.core.estimate.llama_dry_run import DryRun, parse_line
from vramtui.core.estimate.memory import estimate_memory
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.gguf.writer import write_sparse_gguf

MIB = 2**20
ROOT = Path(__file__).resolve().parent.parent
ALL = {**MODELS, **LONGTAIL_MODELS}
needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None,
    reason="exact mode needs llama.cpp's Python package: pip install 'vramtui[exact]'",
)


def _spec(name: str) -> ModelSpec:
    md, quant = ALL[name]
    return synthesize_spec(md, quant, name=name, source="test")


class _Files(dict[str, Path]):
    """name -> sparse file, written on first use."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, name: str) -> Path:
        self[name] = write_sparse_gguf(self.root / f"{name}-Q4_K_M.gguf", _spec(name))
        return self[name]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _Files(tmp_path_factory.mktemp("exact"))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- without llama.cpp's package: one line, exit 2


@pytest.mark.parametrize("command", ["estimate", "check"])
def test_without_the_extra_one_line_and_exit_2(files: dict[str, Path], command: str) -> None:
    """The package is made unimportable in a child interpreter (sys.modules entry None)."""
    argv = [command, str(files["Qwen2.5-7B"]), "--exact"]
    if command == "check":
        argv += ["--machine", "hp-zbook-ultra-g1a-64gb", "--carve-out", "32G"]
    code = (
        "import sys; sys.modules['xllamacpp'] = None\n"
        "from vramtui.cli.main import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "pip install 'vramtui[exact]'" in lines[0]


# -- pieces that need no llama.cpp


def test_gpu_table_rows_and_backend() -> None:
    """Rows shaped after llama.cpp common/fit.cpp common_memory_breakdown_print templates."""
    from vramtui.core.estimate.exact import from_dry_run  # noqa: PLC0415 - test-local import

    run = DryRun()
    lines = [
        "0.01 I common_memory_breakdown_print: | memory breakdown [MiB] | total   free    self "
        "  model   context   compute    unaccounted |",
        "0.01 I common_memory_breakdown_print: |   - CUDA0 (RTX 4090)     | 24080 = 19000 + "
        "( 4900 =  4460 +     288 +     152) +         180 |",
        "0.01 I common_memory_breakdown_print: |   - Host                 |                 "
        "  432 =   417 +       0 +      15                |",
    ]
    done = [parse_line(run, line) for line in lines]
    assert done == [False, False, True]
    exact = from_dry_run(run, "file")
    assert exact.backend == "cuda"
    assert (exact.model_bytes, exact.context_bytes, exact.compute_bytes) == (
        4877 * MIB,
        288 * MIB,
        167 * MIB,
    )
    assert [p.name for p in exact.places] == ["CUDA0", "Host"]
    assert exact.places[0].description == "RTX 4090"


def test_header_identity_and_sparse_copy(tmp_path: Path) -> None:
    spec = _spec("Qwen2.5-7B")
    assert header_identity(spec) == header_identity(replace(spec, name="x", source="y"))
    t0 = spec.tensors[0]
    changed = replace(spec, tensors=(replace(t0, ggml_type=0), *spec.tensors[1:]))
    assert header_identity(changed) != header_identity(spec)
    split = replace(spec, metadata={**spec.metadata, "split.count": 3, "split.no": 0})
    path = sparse_header_file(split, tmp_path)
    from vramtui.core.gguf.files import read_model_file  # noqa: PLC0415 - test-local import

    back = read_model_file(path)
    assert not any(k.startswith("split.") for k in back.metadata)
    assert back.weights_bytes == spec.weights_bytes
    mtime = path.stat().st_mtime_ns
    assert sparse_header_file(split, tmp_path) == path and path.stat().st_mtime_ns == mtime
    assert path.stat().st_blocks * 512 < 64 * MIB < path.stat().st_size  # a hole, not data


def test_compare_is_instant_minus_exact_at_mib_resolution() -> None:
    spec = _spec("Qwen2.5-7B")
    s = RuntimeSettings(ctx_size=8192)
    bd = estimate_memory(spec, s, backend="cpu")
    j = bd.to_json()
    model_mib, ctx_mib = j["weights_bytes"] // MIB, j["kv_bytes"] // MIB
    exact = ExactEstimate(
        model_bytes=(model_mib - 1) * MIB,
        context_bytes=ctx_mib * MIB,
        compute_bytes=100 * MIB,
        places=(ExactPlace("Host", "", 0, 0, 0),),
        llama_cpp_version="b1",
        backend="cpu",
        ran_on="file",
        seconds=0.5,
    )
    got = compare(exact, bd)
    assert got["difference"]["model_bytes"] == MIB
    assert got["difference"]["context_bytes"] == 0
    compute_mib = j["compute_host_bytes"] // MIB
    assert got["difference"]["compute_bytes"] == (compute_mib - 100) * MIB
    assert got["difference"]["compute_percent"] == round((compute_mib - 100), 2)
    assert got["instant"]["backend"] == "cpu"


# -- with llama.cpp


@needs_llama
@pytest.mark.oracle
@pytest.mark.parametrize("name", ["Llama-4-Scout", "Gemma-3n-E4B", "DeepSeek-V2-Lite"])
def test_estimate_exact_json_on_long_tail_files(
    files: dict[str, Path], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--exact` beside the estimate: llama.cpp's figures, and the instant estimate within 2 %."""
    code, out, err = _run(capsys, "estimate", str(files[name]), "-c", "32768", "--exact", "--json")
    assert code == 0, err
    exact = json.loads(out)["exact"]
    for key in ("model_bytes", "context_bytes", "compute_bytes", "llama_cpp_version", "backend"):
        assert key in exact, key
    assert exact["ran_on"] == "file" and exact["backend"] == "cpu"
    assert "xllamacpp" in exact["llama_cpp_version"]
    assert exact["model_bytes"] > 1000 * MIB and exact["context_bytes"] > 0
    diff = exact["difference"]
    assert diff["model_bytes"] == 0 and diff["context_bytes"] == 0
    assert abs(diff["compute_percent"]) <= 10
    assert abs(diff["total_percent"]) <= 2


@needs_llama
@pytest.mark.oracle
def test_exact_answers_are_cached_by_header_identity(files: dict[str, Path]) -> None:
    from vramtui.core.model.source import open_model  # noqa: PLC0415 - test-local import

    spec = open_model(str(files["Qwen2.5-7B"]))
    s = RuntimeSettings(ctx_size=8192)
    first = exact_memory(spec, s)
    again = exact_memory(replace(spec, name="renamed"), s)
    assert not first.cached and again.cached
    assert (again.model_bytes, again.context_bytes, again.compute_bytes) == (
        first.model_bytes,
        first.context_bytes,
        first.compute_bytes,
    )
    other = exact_memory(spec, s.with_changes(ctx_size=4096))
    assert not other.cached and other.context_bytes * 2 == first.context_bytes


@needs_llama
@pytest.mark.oracle
def test_remote_header_from_loopback_gives_the_files_figures(files: dict[str, Path]) -> None:
    from vramtui.core.model.source import open_model  # noqa: PLC0415 - test-local import

    s = RuntimeSettings(ctx_size=16384)
    local = exact_memory(open_model(str(files["Qwen2.5-7B"])), s, use_cache=False)
    with serve() as server:
        url = server.add_file("/Qwen2.5-7B-Q4_K_M.gguf", files["Qwen2.5-7B"])
        remote_spec = open_model(url, mmproj="none")
        sent = server.bytes_sent()
        remote = exact_memory(remote_spec, s, use_cache=False)
        assert server.bytes_sent() == sent  # llama.cpp ran on the header copy, no download
    assert remote.ran_on == "header" and local.ran_on == "file"
    assert sent < 32 * MIB < files["Qwen2.5-7B"].stat().st_size
    assert (remote.model_bytes, remote.context_bytes, remote.compute_bytes) == (
        local.model_bytes,
        local.context_bytes,
        local.compute_bytes,
    )


@needs_llama
@pytest.mark.oracle
def test_check_exact_on_a_catalog_model(capsys: pytest.CaptureFixture[str]) -> None:
    hp = ["--machine", "hp-zbook-ultra-g1a-64gb", "--carve-out", "32G"]
    code, out, err = _run(capsys, "check", "glm-4.7-flash:Q4_K_M", *hp, "--exact", "--json")
    assert code == 0, err
    exact = json.loads(out)["exact"]
    assert exact["ran_on"] == "header"
    assert exact["difference"]["model_bytes"] == 0
    assert exact["difference"]["context_bytes"] == 0
    code, out, _ = _run(capsys, "check", "glm-4.7-flash:Q4_K_M", *hp, "--exact")
    assert code == 0 and "llama.cpp" in out and "difference" in out


def _unknown_to_vramtui(tmp_path: Path) -> Path:
    """qwen2vl: llama.cpp loads it (qwen2 tensors plus M-RoPE sections); vramtui only knows it
    by the generic rules."""
    spec = _spec("Qwen2.5-7B")
    md = {k.replace("qwen2.", "qwen2vl.", 1): v for k, v in spec.metadata.items()}
    md["general.architecture"] = "qwen2vl"
    md["qwen2vl.rope.dimension_sections"] = (16, 24, 24, 0)
    renamed = replace(spec, metadata=md, synthesized=False)
    return write_sparse_gguf(tmp_path / "Qwen2-VL-shaped.gguf", renamed)


@needs_llama
@pytest.mark.oracle
def test_unknown_architecture_is_approximate_and_exact_mode_is_offered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _unknown_to_vramtui(tmp_path)
    code, out, _ = _run(capsys, "estimate", str(path), "-c", "8192")
    assert code == 0 and "generic rules" in out and "--exact" in out
    code, out, _ = _run(capsys, "estimate", str(path), "-c", "8192", "--exact", "--json")
    data = json.loads(out)
    assert code == 0 and data["approximate"] is True
    assert data["exact"]["difference"]["model_bytes"] == 0
    assert abs(data["exact"]["difference"]["total_percent"]) <= 2


@needs_llama
def test_llama_cpp_refusal_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec("Qwen2.5-7B")
    md = {k.replace("qwen2.", "nonesuch.", 1): v for k, v in spec.metadata.items()}
    md["general.architecture"] = "nonesuch"
    path = write_sparse_gguf(tmp_path / "nonesuch.gguf", replace(spec, metadata=md))
    code, out, err = _run(capsys, "estimate", str(path), "--exact")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "llama.cpp did not size this model" in err and "nonesuch" in err


@needs_llama
def test_time_limit(files: dict[str, Path]) -> None:
    from vramtui.core.model.source import open_model  # noqa: PLC0415 - test-local import

    spec = open_model(str(files["Qwen2.5-7B"]))
    with pytest.raises(ExactFailed, match=r"no answer from llama\.cpp within"):
        exact_memory(spec, RuntimeSettings(), timeout=0.05, use_cache=False)
