"""Prometheus metrics, correct across gunicorn workers (prometheus-client multiprocess mode).

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn_conf always sets it), every worker writes its
samples to mmap files in that directory and ``GET /metrics`` sums all of them, so a scrape sees
the whole task no matter which worker answers it.

Requests are counted in process memory and written to those files in batches (:meth:`flush`,
called by app.observability.flusher every 50 ms and before every scrape): prometheus-client's
write-through values take a lock, a ``getpid`` and an mmap write each, five times per request,
which measured as the largest part of what the metrics cost a request. A scrape therefore sees
the other workers' requests up to one flush interval late, well inside any scrape interval.
"""

from __future__ import annotations

import itertools
import platform
import threading
from bisect import bisect_left
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

# Methods outside this set are reported as "other": the method comes from the client, and an
# unbounded label would let any caller create unbounded time series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
CONTENT_TYPE = CONTENT_TYPE_LATEST


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
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests served, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from receiving the request to the response being ready, in seconds.",
            ["route", "method"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "Requests being processed, summed over live workers (as of their last flush).",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.build_info = Gauge(
            "app_build_info",
            "Build of the running service; the value is always 1.",
            ["version", "git_sha", "python_version"],
            multiprocess_mode="max",
            registry=self.registry,
        )
        self.build_info.labels(version, git_sha, platform.python_version()).set(1)
        # The histogram's bucket bounds, +Inf last: bisect_left finds the first bound >= the
        # value, which is the bucket prometheus-client's observe() increments.
        self._bounds = tuple(self.latency._upper_bounds)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        # Starts are counted by an itertools.count: next() on it is one atomic C call, with no
        # lock and no Python frame (the idiom threading.py uses for thread names). Reading it
        # also counts, so flush() keeps track of its own reads.
        self._starts = itertools.count()
        self._own_reads = 0
        self._finished = 0
        # (route, method, status) -> [sum of seconds, count in bucket 0, bucket 1, ...]
        self._pending: dict[tuple[str, str, str], list[float]] = {}

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
            for (route, method, status), sums in pending.items():
                self.requests.labels(route, method, status).inc(sum(sums[1:]))
                _add_observations(self.latency.labels(route, method), sums[0], sums[1:])
            self.in_flight.set(in_flight)

    def render(self) -> bytes:
        """The Prometheus text exposition of all metrics (of all workers in multiprocess mode).

        This process's requests are flushed first, so they are all in; other workers' requests
        are at most one flush interval old.
        """
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
