"""Benchmark: CPU per request inside one process, through the whole WSGI stack, no server.

bench/service.py judges the service under gunicorn and wrk, where one round's ratio swings by
±15% on a 2-CPU machine. This one answers a narrower question with far less noise: how many
microseconds of CPU the app's layers cost per ``GET /``, tracing off and on, side by side in one
run. Each variant serves the same request ``--requests`` times per round, in alternating rounds;
the figure is the process's CPU time (every thread: the access-line flusher, the span
processor, whose queue is flushed before the round's clock stops) per request, the median of
the rounds.

Variants: bare Flask; this app with tracing off; tracing on at production's sampling ratio
(config/prod/service.yaml), without trace headers and with a new ``X-Amzn-Trace-Id: Root=...``
per request as the load balancer sends in production; and at 100%. With tracing on, every
finished batch of spans is encoded as the OTLP exporter encodes it (protobuf) and dropped, so
the figures include what exporting costs the process apart from the network. Access lines go
to /dev/null.

Usage: ``uv run python -m bench.per_request [--rounds 9 --requests 5000]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from app.config import AppConfig, TracingConfig
from app.factory import create_app
from bench.service import WORST_CASE_RATIO, prod_sample_ratio

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

TRACING_OFF = "app, tracing off"
BASELINE = "bare Flask"


def encoding_exporter() -> SpanExporter:
    """A span exporter that encodes each batch as OTLP/HTTP protobuf, then drops it."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import (  # noqa: PLC0415
        encode_spans,
    )
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult  # noqa: PLC0415

    class Encoding(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            encode_spans(spans).SerializeToString()
            return SpanExportResult.SUCCESS

    return Encoding()


Variant = tuple["WSGIApplication", Callable[[], "WSGIEnvironment"]]  # the app, its requests


def variants(prod_ratio: float) -> dict[str, Variant]:
    """The apps to compare and the request each gets, by name, built as the service builds
    them (tracing installed at once)."""
    from bench.bare_flask import app as bare  # noqa: PLC0415

    def traced(ratio: float) -> WSGIApplication:
        tracing = TracingConfig(
            endpoint="http://127.0.0.1:9",  # never reached: the exporter only encodes
            sampler="parentbased_traceidratio",
            sample_ratio=ratio,
        )
        return create_app(AppConfig(tracing=tracing), span_exporter=encoding_exporter())

    prod = traced(prod_ratio)
    return {
        BASELINE: (bare, request),
        TRACING_OFF: (create_app(AppConfig()), request),
        f"app, tracing {prod_ratio:.0%} (prod)": (prod, request),
        f"app, tracing {prod_ratio:.0%}, ALB header": (prod, request_through_the_load_balancer),
        f"app, tracing {WORST_CASE_RATIO:.0%}": (traced(WORST_CASE_RATIO), request),
    }


def request() -> WSGIEnvironment:
    """A fresh environ for ``GET /`` as gunicorn would pass it."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
    }


def request_through_the_load_balancer() -> WSGIEnvironment:
    """``GET /`` with a new trace's ``X-Amzn-Trace-Id`` root, as the load balancer adds it."""
    environ = request()
    root = f"1-{int(time.time()):08x}-{random.getrandbits(96):024x}"
    environ["HTTP_X_AMZN_TRACE_ID"] = f"Root={root}"
    return environ


def _ignore(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None
) -> Callable[..., Any]:
    return _ignore


def cpu_per_request_us(variant: Variant, requests: int) -> float:
    """The process's CPU time per request, in microseconds, over ``requests`` calls of the
    variant's app (building each request's environ included, alike for every variant)."""
    app, new_request = variant
    started = time.process_time_ns()
    for _ in range(requests):
        body: Iterable[bytes] = app(new_request(), _ignore)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    # The spans these requests made are encoded now, inside the window: on the processor's
    # thread later, they would be charged to whichever variant runs next.
    provider = _tracer_provider(app)
    if provider is not None:
        provider.force_flush()
    return (time.process_time_ns() - started) / requests / 1000


def _service_extensions(app: WSGIApplication) -> dict[str, Any] | None:
    """What the service's factory keeps on the app (app.factory); None for bare Flask."""
    extensions: dict[str, Any] | None = getattr(app, "extensions", {}).get("flask_fargate")
    return extensions


def _tracer_provider(app: WSGIApplication) -> TracerProvider | None:
    extensions = _service_extensions(app)
    return None if extensions is None else extensions["tracer_provider"]


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[int]:
    """File descriptor 1 (where the access lines go) to /dev/null; yields the original, dup'ed."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        yield saved
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def measure(apps: dict[str, Variant], rounds: int, requests: int) -> dict[str, list[float]]:
    """Each variant's CPU per request, round after round, alternating within a round."""
    results: dict[str, list[float]] = {name: [] for name in apps}
    for variant in apps.values():  # warm-up: imports, first-request set-up, caches
        cpu_per_request_us(variant, requests // 10)
    for _ in range(rounds):
        for name, variant in apps.items():
            results[name].append(cpu_per_request_us(variant, requests))
    return results


def settle(app: WSGIApplication) -> None:
    """Write out the app's queued access lines and spans now, while stdout is still /dev/null."""
    extensions = _service_extensions(app)
    if extensions is None:  # bare Flask: nothing queued
        return
    extensions["access_log"].flush()
    provider = extensions["tracer_provider"]
    if provider is not None:
        provider.shutdown()


def report(results: dict[str, list[float]]) -> str:
    """The table: each app's median (range), its cost over tracing off and its ratio to Flask."""
    off = statistics.median(results[TRACING_OFF])
    baseline = statistics.median(results[BASELINE])
    lines = [f"{'variant':32s} {'us/request':>10s} {'range':>15s} {'vs off':>8s} {'/Flask':>7s}"]
    for name, figures in results.items():
        median = statistics.median(figures)
        lines.append(
            f"{name:32s} {median:10.1f} {min(figures):7.1f}-{max(figures):<7.1f}"
            f" {median - off:+8.1f} {median / baseline:6.2f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=5000)
    opts = parser.parse_args(argv)
    if opts.rounds < 1 or opts.requests < 10:
        parser.error("--rounds must be at least 1 and --requests at least 10")
    with stdout_to_devnull() as terminal:
        apps = variants(prod_sample_ratio())
        results = measure(apps, opts.rounds, opts.requests)
        table = report(results)
        for app, _request in apps.values():
            settle(app)
        os.write(
            terminal,
            f"CPU per GET / in one process, median of {opts.rounds} rounds of "
            f"{opts.requests} requests:\n{table}\n".encode(),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
