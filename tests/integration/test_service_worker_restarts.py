"""``gunicorn_worker_restarts``: the master counts a worker it must replace, and nothing else.

Under the production gunicorn command on 127.0.0.1: a worker killed with SIGKILL (what the
kernel's OOM killer sends) shows as one restart on ``/metrics``; a reload (SIGHUP), which
retires every old worker, and a clean stop (SIGTERM) add none. The stop is checked on the
metrics directory the test owns, which outlives the master, with prometheus-client's own
multiprocess collector, as a scrape would read it. Every wait is a bounded poll.

And the master, which keeps its counter in the metrics directory, still removes the directory
it made itself when it exits.
"""

from __future__ import annotations

import re
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.gunicorn import Server

WAIT_S = 30.0
SERIES = "gunicorn_worker_restarts_total"


def wait_for(what: str, check: Callable[[], bool]) -> None:
    """Poll ``check`` every 50 ms until it holds; fail naming ``what`` after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT_S:g} s: {what}")
        time.sleep(0.05)


def workers(server: Server) -> set[int]:
    """The master's live worker processes."""
    return {
        child.pid
        for child in psutil.Process(server.process.pid).children()
        if child.status() != psutil.STATUS_ZOMBIE
    }


def scraped_restarts(server: Server) -> float:
    """The restarts a scrape of ``/metrics`` shows (whichever worker answers)."""
    text = requests.get(server.url("/metrics"), timeout=5).text
    match = re.search(rf"^{SERIES} (\S+)$", text, re.MULTILINE)
    assert match, f"{SERIES} missing from /metrics"
    return float(match.group(1))


def stored_restarts(metrics_dir: Path) -> float:
    """The restarts in the multiprocess directory's files, read as a scrape reads them."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))  # type: ignore[no-untyped-call]
    value = registry.get_sample_value(SERIES)
    assert value is not None, f"{SERIES} not in {metrics_dir}"
    return value


def test_a_killed_worker_counts_once_and_a_reload_or_a_stop_do_not(
    start_service: Callable[..., Server],
) -> None:
    server = start_service()
    wait_for("two workers", lambda: len(workers(server)) == 2)
    assert scraped_restarts(server) == 0  # declared by the workers before any restart

    victim = min(workers(server))
    psutil.Process(victim).send_signal(signal.SIGKILL)
    # The master counts in child_exit, before it spawns the replacement.
    wait_for("a replacement worker", lambda: len(workers(server) - {victim}) == 2)
    assert scraped_restarts(server) == 1

    # A reload starts new workers and retires all the old ones: not a restart.
    before = workers(server)
    server.process.send_signal(signal.SIGHUP)
    wait_for("all workers replaced by the reload", lambda: len(workers(server) - before) == 2)
    wait_for("the old workers gone", lambda: not workers(server) & before)
    assert scraped_restarts(server) == 1

    assert server.stop() == 0
    assert stored_restarts(server.metrics_dir) == 1


def test_the_master_removes_the_metrics_directory_it_made(
    start_service: Callable[..., Server],
) -> None:
    # Without PROMETHEUS_MULTIPROC_DIR (as on ECS) the master makes its own, named by its pid.
    server = start_service(PROMETHEUS_MULTIPROC_DIR="")
    made = [
        Path(base) / f"flask-fargate-{server.process.pid}"
        for base in ("/dev/shm", tempfile.gettempdir())  # where gunicorn_conf puts it
    ]
    assert any(path.is_dir() for path in made)
    assert server.stop() == 0
    assert not any(path.exists() for path in made)
