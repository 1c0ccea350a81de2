"""The ROCm release as an input to prefill (core/speed/releases.py): it slows prefill only inside
a window of llama.cpp builds the check rows measured slow, says so in a note, and leaves
every other run alone. Whether the factor holds rows of models it was not fitted on is scored
by the bench (`python -m bench speed`, "check rows"); here, that the check rows behind each
window exist and are slow, and that every face gets the same answer."""

from __future__ import annotations

import json

import pytest

from bench import speed_bands
from bench.speed_field import load_field_rows
from bench.speed_rows import fit, load_check_rows, predict, row_build, row_release
from vramtui.cli.main import main
from vramtui.core.estimate.flags import FLAGS
from vramtui.core.speed import bands_fitted
from vramtui.core.speed.bands import prefill_build_factor, release_factor
from vramtui.core.speed.releases import RELEASE_WINDOWS, STRIX_HALO_ROCM, release_window
from vramtui.core.vocab import ExitCode, ReasonCode, RocmRelease

MODEL = "gpt-oss-20b:MXFP4"
STRIX_ROCM = ("--machine", "framework-desktop-128gb", "--os", "linux", "--backend", "rocm")
CODE = ReasonCode.ROCM_RELEASE_SLOW_PREFILL


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    rc = main(["check", MODEL, *argv, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return rc, data


def test_the_choices_are_the_vocabulary() -> None:
    assert FLAGS["rocm_release"].choices == tuple(r.value for r in RocmRelease)
    assert FLAGS["rocm_release"].default == RocmRelease.CURRENT


@pytest.mark.parametrize("window", RELEASE_WINDOWS, ids=lambda w: w.release.value)
def test_each_window_rests_on_slow_check_rows(window: object) -> None:
    """Every window has check rows inside it, of more than one model, and most of them ran
    prefill well below the prediction (not all: Llama 2 7B Q4_0 on the 7.x alpha at build
    7423 ran at full speed); its shipped factor is theirs."""
    rows = load_check_rows()
    table, fb, _ = fit(speed_bands.load_rows())
    inside = [r for r in rows if r.test == "pp" and speed_bands.row_window(r) == window]
    assert len({r.model for r in inside}) >= 2
    ratios = [r.measured / predict(r, table, fb) for r in inside]
    assert sum(x < 0.75 for x in ratios) > len(ratios) / 2
    factor, n = release_factor(window)  # type: ignore[arg-type]
    assert n == len(inside) and min(ratios) <= factor <= max(ratios)


def test_rows_just_outside_a_window_ran_at_full_speed() -> None:
    """The same release at the window's end build ran within 25 % of the prediction (check and
    field rows): the window, not the release, is what is slow."""
    rows = load_check_rows() + load_field_rows()
    table, fb, _ = fit(speed_bands.load_rows())
    for window in RELEASE_WINDOWS:
        after = [
            r
            for r in rows
            if r.test == "pp"
            and row_release(r) == window.release
            and row_build(r) == window.end_build
            and r.model != "gpt-oss-20b:MXFP4"  # 20b runs ~+19 % on every ROCm release
        ]
        assert after, window.release
        for r in after:
            assert abs(predict(r, table, fb) / r.measured - 1) <= 0.25, r.id


def test_the_shipped_factors_are_the_benchs() -> None:
    assert speed_bands.compute()["releases"] == bands_fitted.RELEASE_FACTOR


def test_a_release_matters_only_inside_its_window() -> None:
    slow = RocmRelease.R7_2_0
    assert release_window(STRIX_HALO_ROCM, slow, 7938) is not None
    assert release_window(STRIX_HALO_ROCM, slow, 8180) is None  # measured at full speed there
    assert release_window(STRIX_HALO_ROCM, slow, None) is None  # a current build
    assert release_window(STRIX_HALO_ROCM, RocmRelease.CURRENT, 7938) is None
    assert release_window("vulkan.radv/linux/strix_halo", slow, 7938) is None
    assert release_window("rocm/windows/strix_halo", slow, 7938) is None
    inside = prefill_build_factor(STRIX_HALO_ROCM, 7938, slow)
    outside = prefill_build_factor(STRIX_HALO_ROCM, 7938, RocmRelease.CURRENT)
    assert inside == pytest.approx(outside * bands_fitted.RELEASE_FACTOR["7.2.0"][0])


def test_check_slows_prefill_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    build = ("--llama-build", "7938")
    rc_plain, plain = _check(capsys, *STRIX_ROCM, *build)
    rc_slow, slow = _check(capsys, *STRIX_ROCM, *build, "--rocm-release", "7.2.0")
    assert CODE not in plain["reasons"]  # type: ignore[operator]
    assert CODE in slow["reasons"]  # type: ignore[operator]
    # a note on speed, like slow decode: it changes no verdict or exit code; the backend advice
    # now names Vulkan for long prompts, the rest of the advice is the same
    assert rc_slow == rc_plain == ExitCode.OK
    assert slow["verdict"] == plain["verdict"]
    switch = ["--backend", "vulkan"]
    advice = {"plain": plain["advice"], "slow": slow["advice"]}
    assert [a for a in advice["slow"] if a["args"] != switch] == [  # type: ignore[attr-defined, index]
        a
        for a in advice["plain"]
        if a["args"] != switch  # type: ignore[attr-defined, index]
    ]
    assert any(a["args"] == switch for a in advice["slow"])  # type: ignore[attr-defined, index]
    assert not any(a["args"] == switch for a in advice["plain"])  # type: ignore[attr-defined, index]
    factor = bands_fitted.RELEASE_FACTOR["7.2.0"][0]
    ratio = slow["prefill_tokens_per_second"] / plain["prefill_tokens_per_second"]  # type: ignore[operator]
    assert ratio == pytest.approx(factor, rel=1e-3)
    assert slow["decode_tokens_per_second"] == plain["decode_tokens_per_second"]
    low, high = slow["prefill_tokens_per_second_range"]  # type: ignore[misc]
    assert low <= slow["prefill_tokens_per_second"] <= high
    message = " ".join(str(m) for m in slow["messages"])  # type: ignore[attr-defined]
    assert "ROCm 7.2.0 at llama.cpp build 7938" in message and "8180" in message


def test_the_text_face_says_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", MODEL, *STRIX_ROCM, "--llama-build", "7700", "--rocm-release", "nightly"]
    assert main(argv) == ExitCode.OK
    out = capsys.readouterr().out
    assert f"info: {CODE.value} a ROCm nightly (TheRock) at llama.cpp build 7700" in out


@pytest.mark.parametrize(
    "argv",
    [
        ("--rocm-release", "7.2.0"),  # a current build: past the window
        ("--rocm-release", "7.2.0", "--llama-build", "8577"),
        ("--rocm-release", "6.4", "--llama-build", "7938"),
    ],
)
def test_outside_a_window_nothing_changes(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    build = [a for i, a in enumerate(argv) if i and argv[i - 1] == "--llama-build"]
    _, plain = _check(capsys, *STRIX_ROCM, *(("--llama-build", *build) if build else ()))
    _, given = _check(capsys, *STRIX_ROCM, *argv)
    assert given["prefill_tokens_per_second"] == plain["prefill_tokens_per_second"]
    assert CODE not in given["reasons"]  # type: ignore[operator]


def test_a_vulkan_run_ignores_the_rocm_release(capsys: pytest.CaptureFixture[str]) -> None:
    vulkan = ("--machine", "framework-desktop-128gb", "--os", "linux", "--backend", "vulkan")
    _, plain = _check(capsys, *vulkan, "--llama-build", "7938")
    _, given = _check(capsys, *vulkan, "--llama-build", "7938", "--rocm-release", "7.2.0")
    assert given["prefill_tokens_per_second"] == plain["prefill_tokens_per_second"]


def test_a_release_the_data_cannot_tell_apart_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", MODEL, *STRIX_ROCM, "--rocm-release", "7.2"])
    assert exited.value.code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rocm-release '7.2' is not one of" in err[0]
