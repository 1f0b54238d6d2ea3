"""Every route, error, header and request-id rule, through Flask's test client."""

from __future__ import annotations

import json
import platform
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate as validate_spec
from werkzeug.test import TestResponse

from app.lifecycle.drain import DrainState
from tests.support.service_contract import ACCESS_FIELDS, SECURITY_HEADERS

PATHS = ["/", "/health", "/health/ready", "/version", "/metrics", "/openapi.json"]


def body(response: TestResponse) -> Any:
    assert response.content_type == "application/json"
    return json.loads(response.data)


def test_greeting_uses_the_configured_text(make_app: Callable[..., Flask]) -> None:
    response = make_app(greeting="Hej världen").test_client().get("/")
    assert response.status_code == 200
    assert body(response) == {"message": "Hej världen"}


def test_liveness_and_readiness(client: FlaskClient) -> None:
    assert body(client.get("/health")) == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert body(ready) == {"status": "ready"}


def test_readiness_turns_503_once_draining(app: Flask, client: FlaskClient) -> None:
    drain: DrainState = app.extensions["flask_fargate"]["drain"]
    drain.begin()
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert body(response) == {"status": "draining"}
    # Liveness stays green: a draining task must not be killed as unhealthy.
    assert client.get("/health").status_code == 200


def test_readiness_sees_a_flag_file_created_by_another_process(
    make_app: Callable[..., Flask], tmp_path: Any
) -> None:
    client = make_app(metrics_dir=tmp_path).test_client()
    assert client.get("/health/ready").status_code == 200
    (tmp_path / "draining").touch()  # what the gunicorn master does on SIGTERM
    assert client.get("/health/ready").status_code == 503


def test_version_reports_build_and_python(client: FlaskClient) -> None:
    assert body(client.get("/version")) == {
        "version": "1.2.3",
        "git_sha": "abc123",
        "build_time": "2026-01-01T00:00:00Z",
        "python": platform.python_version(),
    }


def test_metrics_count_requests_by_route_template_method_and_status(
    client: FlaskClient,
) -> None:
    for _ in range(3):
        client.get("/")
    client.get("/nope/42")
    client.delete("/")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{method="GET",route="/",status="200"} 3.0' in text
    assert 'http_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in text
    assert 'http_requests_total{method="DELETE",route="<unmatched>",status="405"} 1.0' in text
    assert 'http_request_duration_seconds_count{method="GET",route="/"} 3.0' in text
    assert "http_requests_in_flight" in text
    assert 'app_build_info{git_sha="abc123"' in text


def test_unknown_methods_do_not_create_label_values(client: FlaskClient) -> None:
    client.open("/", method="BREW")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'method="other"' in text
    assert "BREW" not in text


@pytest.mark.parametrize("path", PATHS)
def test_security_headers_and_request_id_on_every_response(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert len(response.headers["X-Request-ID"]) == 32


def test_a_valid_request_id_is_kept(client: FlaskClient) -> None:
    response = client.get("/", headers={"X-Request-ID": "trace-1.2_3"})
    assert response.headers["X-Request-ID"] == "trace-1.2_3"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 129, "semi;colon", "ünïcode"])
def test_an_invalid_request_id_is_replaced(client: FlaskClient, bad: str) -> None:
    response = client.get("/", headers={"X-Request-ID": bad})
    replaced = response.headers["X-Request-ID"]
    assert replaced != bad
    assert len(replaced) == 32
    assert all(c in "0123456789abcdef" for c in replaced)


def test_generated_request_ids_are_unique(client: FlaskClient) -> None:
    ids = {client.get("/health").headers["X-Request-ID"] for _ in range(200)}
    assert len(ids) == 200


