"""The benchmark's verdict: medians of per-round and per-launch ratios against the targets;
the pairing of launches; the OTLP sink.

No timing here: the figures are given, the verdicts are checked.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.otlp_sink import OtlpSink
from bench.service import (
    ALB_REQUESTS,
    BASELINE,
    JUDGED,
    SERVICE,
    TRACING,
    Result,
    Target,
    measure_startups,
    prod_sample_ratio,
    report,
    run_wrk,
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


def test_what_tracing_costs_the_service_is_printed_round_by_round(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Against the service with tracing off, not bare Flask, and per round: the throughput
    # ratios 0.80, 0.90 and 1.25 give 0.90x; the p99 ratios 1.2, 1.1 and 3.0 give 1.20x.
    off = _app(rps=[1000.0, 1000.0, 800.0], p99=[10.0, 10.0, 10.0])
    tracing = _app(rps=[800.0, 900.0, 1000.0], p99=[12.0, 11.0, 30.0])
    report(_results(off, tracing=tracing))
    out = capsys.readouterr().out
    assert f"{TRACING}/{SERVICE}: throughput 0.90x, p99 1.20x" in out
    assert f"{TRACING} 5%/{SERVICE}: throughput 0.50x, p99 1.00x" in out


def test_wrk_sends_every_request_with_a_new_load_balancer_trace_root() -> None:
    seen: list[str | None] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the service offers

        def do_GET(self) -> None:
            seen.append(self.headers.get("X-Amzn-Trace-Id"))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, *args: Any) -> None:
            pass  # wrk cuts its connections when it stops

    with Server(("127.0.0.1", 0), Recorder) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started = time.time()
        try:
            *_, requests, errors = run_wrk(
                f"http://127.0.0.1:{server.server_port}/", 1, 4, ALB_REQUESTS
            )
        finally:
            server.shutdown()
    assert errors == 0
    assert len(seen) >= requests > 100
    # The load balancer's form: Root=1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>.
    roots = [re.fullmatch(r"Root=1-([0-9a-f]{8})-[0-9a-f]{24}", header or "") for header in seen]
    assert all(roots), [h for h, r in zip(seen, roots, strict=True) if not r][:3]
    assert len(set(seen)) == len(seen)  # a new trace per request, across wrk's threads
    epochs = {int(root.group(1), 16) for root in roots if root}
    assert min(epochs) >= int(started) - 1
    assert max(epochs) <= time.time() + 1


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
