"""A stand-in OTLP/HTTP trace receiver on 127.0.0.1 for the benchmark: accepts and counts.

The service exports spans with OTLP over HTTP (protobuf) to ``<endpoint>/v1/traces``. In the
benchmark nothing must judge them, only receive them the way a collector does, so that the
exporter does its full work (encode, POST, read the answer) and never retries: every
``POST /v1/traces`` gets ``200`` with an empty ``application/x-protobuf`` body, which is an
empty ExportTraceServiceResponse, the full-success answer
(https://opentelemetry.io/docs/specs/otlp/#full-success-1). HTTP/1.1 keep-alive, as a collector
offers, so the exporter reuses its connection.

What it received (export requests and bytes) is counted, so the benchmark can show that the
service with tracing on really exported.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

TRACES_PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"


class OtlpSink:
    """A threaded HTTP server on ``127.0.0.1:<free port>``; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.exports = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="otlp-sink", daemon=True
        )

    @property
    def endpoint(self) -> str:
        """The value for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def received(self, size: int) -> None:
        """Count one export request of ``size`` bytes."""
        with self._lock:
            self.exports += 1
            self.bytes += size

    def __enter__(self) -> OtlpSink:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(sink: OtlpSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a collector

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(size)
            if self.path != TRACES_PATH:
                self._answer(404, "text/plain")
                return
            sink.received(size)
            self._answer(200, PROTOBUF)

        def _answer(self, status: int, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the benchmark prints the counts."""

    return Handler
