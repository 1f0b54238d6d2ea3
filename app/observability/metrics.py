"""Prometheus metrics, correct across gunicorn workers (prometheus-client multiprocess mode).

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn_conf always sets it), every worker writes its
samples to mmap files in that directory and ``GET /metrics`` sums all of them, so a scrape sees
the whole task no matter which worker answers it.

Requests are counted in process memory and written to those files in batches (:meth:`flush`,
called by app.observability.flusher every 50 ms and before every scrape): prometheus-client's
write-through values take a lock, a ``getpid`` and an mmap write each, five times per request,
which measured as the largest part of what the metrics cost a request. A scrape therefore sees
the other workers' requests up to one flush interval late, well inside any scrape interval.

prometheus-client itself is imported, and the metrics declared, by the first flush or scrape,
not when the app is built: the import is most of what the metrics add to a worker's start-up
(bench/service.py measures it), and the request path only needs plain Python until the flusher
thread runs, 50 ms after the first request.

The master counts worker restarts (:func:`worker_restarts`, app.gunicorn_conf) in the same
multiprocess directory, so ``GET /metrics`` shows them too.
"""

from __future__ import annotations

import itertools
import platform
import threading
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Methods outside this set are reported as "other": the method comes from the client, and an
# unbounded label would let any caller create unbounded time series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
# The request histogram's bucket bounds: prometheus-client's defaults, spelled out so that the
# request path can find a bucket without importing prometheus-client (see Metrics).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# Counted by the gunicorn master (app.gunicorn_conf), exposed as gunicorn_worker_restarts_total.
WORKER_RESTARTS = "gunicorn_worker_restarts"
WORKER_RESTARTS_HELP = (
    "Workers that exited while the master was serving and had to be replaced "
    "(crash, kill, timeout); not stops, reloads or scale-downs."
)


def worker_restarts(registry: CollectorRegistry | None) -> Counter:
    """The worker restarts counter, in ``registry`` (None: in no registry, only in the mmap file).

    The master increments it in its own process; every worker declares it at 0, so the series
    exists on ``/metrics`` from the first scrape, before any restart.
    """
    from prometheus_client import Counter  # noqa: PLC0415 - see Metrics: import off the start path

    return Counter(WORKER_RESTARTS, WORKER_RESTARTS_HELP, registry=registry)


