"""Tracing installed off the path to readiness: a worker answers first and traces a moment later.

Importing and building OpenTelemetry's SDK (app.observability.tracing) costs every gunicorn
worker ~70-145 ms of CPU, which on the path to a worker's first answer made the service start
~25% slower than bare Flask. :class:`DeferredTracing` is the WSGI app the service starts with: it
passes requests straight to the app, untraced, until a daemon thread of the worker has imported
and built tracing and swapped the tracing middleware in (one attribute assignment, atomic under
the GIL). Until then a request's access line still carries the trace id it brought
(app.observability.trace_context, as with tracing off), and its trace headers are not answered
with a span of ours.

Why the untraced window costs nothing in production: on ECS the load balancer sends a new task
no traffic before its target passes the health checks, several intervals of at least 5 s each
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html),
while the window lasts a few tenths of a second after the worker's first answer. The import waits
for that first answer (or :data:`DEFER_SECONDS` without one) so that it does not compete with
it for the GIL.

Tests that build the app in-process install tracing synchronously (``create_app``'s default);
under gunicorn each worker logs ``tracing: on, spans go to <url>`` (app.observability.tracing's
``TRACING_ON``) once tracing is installed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from app.observability.trace_context import incoming_trace_id

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

# The longest a worker that gets no request waits before it installs tracing anyway.
DEFER_SECONDS = 0.5

TraceId = Callable[[Mapping[str, Any]], "str | None"]
# Builds the traced app around the given one; returns it and how to read a request's trace id.
Install = Callable[["WSGIApplication"], tuple["WSGIApplication", TraceId]]


class DeferredTracing:
    """Serve ``app`` untraced until :meth:`start`'s thread installs tracing around it.

    Args:
        app: the WSGI app to trace (Flask's ``wsgi_app``).
        install: builds tracing (imports OpenTelemetry) and wraps the app; run on the thread.
    """

    def __init__(self, app: WSGIApplication, install: Install) -> None:
        self.app = app
        self._install = install
        self._trace_id: TraceId = incoming_trace_id
        self._answered = threading.Event()
        self._waiting = True  # for the first answer: a plain attribute, read on every request
        self.installed = threading.Event()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request through whichever app is current."""
        try:
            return self.app(environ, start_response)
        finally:
            if self._waiting:
                self._waiting = False
                self._answered.set()

    def trace_id(self, environ: Mapping[str, Any]) -> str | None:
        """The request's trace id, by tracing's reading once it is installed."""
        return self._trace_id(environ)

    def start(self) -> threading.Thread:
        """Install tracing on a daemon thread, after the first answer or DEFER_SECONDS.

        Call it in the process that serves (a gunicorn worker, after the fork): threads do not
        survive a fork.
        """
        thread = threading.Thread(target=self._run, name="tracing-install", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        self._answered.wait(DEFER_SECONDS)
        try:
            traced, trace_id = self._install(self.app)
        except Exception:  # a worker that cannot trace still serves, and says why
            log.exception("tracing could not be installed: requests stay untraced")
            return
        # The trace id reader first: it also reads requests the tracing middleware never saw.
        self._trace_id = trace_id
        self.app = traced
        self.installed.set()
