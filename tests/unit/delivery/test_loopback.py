"""delivery.loopback.get: status and body, or 0 when nothing answers; never an exception."""

from __future__ import annotations

import http.server
import socket
from collections.abc import Iterator

import pytest

from delivery import loopback
from tests.support.http_server import serving


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/ok":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"body")
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture
def server() -> Iterator[str]:
    with serving(_Handler) as base:
        yield base


def test_status_and_body(server: str) -> None:
    assert loopback.get(f"{server}/ok", timeout_s=2) == (200, b"body")


def test_an_http_error_is_its_status_without_body(server: str) -> None:
    assert loopback.get(f"{server}/missing", timeout_s=2) == (404, b"")


def test_nothing_listening_is_status_0() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        assert loopback.get(f"http://127.0.0.1:{port}/", timeout_s=2) == (0, b"")
