"""Drain on SIGTERM under load: readiness flips at once, nothing sent before it fails, exit 0."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.gunicorn import Server

DRAIN_SECONDS = 2.0
GRACEFUL_SECONDS = 5.0


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
            for _ in range(5000):
                if stop_load.is_set():
                    return
                sent = time.monotonic()
                try:
                    ok = session.get(server.url("/"), timeout=5).status_code == 200
                except requests.RequestException:
                    ok = False
                with lock:
                    results.append((sent, ok))

    def poll_readiness(until: float) -> None:
        while time.monotonic() < until:
            try:
                status = requests.get(server.url("/health/ready"), timeout=2).status_code
            except requests.RequestException:
                status = 0  # stopped listening: only expected after the drain window
            readiness.append((time.monotonic(), status))
            if status == 0:
                return
            time.sleep(0.05)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(4):
            pool.submit(load)
        time.sleep(1.0)  # steady load before the signal
        signalled = time.monotonic()
        server.process.send_signal(15)  # SIGTERM to the master only, as ECS does
        server.stopped = True
        poller = threading.Thread(target=poll_readiness, args=(signalled + DRAIN_SECONDS,))
        poller.start()
        poller.join()
        stop_load.set()
    code = server.process.wait(timeout=DRAIN_SECONDS + GRACEFUL_SECONDS + 5)
    exited = time.monotonic()

    first_503 = next((t for t, status in readiness if status == 503), None)
    assert first_503 is not None, f"readiness never turned 503: {readiness[:5]}"
    assert first_503 - signalled < 0.5
    # Every worker sees the drain: once 503, readiness never answers 200 again.
    assert all(status != 200 for t, status in readiness if t >= first_503)
    sent_before = [ok for sent, ok in results if sent < first_503]
    assert len(sent_before) > 50, "the load generator should have been busy"
    assert all(sent_before), f"{sent_before.count(False)} requests failed before readiness flipped"
    # Requests kept being served during the drain window, too.
    assert any(ok for sent, ok in results if signalled + 0.2 < sent < signalled + DRAIN_SECONDS)
    assert code == 0
    assert exited - signalled < DRAIN_SECONDS + GRACEFUL_SECONDS
