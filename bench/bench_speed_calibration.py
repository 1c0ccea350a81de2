"""Speed model vs the ZBook article's measurements (predicted beside measured, residuals) and
fit timing."""

from __future__ import annotations

import statistics
import time


def main() -> None:
    from tests.test_zbook_scenarios import ZBOOK_SPEEDS, zbook_fit  # noqa: PLC0415
    from vramtui.core.sizes import format_bytes  # noqa: PLC0415
    from vramtui.core.speed.predict import decode_seconds  # noqa: PLC0415

    print(
        f"{'model':22} {'ctx':>6} {'carve':>8} {'backend':7} {'verdict':19} "
        f"{'pred':>6} {'meas':>6} {'resid':>6}  reasons"
    )
    residuals = []
    for ref, ctx, carve, backend, measured, made in ZBOOK_SPEEDS:
        fit = zbook_fit(ref, ctx, carve, backend)
        # LM Studio's tok/s averages the answer: decode at half its length cached, as the test
        assert fit.speed.inputs is not None
        pred = 1.0 / decode_seconds(fit.speed.inputs, made / 2)
        resid = pred / measured - 1
        residuals.append(abs(resid))
        print(
            f"{ref:22} {ctx or 'max':>6} {format_bytes(carve, 0):>8} {backend:7} "
            f"{fit.verdict:19} "
            f"{pred:6.2f} {measured:6.2f} {resid:+6.0%}  {','.join(fit.codes)}"
        )
    print(
        f"max |residual| {max(residuals):.0%}, median {statistics.median(residuals):.0%} "
        "(tolerance 30 %)"
    )
    for ref, ctx, carve in (
        ("qwen3-vl-32b:Q5_K_M", 16384, 32 << 30),
        ("qwen3-vl-32b:Q6_K", 16384, 32 << 30),
        ("qwen3-vl-32b:Q6_K", 16384, 48 << 30),
    ):
        fit = zbook_fit(ref, ctx, carve)
        print(
            f"{ref:22} {ctx:>6} {format_bytes(carve, 0):>8} vulkan  {fit.verdict:19} "
            f"{fit.speed.decode_tokens_per_second:6.2f}      -         {','.join(fit.codes)}"
        )
    zbook_fit("glm-4.7-flash:Q4_K_M", 16384, 32 << 30)
    n = 200
    t = time.perf_counter()
    for i in range(n):
        zbook_fit("qwen3-vl-32b:Q4_K_M", 4096 + 256 * i, 32 << 30)
    print(f"evaluate_fit: {(time.perf_counter() - t) / n * 1000:.2f} ms per call")


if __name__ == "__main__":
    main()