def _assert_error(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status
    payload: dict[str, Any] = body(response)
    assert payload["status"] == status
    assert payload["request_id"] == response.headers["X-Request-ID"]
    assert set(payload) == {"status", "error", "message", "request_id"}
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    return payload


def test_404_is_json(client: FlaskClient) -> None:
    assert _assert_error(client.get("/missing"), 404)["error"] == "Not Found"


def test_405_is_json_and_says_what_is_allowed(client: FlaskClient) -> None:
    response = client.post("/health")
    _assert_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_options_is_405_json_not_an_empty_200(client: FlaskClient) -> None:
    _assert_error(client.options("/"), 405)


def test_413_is_json_and_the_body_is_not_read(make_app: Callable[..., Flask]) -> None:
    client = make_app(max_request_bytes=10).test_client()
    response = client.post("/", data=b"x" * 11)
    _assert_error(response, 413)
    assert client.post("/", data=b"x" * 10).status_code == 405  # at the limit: reaches routing


def test_500_is_json_without_internals_and_logged_with_the_request_id(
    client: FlaskClient, capfd: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/_test/fail", headers={"X-Request-ID": "fail-1"})
    payload = _assert_error(response, 500)
    assert payload["request_id"] == "fail-1"
    assert "secret detail" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    logged = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line]
    errors = [line for line in logged if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "fail-1"
    assert "secret detail" in errors[0]["exc_info"]


def test_failing_route_exists_only_when_enabled(make_app: Callable[..., Flask]) -> None:
    client = make_app(enable_failing_route=False).test_client()
    assert client.get("/_test/fail").status_code == 404


def test_openapi_document_is_valid_and_lists_every_route(client: FlaskClient) -> None:
    spec = body(client.get("/openapi.json"))
    validate_spec(spec)
    assert spec["openapi"].startswith("3.1")
    assert sorted(spec["paths"]) == sorted(PATHS)
    for code in ("E404", "E405", "E413", "E500"):
        assert code in spec["components"]["responses"]


def test_one_access_line_per_request_with_every_field(
    app: Flask, client: FlaskClient, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    one, two = uuid.uuid4().hex, uuid.uuid4().hex
    client.get("/", headers={"X-Request-ID": one})
    client.get("/nope", headers={"X-Request-ID": two})
    app.extensions["flask_fargate"]["access_log"].flush()
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line]
    # Other tests' apps may still flush their own lines into this capture: keep this test's.
    access = [
        line
        for line in lines
        if line["logger"] == "app.access" and line["request_id"] in (one, two)
    ]
    assert [line["request_id"] for line in access] == [one, two]
    first = access[0]
    assert set(first) == ACCESS_FIELDS
    assert (first["method"], first["route"], first["path"], first["status"]) == (
        "GET",
        "/",
        "/",
        200,
    )
    assert first["version"] == "1.2.3"
    assert first["duration_ms"] >= 0
    assert (access[1]["route"], access[1]["status"]) == ("<unmatched>", 404)


def test_access_log_is_off_above_info(
    make_app: Callable[..., Flask], capfd: pytest.CaptureFixture[str]
) -> None:
    app = make_app(log_level="WARNING")
    capfd.readouterr()
    # Other tests' apps may still flush their own lines into this capture: look for this one's,
    # by the request id it was given (which every access line carries).
    probe = uuid.uuid4().hex
    app.test_client().get("/", headers={"X-Request-ID": probe})
    app.extensions["flask_fargate"]["access_log"].flush()
    assert probe not in capfd.readouterr().out


def test_500_and_503_bodies_match_the_openapi_document(app: Flask, client: FlaskClient) -> None:
    from openapi_schema_validator import OAS31Validator  # noqa: PLC0415

    spec = body(client.get("/openapi.json"))
    components = spec["components"]
    error_schema = components["responses"]["E500"]["content"]["application/json"]["schema"]
    OAS31Validator({**error_schema, "components": components}).validate(
        body(client.get("/_test/fail"))
    )
    app.extensions["flask_fargate"]["drain"].begin()
    draining = spec["paths"]["/health/ready"]["get"]["responses"]["503"]
    OAS31Validator(draining["content"]["application/json"]["schema"]).validate(
        body(client.get("/health/ready"))
    )
