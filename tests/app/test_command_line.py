"""The app's command line: every flag `check` takes, and a question asked there is answered as
asked, never mixed with the last session."""

from __future__ import annotations

from dataclasses import replace

from vramtui.app.app import VramtuiApp
from vramtui.app.factory import create_app
from vramtui.app.session import save_session
from vramtui.cli.common import overrides_from_args
from vramtui.cli.main import build_app_parser
from vramtui.core.sizes import GiB

MACHINE = "hp-zbook-ultra-g1a-64gb"


def _app_from(argv: list[str]) -> VramtuiApp:
    args = build_app_parser().parse_args(argv)
    return create_app(preset=args.preset, overrides=overrides_from_args(args), discover=False)


def test_the_app_takes_checks_flags_and_they_win_over_the_session() -> None:
    earlier = _app_from(["llama-3.1-8b:Q4_K_M", "--machine", MACHINE, "-c", "8K"])
    choice = earlier._choice
    save_session(replace(choice, settings=choice.settings.with_changes(ctx_size=8192)))
    argv = ["glm-4.7-flash:Q4_K_M", "--machine", MACHINE, "--carve-out", "48G", "-c", "16K"]
    app = _app_from([*argv, "-ctk", "q8_0", "-np", "2"])
    now = app._choice
    assert now.model_ref == "glm-4.7-flash:Q4_K_M"
    assert now.machine.carve_out_bytes == 48 * GiB
    assert now.settings.ctx_size == 16384 and now.settings.cache_type_k == "q8_0"
    assert now.settings.parallel == 2


def test_a_bare_start_restores_the_session() -> None:
    earlier = _app_from(["llama-3.1-8b:Q4_K_M", "--machine", MACHINE, "-c", "8K"])
    save_session(earlier._choice)
    again = _app_from([])
    restored = again._choice
    assert restored.model_ref == "llama-3.1-8b:Q4_K_M" and restored.settings.ctx_size == 8192
