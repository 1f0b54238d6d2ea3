"""The service under real gunicorn: endpoints, JSON errors, request ids, metrics, logs."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import requests
from prometheus_client.mmap_dict import MmapedDict

from tests.support.gunicorn import Server
from tests.support.service_contract import ACCESS_FIELDS, SECURITY_HEADERS

# Bounds the waits on what several processes do: generous for two busy cores, still a hang fails.
WAIT_S = 30.0


def test_every_endpoint_answers(start_service: Callable[..., Server]) -> None:
    server = start_service(GREETING="Hi there", APP_VERSION="4.5.6", GIT_SHA="cafe")
    assert requests.get(server.url("/"), timeout=5).json() == {"message": "Hi there"}
    assert requests.get(server.url("/health"), timeout=5).json() == {"status": "ok"}
    assert requests.get(server.url("/health/ready"), timeout=5).json() == {"status": "ready"}
    version = requests.get(server.url("/version"), timeout=5).json()
    assert (version["version"], version["git_sha"], version["build_time"]) == (
        "4.5.6",
        "cafe",
        "unknown",
    )
    metrics = requests.get(server.url("/metrics"), timeout=5)
    assert metrics.headers["Content-Type"].startswith("text/plain")
    assert 'app_build_info{git_sha="cafe"' in metrics.text
    spec = requests.get(server.url("/openapi.json"), timeout=5).json()
    assert spec["info"]["version"] == "4.5.6"
    for path in ("/", "/health", "/version", "/metrics", "/openapi.json"):
        response = requests.get(server.url(path), timeout=5)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)


def _error(response: requests.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"status", "error", "message", "request_id"}
    assert payload["status"] == status
    assert payload["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in response.text


def test_errors_are_json_with_the_request_id(start_service: Callable[..., Server]) -> None:
    server = start_service(MAX_REQUEST_BYTES="100")
    _error(requests.get(server.url("/nope"), timeout=5), 404)
    _error(requests.post(server.url("/"), timeout=5), 405)
    _error(requests.put(server.url("/health"), data=b"x" * 101, timeout=5), 413)
    # At the limit the body is accepted and routing answers (405: / is GET only).
    _error(requests.post(server.url("/"), data=b"x" * 100, timeout=5), 405)


def test_request_id_round_trip(start_service: Callable[..., Server]) -> None:
    server = start_service()
    kept = requests.get(server.url("/"), headers={"X-Request-ID": "abc-1.2_3"}, timeout=5)
    assert kept.headers["X-Request-ID"] == "abc-1.2_3"
    replaced = requests.get(server.url("/"), headers={"X-Request-ID": "bad id!"}, timeout=5)
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])


def _counter(text: str, route: str, status: str = "200") -> float:
    pattern = (
        rf'http_requests_total\{{method="GET",route="{re.escape(route)}",status="{status}"\}} (\S+)'
    )
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def _workers_that_served(metrics_dir: Path, route: str) -> set[str]:
    """The workers (their counter files) that have flushed a GET ``route`` to their mmap file."""
    served = set()
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):  # type: ignore[no-untyped-call]
            _, sample, labels, _ = json.loads(key)
            if sample == "http_requests_total" and labels.get("route") == route and value > 0:
                served.add(path.name)
    return served


def test_metrics_sum_over_all_workers(start_service: Callable[..., Server]) -> None:
    server = start_service(WEB_CONCURRENCY="3", THREADS="2")
    # Ready means one worker answered; the others may still be starting. Requests (a new
    # connection each: the kernel spreads them over the workers) go out until two workers have
    # served some, as their files say: a bounded wait on that, not a fixed count.
    sent = 0
    deadline = time.monotonic() + WAIT_S
    while len(_workers_that_served(server.metrics_dir, "/")) < 2:
        assert time.monotonic() < deadline, f"{sent} requests in {WAIT_S} s, one worker served all"
        for _ in range(10):
            assert requests.get(server.url("/"), timeout=5).status_code == 200
            sent += 1
        time.sleep(0.05)  # a worker writes its counts every 50 ms (app.observability.flusher)
    # The other workers' counts reach a scrape within one flush interval: wait for the total.
    while _counter(requests.get(server.url("/metrics"), timeout=5).text, "/") < sent:
        assert time.monotonic() < deadline, "the workers' counts never added up"
        time.sleep(0.02)
    for _ in range(5):  # whichever worker answers the scrape, it reports the whole total
        text = requests.get(server.url("/metrics"), timeout=5).text
        assert _counter(text, "/") == sent
    assert "http_requests_in_flight" in text


def test_logs_are_json_lines_with_one_access_line_per_request(
    start_service: Callable[..., Server],
) -> None:
    server = start_service()
    ids = [f"log-test-{i}" for i in range(25)]
    for request_id in ids:
        requests.get(server.url("/version"), headers={"X-Request-ID": request_id}, timeout=5)
    requests.get(server.url("/missing"), headers={"X-Request-ID": "log-404"}, timeout=5)
    assert server.stop() == 0  # exit flushes the batched access lines
    lines = server.lines()  # fails if any line of stdout or stderr is not JSON
    access = [line for line in lines if line["logger"] == "app.access"]
    by_id = {request_id: [a for a in access if a["request_id"] == request_id] for request_id in ids}
    assert all(len(found) == 1 for found in by_id.values()), by_id
    line = by_id["log-test-0"][0]
    assert set(line) == ACCESS_FIELDS
    assert (line["method"], line["route"], line["path"], line["status"]) == (
        "GET",
        "/version",
        "/version",
        200,
    )
    assert line["remote_addr"] == "127.0.0.1"
    missing = [a for a in access if a["request_id"] == "log-404"]
    assert [(a["route"], a["path"], a["status"]) for a in missing] == [
        ("<unmatched>", "/missing", 404)
    ]
    # gunicorn's own log is JSON too, and it writes no access lines of its own.
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    assert not any(line["logger"] == "gunicorn.access" for line in lines)
