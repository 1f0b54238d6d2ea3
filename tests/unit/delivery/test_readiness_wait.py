"""The readiness wait holds to its deadline, also when a server accepts and answers late."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from delivery.local import gunicorn
from tests.support.http_server import serving

ANSWER_AFTER_S = 1.5


class SlowReady(BaseHTTPRequestHandler):
    """Accepts at once and answers 200 late, as a worker still importing the app does."""

    def do_GET(self) -> None:
        time.sleep(ANSWER_AFTER_S)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    with serving(SlowReady) as base:
        yield f"{base}/health/ready"


def test_an_answer_after_the_deadline_is_not_readiness(slow_server: str) -> None:
    # A local deploy's --ready-timeout was exceeded without an error: the first poll, accepted at
    # once, waited 2 s for its answer and was taken as ready however long the deadline was.
    with pytest.raises(gunicorn.NotReadyError, match=r"not ready within 0\.2 s"):
        gunicorn.wait_ready(slow_server, 0.2)


def test_an_answer_within_the_deadline_is_readiness(slow_server: str) -> None:
    waited = gunicorn.wait_ready(slow_server, 10, request_timeout_s=5)
    assert ANSWER_AFTER_S <= waited < 10