@dataclass(frozen=True)
class _Series:
    """prometheus-client's objects for one Metrics instance."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    in_flight: Gauge


def _series(version: str, git_sha: str, bounds: tuple[float, ...]) -> _Series:
    """Import prometheus-client and declare every metric of the service in a new registry."""
    from prometheus_client import (  # noqa: PLC0415 - see Metrics: import off the start path
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
    )

    registry = CollectorRegistry()
    latency = Histogram(
        "http_request_duration_seconds",
        "Time from receiving the request to the response being ready, in seconds.",
        ["route", "method"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    # bisect over ``bounds`` must pick the bucket prometheus-client's observe() increments.
    if tuple(latency._upper_bounds) != bounds:
        raise RuntimeError(f"histogram bounds {latency._upper_bounds} differ from {bounds}")
    series = _Series(
        registry=registry,
        requests=Counter(
            "http_requests",
            "HTTP requests served, by route template, method and status code.",
            ["route", "method", "status"],
            registry=registry,
        ),
        latency=latency,
        in_flight=Gauge(
            "http_requests_in_flight",
            "Requests being processed, summed over live workers (as of their last flush).",
            multiprocess_mode="livesum",
            registry=registry,
        ),
    )
    build_info = Gauge(
        "app_build_info",
        "Build of the running service; the value is always 1.",
        ["version", "git_sha", "python_version"],
        multiprocess_mode="max",
        registry=registry,
    )
    build_info.labels(version, git_sha, platform.python_version()).set(1)
    worker_restarts(registry)
    return series


class Metrics:
    """The service's request metrics and build info.

    Each instance has its own registry, so several apps (tests) can coexist in one process.
    Requests are recorded with :meth:`request_started` and :meth:`request_finished`, and reach
    prometheus-client on :meth:`flush` (see the module docstring).

    Args:
        version, git_sha: build identity for ``app_build_info``.
        multiprocess_dir: prometheus-client's multiprocess directory, or None for in-process.
    """

    def __init__(self, version: str, git_sha: str, multiprocess_dir: Path | None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self._build = (version, git_sha)
        # The histogram's bucket bounds, +Inf last: bisect_left finds the first bound >= the
        # value, which is the bucket prometheus-client's observe() increments.
        self._bounds = (*LATENCY_BUCKETS, float("inf"))
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._series_lock = threading.Lock()
        # prometheus-client's objects, built by the first flush or scrape (:meth:`_declared`):
        # importing it is about 13 ms of a worker's start that the first request does not need,
        # and its mmap files appear then, in the worker (never before a fork).
        self._declared_series: _Series | None = None
        # Starts are counted by an itertools.count: next() on it is one atomic C call, with no
        # lock and no Python frame (the idiom threading.py uses for thread names). Reading it
        # also counts, so flush() keeps track of its own reads.
        self._starts = itertools.count()
        self._own_reads = 0
        self._finished = 0
        # (route, method, status) -> [sum of seconds, count in bucket 0, bucket 1, ...]
        self._pending: dict[tuple[str, str, str], list[float]] = {}

    @property
    def registry(self) -> CollectorRegistry:
        """This instance's registry (in-process values; ``render`` reads the mmap files)."""
        return self._declared().registry

    @property
    def content_type(self) -> str:
        """The Content-Type of :meth:`render`'s output."""
        from prometheus_client import CONTENT_TYPE_LATEST  # noqa: PLC0415 - see _declared

        return CONTENT_TYPE_LATEST

    def _declared(self) -> _Series:
        """prometheus-client's objects, declared on first use."""
        series = self._declared_series
        if series is None:
            with self._series_lock:
                series = self._declared_series
                if series is None:
                    series = self._declared_series = _series(*self._build, self._bounds)
        return series

    @property
    def request_started(self) -> Callable[[], object]:
        """The function to call when a request starts (counts it as in flight)."""
        return self._starts.__next__

    def request_finished(self, route: str, method: str, status: str, seconds: float) -> None:
        """Record a finished request; ``method`` must be normalised already (KNOWN_METHODS)."""
        bucket = bisect_left(self._bounds, seconds) + 1
        key = (route, method, status)
        with self._lock:
            self._finished += 1
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = [0.0] * (len(self._bounds) + 1)
            pending[0] += seconds
            pending[bucket] += 1

    def flush(self) -> None:
        """Write what was recorded since the last flush to prometheus-client's values."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
                # Exact: no request can finish while the lock is held, and every finish
                # counted began before this read of the starts.
                in_flight = next(self._starts) - self._own_reads - self._finished
                self._own_reads += 1
            if self._declared_series is None and not pending and not in_flight:
                # Nothing recorded yet (say, the exit flush of a worker that served nothing):
                # nothing to write, and no reason to import prometheus-client for it.
                return
            series = self._declared()
            for (route, method, status), sums in pending.items():
                series.requests.labels(route, method, status).inc(sum(sums[1:]))
                _add_observations(series.latency.labels(route, method), sums[0], sums[1:])
            series.in_flight.set(in_flight)

    def render(self) -> bytes:
        """The Prometheus text exposition of all metrics (of all workers in multiprocess mode).

        This process's requests are flushed first, so they are all in; other workers' requests
        are at most one flush interval old.
        """
        from prometheus_client import CollectorRegistry, generate_latest  # noqa: PLC0415
        from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

        # Declared before the flush, which skips declaring when nothing was recorded: this
        # worker's build info and restarts series are in the files whatever it served.
        self._declared()
        self.flush()
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        # A fresh registry per scrape, as prometheus-client prescribes for multiprocess mode: the
        # collector reads every worker's files, live or dead, at collection time.
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def _add_observations(child: Histogram, total: float, bucket_counts: list[float]) -> None:
    """Add many observations to a histogram child at once: their sum and per-bucket counts.

    prometheus-client has no public call for this; ``observe()`` takes one value at a time. Its
    child keeps the sum in ``_sum`` and non-cumulative bucket counts in ``_buckets`` (the same
    values ``observe()`` increments); tests/unit/app compare the result with ``observe()``'s,
    so a prometheus-client that changes them fails the tests rather than the metrics.
    """
    child._sum.inc(total)
    for bucket, count in zip(child._buckets, bucket_counts, strict=True):
        if count:
            bucket.inc(count)
