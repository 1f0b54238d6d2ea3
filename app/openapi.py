"""The OpenAPI 3.1 description of the service, built once from the configuration."""

from __future__ import annotations

from typing import Any

from app.config import AppConfig

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_REQUEST_ID_HEADER = {
    "description": "The request id: the caller's X-Request-ID when valid, else a new one.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
}

ERRORS = {
    404: "No such path.",
    405: "Method not allowed on this path.",
    413: "Request body larger than MAX_REQUEST_BYTES.",
    500: "Unexpected server error (details are logged with the request id).",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
        "content": {"application/json": {"schema": schema}},
    }


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes}


def _operation(
    operation_id: str, summary: str, responses: dict[str, Any], tag: str
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": [tag],
            "parameters": [{"$ref": "#/components/parameters/RequestId"}],
            "responses": {**responses, **_errors(405, 413, 500)},
        }
    }


def _status(value: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": value}},
        "additionalProperties": False,
    }


def build_spec(config: AppConfig) -> dict[str, Any]:
    """The OpenAPI document: every endpoint, its success and error responses and their schemas."""
    # 404 belongs to no operation (it answers paths that do not exist) but has the same schema.
    error_responses = {
        f"E{code}": _json(_ERROR_REF, description) for code, description in ERRORS.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "flask-fargate",
            "version": config.app_version,
            "description": "Reference Flask service. Every response is JSON (except /metrics) "
            "and carries X-Request-ID; every error uses the Error schema.",
        },
        "paths": {
            "/": _operation(
                "greet",
                "Greeting (GREETING).",
                {"200": _json({"$ref": "#/components/schemas/Greeting"}, "The greeting.")},
                "service",
            ),
            "/health": _operation(
                "liveness",
                "Liveness: 200 while the process can serve.",
                {"200": _json(_status("ok"), "Alive.")},
                "health",
            ),
            "/health/ready": _operation(
                "readiness",
                "Readiness: 200 when ready, 503 once draining after SIGTERM.",
                {
                    "200": _json(_status("ready"), "Ready for traffic."),
                    "503": _json(_status("draining"), "Draining: send no new traffic."),
                },
                "health",
            ),
            "/version": _operation(
                "version",
                "Build and runtime version.",
                {"200": _json({"$ref": "#/components/schemas/Version"}, "The version.")},
                "service",
            ),
            "/metrics": _operation(
                "metrics",
                "Prometheus metrics of all workers (text exposition format 0.0.4).",
                {
                    "200": {
                        "description": "Prometheus text format.",
                        "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
                "observability",
            ),
            "/openapi.json": _operation(
                "openapi",
                "This document.",
                {"200": _json({"type": "object", "required": ["openapi"]}, "OpenAPI 3.1.")},
                "service",
            ),
        },
        "components": {
            "schemas": {
                "Greeting": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {"message": {"type": "string", "minLength": 1}},
                    "additionalProperties": False,
                },
                "Version": {
                    "type": "object",
                    "required": ["version", "git_sha", "build_time", "python"],
                    "properties": {
                        "version": {"type": "string"},
                        "git_sha": {"type": "string"},
                        "build_time": {"type": "string"},
                        "python": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
                "Error": {
                    "type": "object",
                    "required": ["status", "error", "message", "request_id"],
                    "properties": {
                        "status": {"type": "integer", "minimum": 400, "maximum": 599},
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "request_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
                    },
                    "additionalProperties": False,
                },
            },
            "responses": error_responses,
            "parameters": {
                "RequestId": {
                    "name": "X-Request-ID",
                    "in": "header",
                    "required": False,
                    "description": "Correlation id; kept when 1-128 of [A-Za-z0-9._-].",
                    "schema": {"type": "string"},
                }
            },
            "headers": {"RequestId": _REQUEST_ID_HEADER},
        },
    }
