"""Exact mode in the app: llama.cpp's own figures beside the instant estimate for the model on
screen (a catalog model: run on a sparse copy of its header), for the verdict's backend, the
same figures `check --exact --json` gives for the same scenario."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from tests.app.conftest import main_screen, make_app, settle
from tests.rpc.oracle import oracle_bin_dir
from tests.support.waiting import wait_until
from vramtui.app.presets import check_command
from vramtui.app.screens.exact import ExactScreen
from vramtui.cli.main import main
from vramtui.core.estimate.dry_runs.rpc import rpc_available
from vramtui.core.estimate.exact import comparison_rows

pytest.importorskip("xllamacpp", reason="exact mode needs the optional xllamacpp package")


async def _exact_screen(model: str, carve_out: str) -> tuple[list[list[str]], str, str]:
    """The exact screen's rows and status as the `e` key opens it, and the app's check line."""
    app = make_app(model=model, carve_out=carve_out)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        choice = main_screen(app).choice
        assert choice is not None and choice.spec is not None
        main_screen(app).action_exact()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ExactScreen)
        table = screen.query_one("#exact-table", DataTable)
        await wait_until(pilot, lambda: table.row_count, "llama.cpp's dry run")
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        status = str(screen.query_one("#exact-status", Static).render())
        return rows, status, check_command(choice)


async def test_exact_mode_shows_llama_cpp_beside_the_instant_estimate() -> None:
    rows, status, _ = await _exact_screen("qwen3-32b:Q4_K_M", "32G")
    assert len(rows) == 4  # model, context, compute, total
    assert rows[0][0] == "model" and rows[0][1] == rows[0][2]  # equal to the MiB
    assert "llama.cpp" in status and "sparse copy of its header" in status


@pytest.mark.parametrize("build", [pytest.param("rpc", marks=pytest.mark.rpc_oracle), "cpu"])
async def test_exact_screen_gives_the_figures_check_exact_gives(
    build: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The app runs exact mode for the verdict's backend (Vulkan here), as the CLI does: on
    llama.cpp's RPC backend where that build is here, else the CPU build, saying which."""
    if build == "cpu":  # as on a machine without the RPC build
        monkeypatch.setenv("VRAMTUI_RPC_ORACLE_BIN", str(tmp_path / "absent"))
    else:  # marked rpc_oracle: it runs only where the build is (tests/conftest.py)
        monkeypatch.setenv("VRAMTUI_RPC_ORACLE_BIN", str(oracle_bin_dir()))
    assert rpc_available() == (build == "rpc")
    rows, status, line = await _exact_screen("qwen3-32b:Q4_K_M", "32G")
    argv = shlex.split(line)[2:]  # the app's own `vramtui check ...` for this scenario
    capsys.readouterr()
    assert main(["check", *argv, "--exact", "--json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)["exact"]
    assert report["verdict_backend"] == "vulkan"
    assert report["build"] == build
    expected = [
        [label, f"{ours // 2**20:,} MiB", f"{theirs // 2**20:,} MiB"]
        for label, ours, theirs, _, _ in comparison_rows(report)
    ]
    assert [row[:3] for row in rows] == expected
    build_words = "RPC backend as a stand-in" if build == "rpc" else "CPU build, not the vulkan"
    assert build_words in status
