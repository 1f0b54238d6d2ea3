"""Tracing under real gunicorn: a request's access line and its exported span share a trace id.

The spans go over OTLP/HTTP to a receiver in this test (tests/support/otlp_receiver.py), as they
go to the collector beside the app in a task; a dead endpoint must cost requests nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psutil
import pytest
import requests

from app.observability.tracing import TRACING_ON
from tests.support.gunicorn import DEFAULTS, Server, free_port
from tests.support.otlp_receiver import receiving

WAIT_S = 30.0
# Export every 100 ms instead of the SDK's 5 s: the test waits for spans, not for a schedule.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100"}
XRAY_ROOT = "1-5759e988-bd862e3fe1be46a994272793"


@pytest.fixture
def start_traced(start_service: Callable[..., Server]) -> Callable[..., Server]:
    """``start_service``, returning once every worker has installed tracing.

    Under gunicorn each worker installs tracing just after it starts answering
    (app.observability.deferred_tracing) and says so in one log line: the signal waited for.
    """

    def start(**env: str) -> Server:
        server = start_service(**env)
        workers = int(env.get("WEB_CONCURRENCY", DEFAULTS["WEB_CONCURRENCY"]))
        server.wait_for_lines(
            lambda line: str(line.get("message", "")).startswith(TRACING_ON), workers, WAIT_S
        )
        return server

    return start


def _access_line(server: Server, request_id: str) -> dict[str, Any]:
    """The access line of ``request_id``, once a worker has written it (every 50 ms)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        for line in server.lines():
            if line.get("logger") == "app.access" and line.get("request_id") == request_id:
                return line
        assert time.monotonic() < deadline, f"no access line for {request_id}"
        time.sleep(0.05)


def test_the_access_lines_trace_id_is_the_exported_spans(
    start_traced: Callable[..., Server],
) -> None:
    with receiving() as receiver:
        server = start_traced(
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test",
            APP_VERSION="7.8.9",
            **FAST_EXPORT,
        )
        response = requests.get(server.url("/"), headers={"X-Request-ID": "traced-1"}, timeout=5)
        assert response.status_code == 200
        line = _access_line(server, "traced-1")
        span = receiver.wait_for_span(lambda s: s.trace_id == line["trace_id"], WAIT_S)
        assert line["xray_trace_id"] == f"1-{span.trace_id[:8]}-{span.trace_id[8:]}"
        assert span.name == "GET /"
        assert span.resource["service.name"] == "flask-fargate"
        assert span.resource["service.version"] == "7.8.9"
        assert span.resource["deployment.environment"] == "test"
        assert span.span_id in response.headers["traceresponse"]

        # Behind the load balancer: its X-Amzn-Trace-Id Root is the request's trace.
        requests.get(
            server.url("/version"),
            headers={"X-Request-ID": "traced-2", "X-Amzn-Trace-Id": f"Root={XRAY_ROOT}"},
            timeout=5,
        )
        assert _access_line(server, "traced-2")["xray_trace_id"] == XRAY_ROOT
        receiver.wait_for_span(lambda s: s.trace_id == "5759e988bd862e3fe1be46a994272793", WAIT_S)

        # The export thread runs in the workers only: the master stays single-threaded.
        assert psutil.Process(server.process.pid).num_threads() == 1
        assert server.stop() == 0


def test_a_dead_collector_fails_no_request_and_delays_no_exit(
    start_traced: Callable[..., Server],
) -> None:
    server = start_traced(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}",
        # The exporter retries a batch for up to this many seconds (the Python SDK reads seconds,
        # not the specification's milliseconds); the SDK's shutdown waits for its thread up to
        # 30 s. Both far beyond the bound below, and inside the graceful timeout: an exit that
        # waited for them would show here as slow, not as killed.
        OTEL_EXPORTER_OTLP_TIMEOUT="60",
        GRACEFUL_TIMEOUT_SECONDS="90",
        **FAST_EXPORT,
    )
    for i in range(20):
        response = requests.get(server.url("/"), headers={"X-Request-ID": f"dead-{i}"}, timeout=5)
        assert response.status_code == 200
    assert _access_line(server, "dead-19")["trace_id"]
    # Wait until an export has failed, so the exit below happens with the collector known down.
    deadline = time.monotonic() + WAIT_S
    while not any("export" in str(line.get("message", "")) for line in server.lines()):
        assert time.monotonic() < deadline, "no export was ever attempted"
        time.sleep(0.05)
    stopping = time.monotonic()
    assert server.stop(timeout=60) == 0
    # A worker does not sit out the exporter's retries at exit, so a task whose collector is
    # down still stops on time (measured: ~2 s here; ~30 s before the fix).
    assert time.monotonic() - stopping < 15


def test_a_stopping_worker_exports_what_it_still_holds(
    start_traced: Callable[..., Server],
) -> None:
    with receiving() as receiver:
        # A schedule far beyond the test: only the exit can export this span.
        server = start_traced(
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="600000"
        )
        requests.get(server.url("/"), headers={"X-Request-ID": "held-1"}, timeout=5)
        trace_id = _access_line(server, "held-1")["trace_id"]
        assert receiver.spans == []
        assert server.stop() == 0  # SIGTERM, as ECS stops a task
        # The master has exited, so its workers have: the span is there now, or never.
        receiver.wait_for_span(lambda s: s.trace_id == trace_id, timeout=0.1)
