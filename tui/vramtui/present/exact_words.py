"""Exact mode's words, for the CLI (`--exact`) and the app's exact screen alike: where
llama.cpp ran and what the build it ran stands for beside the verdict's backend."""

from __future__ import annotations

from typing import Any

MIB = 2**20


def mib(n: int) -> str:
    return f"{n / MIB:,.2f} MiB"


def run_title(report: dict[str, Any], *, say_cached: bool = False) -> str:
    """llama.cpp's version, its build and what it ran on (and whether the answer came from
    the cache of earlier runs)."""
    where = "the model file" if report["ran_on"] == "file" else "a sparse copy of its header"
    cached = ", from the cache" if say_cached and report.get("cached") else ""
    return (
        f"llama.cpp {report['llama_cpp_version']}, {report['backend']} build, run on "
        f"{where}{cached}"
    )


def build_lines(report: dict[str, Any]) -> list[str]:
    """What the build llama.cpp ran stands for, beside the verdict's backend."""
    verdict, build = report.get("verdict_backend", ""), report.get("build", "cpu")
    lines = []
    if build == "rpc":
        lines.append(
            f"checked on llama.cpp's RPC backend as a stand-in for the {verdict} GPU "
            "(same placement and flash attention as the GPU estimate)"
        )
    elif verdict and verdict != "cpu":
        differs = ", ".join(k.removesuffix("_bytes") for k in report["differs_from_verdict"])
        lines.append(
            f"checked on llama.cpp's CPU build, not the {verdict} GPU of the verdict: "
            f"{differs or 'no figure'} differ(s) between the two builds"
        )
    if "projector_bytes" in report:
        lines.append(
            f"projector: mtmd's warm-up at {report['projector_image_px']} px, "
            f"compute {mib(report['projector_compute_bytes'])}"
        )
    return lines


def exact_status(report: dict[str, Any]) -> str:
    """The app's one paragraph under its exact table: the run, then what its build stands for."""
    lines = [run_title(report, say_cached=True), *build_lines(report)]
    return " ".join(f"{line[0].upper()}{line[1:]}." for line in lines)
