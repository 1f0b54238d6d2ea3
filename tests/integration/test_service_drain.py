"""Drain on SIGTERM under load: readiness flips at once, nothing sent before it fails, exit 0.

Every check is an order of events, not a stopwatch: the service logs when its drain starts and
ends and when the master stops (JSON lines with timestamps, from this machine's clock), and the
test stamps what it sent and what readiness answered with the same clock. Each wait below is
bounded (``WAIT_S``), generously for two busy cores, so a hang still fails.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from tests.support.gunicorn import Server

DRAIN_SECONDS = 2.0
GRACEFUL_SECONDS = 5.0
WARM_UP = 50  # requests served before the signal: the load generator is busy
WAIT_S = 30.0
DRAIN_STARTED = "SIGTERM: readiness is 503, draining"
DRAIN_FINISHED = "drain finished, stopping gracefully"
MASTER_STOPPED = "Shutting down: Master"


def logged_at(server: Server, message: str) -> float:
    """When the service logged the one line starting with ``message`` (epoch seconds)."""
    (line,) = [line for line in server.lines() if str(line["message"]).startswith(message)]
    return datetime.fromisoformat(line["timestamp"]).timestamp()


@pytest.mark.slow
def test_sigterm_drains_without_failing_a_request(start_service: Callable[..., Server]) -> None:
    server = start_service(
        DRAIN_SECONDS=str(DRAIN_SECONDS),
        GRACEFUL_TIMEOUT_SECONDS=str(int(GRACEFUL_SECONDS)),
        WEB_CONCURRENCY="2",
        THREADS="4",
    )
    stop_load = threading.Event()
    results: list[tuple[float, bool]] = []  # (sent at, succeeded)
    readiness: list[tuple[float, int]] = []  # (answered at, status), after SIGTERM
    lock = threading.Lock()

    def load() -> None:
        # Keep-alive sessions, like a load balancer's connection pool. Bounded in count and time.
        with requests.Session() as session:
            for _ in range(20000):
                if stop_load.is_set():
                    return
                sent = time.time()
                try:
                    ok = session.get(server.url("/"), timeout=5).status_code == 200
                except requests.RequestException:
                    ok = False
                with lock:
                    results.append((sent, ok))

    def served() -> int:
        with lock:
            return sum(ok for _, ok in results)

    def poll_readiness(deadline: float) -> None:
        # Until the service stops listening (the drain is over and gunicorn stops), bounded.
        while time.monotonic() < deadline:
            try:
                status = requests.get(server.url("/health/ready"), timeout=2).status_code
            except requests.RequestException:
                status = 0  # stopped listening: only expected after the drain window
            readiness.append((time.time(), status))
            if status == 0:
                return
            time.sleep(0.05)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(4):
            pool.submit(load)
        # Steady load before the signal: waited for, not slept for.
        deadline = time.monotonic() + WAIT_S
        while served() < WARM_UP:
            assert time.monotonic() < deadline, f"only {served()} requests served in {WAIT_S} s"
            time.sleep(0.01)
        signalled = time.time()
        server.process.send_signal(signal.SIGTERM)  # to the master only, as ECS does
        server.stopped = True
        poller = threading.Thread(target=poll_readiness, args=(time.monotonic() + WAIT_S,))
        poller.start()
        poller.join()
        stop_load.set()
    code = server.process.wait(timeout=WAIT_S)

    drain_started = logged_at(server, DRAIN_STARTED)
    drain_finished = logged_at(server, DRAIN_FINISHED)
    master_stopped = logged_at(server, MASTER_STOPPED)
    first_503 = next((t for t, status in readiness if status == 503), None)
    assert first_503 is not None, f"readiness never turned 503: {readiness[:5]}"
    # At once: readiness answered 503 while the drain was still going on, not at its end.
    assert first_503 < drain_finished, (first_503 - signalled, drain_finished - signalled)
    # Every worker sees the drain: once 503, readiness never answers 200 again.
    assert all(status != 200 for t, status in readiness if t >= first_503)
    sent_before = [ok for sent, ok in results if sent < first_503]
    assert len(sent_before) >= WARM_UP, "the load generator should have been busy"
    assert all(sent_before), f"{sent_before.count(False)} requests failed before readiness flipped"
    # The point of the drain: requests sent after readiness turned 503 are still served.
    assert any(ok for sent, ok in results if first_503 < sent < drain_finished)
    assert code == 0
    # The drain lasted its window, and the whole stop fit in drain + graceful timeout (the
    # service's own clock: from its SIGTERM handler to the master's last line).
    assert drain_finished - drain_started >= DRAIN_SECONDS - 0.01
    assert master_stopped - drain_started <= DRAIN_SECONDS + GRACEFUL_SECONDS
