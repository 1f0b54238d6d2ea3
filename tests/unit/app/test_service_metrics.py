"""Batched request metrics: the same exposition as prometheus-client's write-through calls."""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from app.observability.metrics import Metrics
from tests.support.fresh_python import run_python

# On bucket bounds, between them, below the first and above the last (+Inf).
DURATIONS = [0.0, 0.004, 0.005, 0.0051, 0.01, 0.3, 0.3, 2.5, 7.0, 10.0, 11.0, 500.0]


def _series(text: str, prefix: str) -> dict[str, float]:
    """Every sample of the metrics named ``prefix*`` (no _created), labels sorted, by line."""
    samples = {}
    for line in text.splitlines():
        if line.startswith(prefix) and "_created" not in line:
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def _reference(durations: list[float]) -> str:
    """What prometheus-client itself exposes after one inc()/observe() per request."""
    registry = CollectorRegistry()
    requests = Counter("http_requests", "", ["route", "method", "status"], registry=registry)
    latency = Histogram("http_request_duration_seconds", "", ["route", "method"], registry=registry)
    for seconds in durations:
        requests.labels("/", "GET", "200").inc()
        latency.labels("/", "GET").observe(seconds)
    requests.labels("/x", "POST", "500").inc()
    latency.labels("/x", "POST").observe(0.02)
    return generate_latest(registry).decode()


def _record_and_render(durations: list[float], multiprocess_dir: Path | None) -> str:
    metrics = Metrics("1.0", "abc", multiprocess_dir)
    for seconds in durations:
        metrics.request_started()
        metrics.request_finished("/", "GET", "200", seconds)
    metrics.request_started()
    metrics.request_finished("/x", "POST", "500", 0.02)
    return metrics.render().decode()


def _in_a_worker(script: str, directory: Path) -> str:
    """What ``script`` (given ``directory`` as its argument) prints in a fresh interpreter whose
    prometheus-client uses ``directory`` for its multiprocess files, as a gunicorn worker does."""
    return run_python(script, str(directory), env={"PROMETHEUS_MULTIPROC_DIR": str(directory)})


@pytest.mark.parametrize("multiprocess", [False, True])
def test_batched_recording_exposes_what_observe_would(tmp_path: Path, multiprocess: bool) -> None:
    if multiprocess:
        # prometheus-client picks mmap-backed values at import: a fresh interpreter with the
        # directory set, as in a gunicorn worker.
        script = (
            "import sys\n"
            "from pathlib import Path\n"
            "from tests.unit.app.test_service_metrics import DURATIONS, _record_and_render\n"
            "sys.stdout.write(_record_and_render(DURATIONS, Path(sys.argv[1])))\n"
        )
        text = _in_a_worker(script, tmp_path)
        assert list(tmp_path.glob("*.db")), "the values should live in mmap files"
    else:
        text = _record_and_render(DURATIONS, None)
    expected = _reference(DURATIONS)
    for prefix in ("http_requests_total", "http_request_duration_seconds"):
        assert _series(text, prefix) == _series(expected, prefix), prefix


def test_nothing_reaches_prometheus_client_before_a_flush() -> None:
    metrics = Metrics("1.0", "abc", None)
    metrics.request_started()
    metrics.request_finished("/", "GET", "200", 0.1)
    # Straight from the registry, without render() (which flushes first).
    assert "http_requests_total" not in _series(generate_latest(metrics.registry).decode(), "http")
    metrics.flush()
    after = generate_latest(metrics.registry).decode()
    assert 'http_requests_total{method="GET",route="/",status="200"} 1.0' in after


def test_in_flight_counts_started_minus_finished_at_the_flush() -> None:
    metrics = Metrics("1.0", "abc", None)
    for _ in range(3):
        metrics.request_started()
    metrics.request_finished("/", "GET", "200", 0.1)
    text = metrics.render().decode()
    assert re.search(r"^http_requests_in_flight 2\.0$", text, re.MULTILINE)


def _in_flight(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("http_requests_in_flight")
    assert value is not None
    return value


def test_in_flight_stays_within_bounds_under_concurrent_requests_and_flushes() -> None:
    metrics = Metrics("1.0", "abc", None)
    threads, rounds = 4, 3000
    seen: list[float] = []
    done = threading.Event()

    def serve() -> None:
        for _ in range(rounds):
            metrics.request_started()
            metrics.request_finished("/", "GET", "200", 0.001)

    def scrape() -> None:
        while not done.is_set():
            metrics.flush()
            seen.append(_in_flight(metrics))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        scraper = threading.Thread(target=scrape)
        scraper.start()
        workers = [threading.Thread(target=serve) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        done.set()
        scraper.join()
    finally:
        sys.setswitchinterval(interval)
    # Each thread has at most one request in flight at any moment, and never fewer than none.
    assert seen
    assert all(0 <= value <= threads for value in seen), sorted(set(seen))
    metrics.request_started()
    metrics.request_started()
    metrics.flush()
    assert _in_flight(metrics) == 2
    text = metrics.render().decode()
    total = f'http_requests_total{{method="GET",route="/",status="200"}} {threads * rounds}.0'
    assert total in text


def test_prometheus_client_is_not_imported_until_the_first_flush() -> None:
    # Its import is most of what the metrics add to a worker's start-up (bench/service.py).
    script = (
        "import sys\n"
        "from app.observability.metrics import Metrics\n"
        "metrics = Metrics('1.0', 'abc', None)\n"
        "metrics.request_started()\n"
        "metrics.request_finished('/', 'GET', '200', 0.1)\n"
        "print('prometheus_client' in sys.modules)\n"
        "metrics.flush()\n"
        "print('prometheus_client' in sys.modules)\n"
    )
    out = run_python(script)
    assert out.split() == ["False", "True"]


def test_a_scrape_of_a_worker_that_recorded_nothing_still_has_every_series(
    tmp_path: Path,
) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app.observability.metrics import Metrics\n"
        "sys.stdout.write(Metrics('1.0', 'abc', Path(sys.argv[1])).render().decode())\n"
    )
    text = _in_a_worker(script, tmp_path)
    assert re.search(r'^app_build_info\{.*version="1\.0".*\} 1\.0$', text, re.MULTILINE)
    assert re.search(r"^gunicorn_worker_restarts_total 0\.0$", text, re.MULTILINE)
