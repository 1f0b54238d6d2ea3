"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask

from app.config import AppConfig
from app.errors import ExcInfo, log_exception, register_error_handlers
from app.lifecycle import heap
from app.lifecycle.drain import DrainState
from app.observability.deferred_tracing import DeferredTracing, TraceId
from app.observability.flusher import Flusher
from app.observability.logging import AccessLog, configure_logging
from app.observability.metrics import Metrics
from app.observability.middleware import ServiceMiddleware
from app.observability.trace_context import incoming_trace_id
from app.routes import register_routes
from app.stateless_session import StatelessSessionInterface

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from opentelemetry.sdk.trace.export import SpanExporter

# How late an access line or a request's metrics may be written (app.observability.flusher):
# short enough to read as live, long enough to batch ~100 requests per write under load.
FLUSH_INTERVAL_SECONDS = 0.05


class ServiceFlask(Flask):
    """Flask, with unhandled exceptions logged as one JSON line carrying the request id."""

    def log_exception(self, exc_info: ExcInfo) -> None:
        """Replace Flask's plain message with one the logs can be searched by request id for."""
        log_exception(exc_info)


def create_app(
    config: AppConfig, span_exporter: SpanExporter | None = None, *, defer_tracing: bool = False
) -> Flask:
    """Build the Flask app for ``config``: routes, JSON errors, logging, metrics, tracing,
    middleware.

    The app knows nothing of gunicorn or AWS; draining is observed through ``config.drain_flag``.
    With ``config.tracing`` set, requests are traced (app.observability.tracing) and spans go to
    ``span_exporter`` (tests) or, by default, to the OTLP endpoint; otherwise nothing of
    OpenTelemetry is imported. With ``defer_tracing`` (the gunicorn entry, app.wsgi), tracing is
    installed on a thread of this process just after it starts answering, off the path to
    readiness (app.observability.deferred_tracing), and what it loaded then leaves the garbage
    collector's full collections (app.lifecycle.heap); by default it is installed before this
    returns, as tests in-process want, and nothing is frozen.
    """
    formatter = configure_logging(config.log_level, config.app_version)
    app = ServiceFlask("app")
    app.config.update(
        # Errors are rendered as JSON by our handlers, never re-raised to the server.
        PROPAGATE_EXCEPTIONS=False,
        MAX_CONTENT_LENGTH=config.max_request_bytes,
        SECRET_KEY=config.secret_key,
        JSON_SORT_KEYS=False,
    )
    app.session_interface = StatelessSessionInterface()
    metrics = Metrics(config.app_version, config.git_sha, config.metrics_dir)
    drain = DrainState(config.drain_flag)
    register_routes(app, config, metrics, drain)
    register_error_handlers(app)
    access_log = AccessLog(formatter, enabled=logging.getLogger().isEnabledFor(logging.INFO))
    flusher = Flusher(FLUSH_INTERVAL_SECONDS, access_log.flush, metrics.flush)
    trace_id: Callable[[Mapping[str, Any]], str | None] = incoming_trace_id
    # Kept on the app for tests and tooling (e.g. to start a drain in-process).
    extensions: dict[str, Any] = {
        "config": config,
        "metrics": metrics,
        "drain": drain,
        "access_log": access_log,
        "flusher": flusher,
        "tracer_provider": None,  # set once tracing is installed
    }
    app.extensions["flask_fargate"] = extensions
    if config.tracing is not None:
        tracing_config = config.tracing

        def install(wsgi_app: WSGIApplication) -> tuple[WSGIApplication, TraceId]:
            from app.observability import tracing  # noqa: PLC0415 - OpenTelemetry only if on

            traced, extensions["tracer_provider"] = tracing.traced(
                wsgi_app, tracing_config, span_exporter
            )
            return traced, tracing.request_trace_id

        # Inside the service middleware: its access line reads the span the tracing middleware
        # leaves in the environ.
        if defer_tracing:

            def install_then_freeze(
                wsgi_app: WSGIApplication,
            ) -> tuple[WSGIApplication, TraceId]:
                installed = install(wsgi_app)
                # Under gunicorn: what tracing loaded (OpenTelemetry's SDK, protobuf) lives as
                # long as the worker, so it leaves full collections too (app.lifecycle.heap).
                heap.freeze()
                return installed

            deferred = DeferredTracing(app.wsgi_app, install_then_freeze)
            app.wsgi_app = deferred  # type: ignore[method-assign]
            trace_id = deferred.trace_id
            extensions["tracing_installed"] = deferred.installed
            deferred.start()
        else:
            app.wsgi_app, trace_id = install(app.wsgi_app)  # type: ignore[method-assign,assignment]
    app.wsgi_app = ServiceMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, metrics, access_log, flusher, config.max_request_bytes, trace_id=trace_id
    )
    return app
