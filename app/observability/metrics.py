"""Prometheus metrics, correct across gunicorn workers (prometheus-client multiprocess mode).

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn_conf always sets it), every worker writes its
samples to mmap files in that directory and ``GET /metrics`` sums all of them, so a scrape sees
the whole task no matter which worker answers it.
"""

from __future__ import annotations

import platform
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

_Recorder = tuple[Callable[[], None], Callable[[float], None]]


class Metrics:
    """The service's request metrics and build info.

    Each instance has its own registry, so several apps (tests) can coexist in one process.

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
            "Requests being processed right now, summed over live workers.",
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
        # labels() validates and stringifies its arguments on every call; the label sets are
        # few and bounded (routes x known methods x statuses), so the bound methods of each
        # child are cached on first use. A racing first use just builds the same entry twice.
        self._recorders: dict[tuple[str, str, str], _Recorder] = {}

    def recorder(self, route: str, method: str, status: str) -> _Recorder:
        """The (count, observe) pair for one label set; ``method`` must be normalised already."""
        key = (route, method, status)
        recorder = self._recorders.get(key)
        if recorder is None:
            recorder = (
                self.requests.labels(route, method, status).inc,
                self.latency.labels(route, method).observe,
            )
            self._recorders[key] = recorder
        return recorder

    def render(self) -> bytes:
        """The Prometheus text exposition of all metrics (of all workers in multiprocess mode)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        # A fresh registry per scrape, as prometheus-client prescribes for multiprocess mode: the
        # collector reads every worker's files, live or dead, at collection time.
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(registry)
