"""The service's endpoints. Bodies that cannot change while the process runs are built once."""

from __future__ import annotations

import json
import platform
from typing import Any

from flask import Flask, Response

from app.config import AppConfig
from app.errors import JSON
from app.lifecycle.drain import DrainState
from app.observability.metrics import Metrics
from app.openapi import build_spec

FAILING_ROUTE = "/_test/fail"


def _body(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def register_routes(app: Flask, config: AppConfig, metrics: Metrics, drain: DrainState) -> None:
    """Add every endpoint of the contract (docs/ARCHITECTURE.md) to ``app``."""
    greeting = _body({"message": config.greeting})
    alive = _body({"status": "ok"})
    ready = _body({"status": "ready"})
    draining = _body({"status": "draining"})
    version = _body(
        {
            "version": config.app_version,
            "git_sha": config.git_sha,
            "build_time": config.build_time,
            "python": platform.python_version(),
        }
    )
    spec = _body(build_spec(config))

    def greet() -> Response:
        """``GET /``: the configured greeting."""
        return Response(greeting, content_type=JSON)

    def liveness() -> Response:
        """``GET /health``: 200 whenever this process can answer at all; deliberately cheap."""
        return Response(alive, content_type=JSON)

    def readiness() -> Response:
        """``GET /health/ready``: 200, or 503 from the moment the master starts draining."""
        if drain.draining:
            return Response(draining, 503, content_type=JSON)
        return Response(ready, content_type=JSON)

    def version_info() -> Response:
        """``GET /version``: build identity (env, else package metadata) and Python version."""
        return Response(version, content_type=JSON)

    def prometheus() -> Response:
        """``GET /metrics``: Prometheus text exposition summed over all workers."""
        return Response(metrics.render(), content_type=metrics.content_type)

    def openapi() -> Response:
        """``GET /openapi.json``: the OpenAPI 3.1 document."""
        return Response(spec, content_type=JSON)

    # No automatic OPTIONS responses: they would be the only non-JSON answers; OPTIONS gets 405.
    for rule, view in (
        ("/", greet),
        ("/health", liveness),
        ("/health/ready", readiness),
        ("/version", version_info),
        ("/metrics", prometheus),
        ("/openapi.json", openapi),
    ):
        app.add_url_rule(
            rule, view.__name__, view, methods=["GET"], provide_automatic_options=False
        )

    if config.enable_failing_route:

        def fail() -> Response:
            """Test-only: raise, to exercise the 500 handler."""
            raise RuntimeError("deliberate failure with a secret detail")

        app.add_url_rule(FAILING_ROUTE, "fail", fail, methods=["GET"])
