"""Live responses of every documented operation validate against the served OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from tests.support.gunicorn import Server


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _check(
    spec: dict[str, Any], response_spec: dict[str, Any], response: requests.Response
) -> None:
    documented = _resolve(spec, response_spec)
    assert "X-Request-ID" in response.headers
    media_type = response.headers["Content-Type"].split(";")[0]
    content = documented["content"]
    if media_type == "application/json":
        schema = content["application/json"]["schema"]
        # The schema's $refs point into the document: validate with the components alongside.
        OAS31Validator({**schema, "components": spec["components"]}).validate(response.json())
    else:
        assert media_type in content, (media_type, list(content))


def test_every_documented_operation_matches_the_document(
    start_service: Callable[..., Server],
) -> None:
    server = start_service(MAX_REQUEST_BYTES="64")
    spec: dict[str, Any] = requests.get(server.url("/openapi.json"), timeout=5).json()
    validate_spec(spec)
    checked: set[tuple[str, str]] = set()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            # Success.
            ok = requests.request(method, server.url(path), timeout=5)
            assert str(ok.status_code) in responses, (path, ok.status_code)
            _check(spec, responses[str(ok.status_code)], ok)
            checked.add((path, str(ok.status_code)))
            # Documented errors this path can produce from outside: 405 and 413.
            wrong_method = requests.request("DELETE", server.url(path), timeout=5)
            assert wrong_method.status_code == 405
            _check(spec, responses["405"], wrong_method)
            too_large = requests.request(method, server.url(path), data=b"x" * 65, timeout=5)
            assert too_large.status_code == 413
            _check(spec, responses["413"], too_large)
    assert len(checked) == len(spec["paths"])
    missing = requests.get(server.url("/no/such/path"), timeout=5)
    assert missing.status_code == 404
    _check(spec, spec["components"]["responses"]["E404"], missing)
