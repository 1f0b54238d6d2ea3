"""The benchmark's verdict: medians of per-round ratios against the targets (no timing here)."""

from __future__ import annotations

import pytest

from bench.service import Result, report


def _results(app_rps: list[float], app_p99: list[float], startup: float = 0.3) -> dict[str, Result]:
    flask = Result(rps=[1000.0, 1000.0, 1000.0], p99_ms=[10.0, 10.0, 10.0], startup_s=[0.3])
    return {
        "bare WSGI": Result(rps=[2000.0] * 3, p99_ms=[5.0] * 3, startup_s=[0.1]),
        "bare Flask": flask,
        "Flask+contract": Result(rps=[950.0] * 3, p99_ms=[10.0] * 3, startup_s=[0.3]),
        "this app": Result(rps=app_rps, p99_ms=app_p99, startup_s=[startup]),
    }


def test_targets_met(capsys: pytest.CaptureFixture[str]) -> None:
    # One bad round does not decide: the median of the per-round ratios does.
    assert report(_results([950.0, 700.0, 920.0], [11.0, 30.0, 11.5]), 100, 100) == 0
    out = capsys.readouterr().out
    assert "0.92x" in out
    assert "rounds 0.70-0.95" in out
    assert "all targets met" in out


@pytest.mark.parametrize(
    ("app_rps", "app_p99", "startup", "logged"),
    [
        ([890.0, 880.0, 990.0], [10.0] * 3, 0.3, 100),  # throughput median 0.89x
        ([1000.0] * 3, [12.5, 12.1, 9.0], 0.3, 100),  # p99 median 1.21x
        ([1000.0] * 3, [10.0] * 3, 0.51, 100),  # start-up over 0.5 s
        ([1000.0] * 3, [10.0] * 3, 0.3, 99),  # a request without its access line
    ],
)
def test_any_missed_target_fails(
    app_rps: list[float], app_p99: list[float], startup: float, logged: int
) -> None:
    assert report(_results(app_rps, app_p99, startup), 100, logged) == 1
