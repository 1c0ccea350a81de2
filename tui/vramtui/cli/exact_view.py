"""`--exact` for `estimate` and `check`: llama.cpp's own dry run beside the instant estimate.

The figures come from `vramtui.core.estimate.exact`; this module adds the flag, fails fast (one
line, exit 2) without llama.cpp's package, and prints the comparison table.
"""

from __future__ import annotations

import argparse
from typing import Any

from vramtui.cli.common import console
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.present import untrusted
from vramtui.present.exact_words import build_lines, mib, run_title


def add_exact_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--exact",
        action="store_true",
        help="also run llama.cpp's own dry run on the model (a second or so) and show "
        "its figures beside the estimate; needs vramtui[exact]",
    )


def require_exact(args: argparse.Namespace) -> None:
    """Fail at once (one line, exit 2) when --exact is asked for without llama.cpp."""
    from vramtui.core.estimate.exact import ExactUnavailable, exact_available  # noqa: PLC0415

    if getattr(args, "exact", False) and not exact_available():
        raise ExactUnavailable


def exact_report_for(
    args: argparse.Namespace, spec: ModelSpec, settings: RuntimeSettings, backend: str
) -> dict[str, Any] | None:
    """llama.cpp's figures for a verdict on `backend` (the fit's), with --exact: the same call
    the app's exact screen makes (`exact_report`)."""
    if not getattr(args, "exact", False):
        return None
    from vramtui.core.estimate.exact import exact_report  # noqa: PLC0415 - lazy: only with --exact

    return exact_report(spec, settings, backend=backend)


def print_exact(report: dict[str, Any] | None, *, approximate: bool) -> None:
    """llama.cpp's figures beside the instant estimate, or the hint to ask for them."""
    from rich.table import Table  # noqa: PLC0415 - lazy: keeps startup fast

    from vramtui.core.estimate.exact import (  # noqa: PLC0415
        EXACT_HINT,
        INSTALL_HINT,
        comparison_rows,
        exact_available,
    )

    out = console()
    if report is None:
        if approximate:
            extra = "" if exact_available() else f" (add it with: {INSTALL_HINT})"
            out.print(f"hint: {EXACT_HINT}{extra}", markup=False)
        return
    table = Table(title=untrusted.text(run_title(report), limit=300))
    for col in ("", "instant", "llama.cpp", "difference"):
        table.add_column(col, justify="left" if not col else "right")
    for label, ours, theirs, diff, pct in comparison_rows(report):
        pct_text = f" ({pct:+.1f} %)" if pct is not None else ""
        table.add_row(label, mib(ours), mib(theirs), f"{diff / 2**20:+,.0f} MiB{pct_text}")
    out.print(table)
    backend = report["instant"]["backend"]
    out.print(f"llama.cpp prints whole MiB; instant: the estimate for a {backend} build")
    for line in build_lines(report):
        out.print(untrusted.text(line, limit=400))
