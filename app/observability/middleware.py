"""The WSGI middleware that instruments every request: request id, headers, metrics, access line.

It wraps Flask's ``wsgi_app`` rather than using ``before_request``/``after_request`` hooks: one
plain function call per request instead of Flask's hook dispatch and ``request``-proxy lookups,
which measurably mattered for the throughput target (see bench/service.py). It also catches what
Flask never sees: bodies over MAX_REQUEST_BYTES are refused before the app runs.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from app.errors import JSON, error_body
from app.http_headers import SECURITY_HEADERS
from app.observability.flusher import Flusher
from app.observability.logging import AccessLog
from app.observability.metrics import KNOWN_METHODS, UNMATCHED_ROUTE, Metrics
from app.observability.request_id import ENVIRON_KEY, HEADER, from_header
from app.observability.trace_context import incoming_trace_id

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)
_perf_counter_ns = time.perf_counter_ns


class ServiceMiddleware:
    """Instrument a WSGI app. Every request, whatever its outcome, gets exactly one access line,
    one counter increment and one latency observation.

    Args:
        app: the wrapped WSGI application (Flask's ``wsgi_app``).
        metrics: where to record requests.
        access_log: where to write the access line.
        flusher: writes out the metrics and access lines this middleware only buffers.
        max_request_bytes: larger declared bodies get a JSON 413 without reaching ``app``.
        trace_id: the request's trace id from its environ once ``app`` has run, for the access
            line: app.observability.tracing.request_trace_id with tracing on; by default the
            id the request brought (tracing off).
    """

    def __init__(
        self,
        app: WSGIApplication,
        metrics: Metrics,
        access_log: AccessLog,
        flusher: Flusher,
        max_request_bytes: int,
        *,
        trace_id: Callable[[Mapping[str, Any]], str | None] = incoming_trace_id,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.max_request_bytes = max_request_bytes
        # Bound methods looked up once: this runs on every request.
        self._ensure_flusher = flusher.ensure_started
        self._started = metrics.request_started
        self._finished = metrics.request_finished
        self._log = access_log.write
        self._log_enabled = access_log.enabled
        self._trace_id = trace_id

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request through the wrapped app, instrumented."""
        started = _perf_counter_ns()
        request_id = from_header(environ.get("HTTP_X_REQUEST_ID"))
        environ[ENVIRON_KEY] = request_id
        status_line = "500 Internal Server Error"
        route = UNMATCHED_ROUTE

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status_line, route
            status_line = status
            # Flask calls this while its request context is still alive, so the matched rule
            # is at hand here without any extra lookup. Flask clears the reference afterwards.
            request = environ.get("werkzeug.request")
            rule = getattr(request, "url_rule", None)
            if rule is not None:
                route = rule.rule
            headers.extend(SECURITY_HEADERS)
            headers.append((HEADER, request_id))
            return start_response(status, headers, exc_info)

        self._ensure_flusher()
        method = environ.get("REQUEST_METHOD", "")
        self._started()
        try:
            # Most requests declare no body: skip the parse for them.
            if "CONTENT_LENGTH" in environ and self._too_large(environ):
                body: Iterable[bytes] = self._error(capture, 413, request_id)
            else:
                body = self.app(environ, capture)
        except Exception:
            # Flask renders errors inside the app; this only catches failures around it.
            logger.exception(
                "unhandled exception outside the app", extra={"request_id": request_id}
            )
            body = self._error(capture, 500, request_id, sys.exc_info())
        finally:
            elapsed_ns = _perf_counter_ns() - started
            status = status_line[:3]
            self._finished(
                route, method if method in KNOWN_METHODS else "other", status, elapsed_ns / 1e9
            )

        if self._log_enabled:
            self._log(
                request_id,
                method,
                route,
                environ.get("PATH_INFO", ""),
                int(status),
                # Microsecond resolution, with integer arithmetic (cheaper than round()).
                elapsed_ns // 1000 / 1000,
                environ.get("REMOTE_ADDR", ""),
                self._trace_id(environ),
            )
        return body

    def _too_large(self, environ: WSGIEnvironment) -> bool:
        length = environ.get("CONTENT_LENGTH")
        if not length:
            return False
        try:
            return int(length) > self.max_request_bytes
        except ValueError:
            return False  # malformed: let the server/Flask treat it as no body

    @staticmethod
    def _error(
        capture: StartResponse, status: int, request_id: str, exc_info: Any = None
    ) -> list[bytes]:
        body = error_body(status, request_id)
        headers = [("Content-Type", JSON), ("Content-Length", str(len(body)))]
        if status == 413:
            # The body was not read; the connection cannot be reused safely.
            headers.append(("Connection", "close"))
        # exc_info lets the server replace headers the app may already have started.
        capture(f"{status} {_PHRASES[status]}", headers, exc_info)
        return [body]


_PHRASES = {413: "Request Entity Too Large", 500: "Internal Server Error"}
