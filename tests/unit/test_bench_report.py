"""The benchmark's verdict: medians of per-round and per-launch ratios against the targets;
the pairing of launches; the OTLP sink.

No timing here: the figures are given, the verdicts are checked.
"""

from __future__ import annotations

import contextlib
import http.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.otlp_sink import OtlpSink
from bench.service import (
    BASELINE,
    JUDGED,
    SERVICE,
    TRACING,
    Result,
    Target,
    measure_startups,
    prod_sample_ratio,
    report,
    targets,
)
from stacks.service.settings import Tracing

FLASK_STARTUP = [0.30, 0.32, 0.50]


def _app(
    rps: list[float] | None = None,
    p99: list[float] | None = None,
    startup: list[float] | None = None,
    logged: int = 100,
) -> Result:
    return Result(
        rps=rps or [1000.0] * 3,
        p99_ms=p99 or [10.0] * 3,
        startup_s=startup or FLASK_STARTUP,
        baseline_startup_s=FLASK_STARTUP,
        completed=100,
        logged=logged,
    )


def _results(app: Result, tracing: Result | None = None) -> dict[str, Result]:
    return {
        "bare WSGI": Result(rps=[2000.0] * 3, p99_ms=[5.0] * 3, startup_s=[0.1] * 3),
        BASELINE: Result(rps=[1000.0] * 3, p99_ms=[10.0] * 3, startup_s=FLASK_STARTUP),
        "Flask+contract": Result(rps=[950.0] * 3, p99_ms=[10.0] * 3, startup_s=[0.3] * 3),
        SERVICE: app,
        TRACING: tracing or _app(),
        "app, tracing 5%": _app(rps=[500.0] * 3),  # not judged: printed only
    }


def test_targets_met(capsys: pytest.CaptureFixture[str]) -> None:
    # One bad round or launch does not decide: the median of the per-pair ratios does (the
    # start-up pairs are each launch and the bare Flask launch just before it).
    app = _app([950.0, 700.0, 920.0], [11.0, 30.0, 11.5], [0.325, 0.32, 0.9])
    assert report(_results(app)) == 0
    out = capsys.readouterr().out
    assert "throughput 0.92x" in out
    assert "rounds 0.70-0.95" in out
    assert "start-up   1.08x" in out
    assert "launches 1.00-1.80" in out
    assert "printed for reference, not judged" in out
    assert "all targets met" in out


@pytest.mark.parametrize(
    "app",
    [
        _app(rps=[890.0, 880.0, 990.0]),  # throughput median 0.89x
        _app(p99=[12.5, 12.1, 9.0]),  # p99 median 1.21x
        _app(startup=[0.34, 0.36, 0.40]),  # start-up ratios 1.13, 1.12, 0.8: median 1.12x
        _app(logged=99),  # a request without its access line
    ],
)
def test_any_missed_target_fails(app: Result) -> None:
    assert report(_results(app)) == 1


def test_tracing_on_is_judged_too(capsys: pytest.CaptureFixture[str]) -> None:
    slow = _app(rps=[800.0] * 3)
    slow.exports = 0
    assert report(_results(_app(), tracing=slow)) == 1
    assert "this build does not trace" in capsys.readouterr().out


def test_the_otlp_sink_accepts_and_counts_trace_exports() -> None:
    with OtlpSink() as sink:
        host, port = sink.endpoint.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        for body in (b"\x0a\x00", b"spans"):  # one keep-alive connection, as the exporter
            connection.request("POST", "/v1/traces", body, {"Content-Type": "x"})
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"")
            assert response.getheader("Content-Type") == "application/x-protobuf"
        connection.request("POST", "/v1/metrics", b"x")
        assert connection.getresponse().status == 404
        connection.close()
    assert (sink.exports, sink.bytes) == (2, 7)


def test_each_service_launch_is_paired_with_the_bare_flask_launch_just_before_it() -> None:
    launched: list[str] = []

    @contextlib.contextmanager
    def launch(target: Target) -> Iterator[tuple[str, float, Any]]:
        launched.append(target.name)
        yield "", float(len(launched)), None  # the launch's position stands for its time

    all_targets = targets(2, 4, 0.05)
    results = {t.name: Result() for t in all_targets}
    measure_startups(all_targets, launch, 2, results)
    service = [t.name for t in all_targets if t.service]
    for name in service:
        result = results[name]
        assert len(result.startup_s) == len(result.baseline_startup_s) == 2
        for took, baseline in zip(result.startup_s, result.baseline_startup_s, strict=True):
            assert launched[int(took) - 2] == BASELINE  # the launch right before it
            assert baseline == took - 1
    assert len(results[BASELINE].startup_s) == 2 * len(service)


def test_tracing_is_judged_at_productions_sampling_ratio(tmp_path: Path) -> None:
    settings = tmp_path / "service.yaml"
    settings.write_text("sceptre_user_data:\n  tracing:\n    sample_ratio: 0.25\n")
    ratio = prod_sample_ratio(settings)
    assert ratio == 0.25
    judged = {t.name: t.sampling for t in targets(2, 4, ratio) if t.name in JUDGED}
    assert judged[TRACING] == 0.25
    # Unset in the settings: the stack's default, the one the task definition would get.
    settings.write_text("sceptre_user_data: {}\n")
    assert prod_sample_ratio(settings) == Tracing().sample_ratio
