"""Property-based fuzzing of every operation in the live service's own OpenAPI document.

schemathesis reads ``/openapi.json`` from the real gunicorn server (not from ``build_spec``: what
is served is what clients get), generates valid and invalid requests for every operation, and
runs all of its checks on each response: no 5xx, status codes, content types, headers and bodies
as the document declares them, invalid input rejected, and unsupported methods answered with 405
and ``Allow``. ``MAX_EXAMPLES`` per operation keeps the total above 1000 cases.

Run: ``uv run pytest tests/fuzz -m slow`` (nox session ``fuzz``); the case count is printed in the
terminal summary ("API fuzzing").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from tests.support.fuzz_tally import CASES, STATUSES
from tests.support.gunicorn import Server

MAX_EXAMPLES = 200
MIN_CASES = 1000

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]


@pytest.fixture(scope="session")
def api_schema(live_service: Server) -> schemathesis.schemas.BaseSchema:
    """The OpenAPI document as the live server serves it."""
    return schemathesis.openapi.from_url(live_service.url("/openapi.json"))


# schemathesis leaves out the operation that served the document itself unless a filter names
# it; GET /openapi.json is an operation of this API like any other, so the filter names them all.
schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex="^/")


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    """One keep-alive session for every case: a thousand new connections would only add time."""
    with requests.Session() as session:
        yield session


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    # The server shares two CPUs with this process: a slow example is not a failure here.
    deadline=None,
    # No example database in the work tree; failures print their reproduction anyway.
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_conforms(case: schemathesis.Case[Any], http: requests.Session) -> None:
    response = case.call_and_validate(session=http)
    CASES[f"{case.method} {case.path}"] += 1
    STATUSES[response.status_code] += 1


def test_enough_cases_ran(api_schema: schemathesis.schemas.BaseSchema) -> None:
    """Runs after the fuzz test (file order): every operation was fuzzed, 1000+ cases in all.

    An operation without a single passing case is exactly what broken generation looks like: it
    fails here, it never passes as a skip.
    """
    operations = {
        f"{method.upper()} {path}"
        for path, item in api_schema.raw_schema["paths"].items()
        for method in item
    }
    unfuzzed = sorted(operations - set(CASES))
    assert not unfuzzed, (
        f"no generated case passed for {unfuzzed} (cases so far: {dict(CASES)}); the tally is "
        "test_every_operation_conforms's, which must run first in the same session"
    )
    print(f"API fuzzing: {CASES.total()} cases over {len(operations)} operations")
    assert CASES.total() >= MIN_CASES, CASES
