"""ROCm releases that ran prefill slower at some llama.cpp builds on Strix Halo.

A ROCm release is an input to prefill only where public rows show it matters: two releases,
each at a span of llama.cpp builds, on the Strix Halo Linux ROCm class. Each window names the
first build it is known to slow and the first build measured at full speed again with that
release; its factor (measured / predicted prefill inside it) is fitted on the check rows of
tests/data/speed_rows_check.toml and written to `bands_fitted.RELEASE_FACTOR` by the bench
(`python -m bench.speed_rows --write-constants`), which scores each check row with the factor
fitted without that row's model. Outside a window, and for every other release, class and
figure, the release changes nothing: decode ran within a few per cent across all of them.

Sources:
- llama.cpp's bug report "Performance regression using ROCm on Strix Halo" (2025-12-10): prompt
  processing on Strix Halo with ROCm 7.x slowed several-fold at build 7349, bisected to the
  change "HIP: enable WMMA-MMQ INT kernels for RDNA 3"; the reporter ran TheRock's ROCm 7.
- kyuz0/amd-strix-halo-toolboxes benchmark results (2025-10-12 .. 2026-05-12, the check rows):
  at builds 7423 and 7670 the nightly (and 7.x alpha) toolboxes ran prefill about half as fast
  as ROCm 6.4.4 and 7.1.1 at the same build (five rows of six; Llama 2 7B Q4_0 on the alpha at
  build 7423 ran at full speed); at build 7938 the nightlies were at full speed again. ROCm
  7.2.0 ran prefill about a third as fast at builds 7816 and 7938; 7.2.1 and later never slowed.
- llama.cpp's bug report "Under-Performance of Linux ROCm 7.2 binaries" (2026-02-28): an HP
  ZBook Ultra G1a 128 GB ran ROCm 7.2.0 with llama.cpp build 8180, compiled by the reporter and
  run with ROCBLAS_USE_HIPBLASLT=0, at full speed (a field row): the first build measured at
  full speed with 7.2.0, so the window ends there. Whether the build or that setting made the
  difference, no public row says.
"""

from __future__ import annotations

from dataclasses import dataclass

from vramtui.core.vocab import RocmRelease

STRIX_HALO_ROCM = "rocm/linux/strix_halo"


@dataclass(frozen=True, slots=True)
class ReleaseWindow:
    """A ROCm release that slowed prefill from `first_build` up to (not including)
    `end_build` on the constants key `key`."""

    release: RocmRelease
    key: str
    first_build: int  # the first llama.cpp build known to be slow with it
    end_build: int  # the first build measured at full speed again with it
    measured: str  # where and when the slow rows were measured

    def holds(self, key: str, release: RocmRelease, llama_build: int | None) -> bool:
        """Whether a run of `release` at `llama_build` on `key` falls inside (None: a current
        build, newer than every window)."""
        return (
            key == self.key
            and release == self.release
            and llama_build is not None
            and self.first_build <= llama_build < self.end_build
        )


RELEASE_WINDOWS: tuple[ReleaseWindow, ...] = (
    # the first report's build; the nightlies ran at full speed again at build 7938 (2026-02-09).
    ReleaseWindow(
        RocmRelease.NIGHTLY,
        STRIX_HALO_ROCM,
        7349,
        7938,
        "kyuz0's Strix Halo toolbox benchmarks of 2025-12-21 and 2026-01-23",
    ),
    # 7.2.0 shipped after build 7349; slow at 7816 and 7938, at full speed at 8180 (2026-02-28).
    ReleaseWindow(
        RocmRelease.R7_2_0,
        STRIX_HALO_ROCM,
        7349,
        8180,
        "kyuz0's Strix Halo toolbox benchmarks of 2026-01-23 and 2026-02-09",
    ),
)


def release_window(key: str, release: str, llama_build: int | None) -> ReleaseWindow | None:
    """The window a run of ROCm `release` at `llama_build` on constants key `key` falls in."""
    wanted = RocmRelease(release)
    for window in RELEASE_WINDOWS:
        if window.holds(key, wanted, llama_build):
            return window
    return None
