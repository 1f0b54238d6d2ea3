"""One real gunicorn for the whole fuzz session, and the summary of the generated API cases.

The server is the production command (``gunicorn --config python:app.gunicorn_conf``) on a free
127.0.0.1 port, started with tests/support/gunicorn.py. It is session-scoped: schemathesis and
the hostile-input tests send thousands of requests, and one server for all of them also lets the
last test check that none of them made the app log an error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import gunicorn
from tests.support.fuzz_tally import CASES, STATUSES
from tests.support.gunicorn import Server


@pytest.fixture(scope="session")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service under real gunicorn: 2 workers x 4 threads, default limits and body size."""
    tmp = tmp_path_factory.mktemp("fuzz-service")
    # No drain window: nothing to drain at the end of a test session, so it stops fast.
    server = gunicorn.start(tmp, tmp / "pycache", THREADS="4")
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many API cases schemathesis generated and what the server answered."""
    if not CASES:
        return
    terminalreporter.section("API fuzzing")
    # Per path: the documented GET, then every other method schemathesis tried (expect 405).
    for path in sorted({operation.split(" ", 1)[1] for operation in CASES}):
        documented = CASES[f"GET {path}"]
        others = sum(n for op, n in CASES.items() if op.endswith(f" {path}") and op[:4] != "GET ")
        terminalreporter.write_line(
            f"{path:<16}GET {documented:>5} cases, other methods {others:>3} cases"
        )
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(STATUSES.items()))
    # Counted only after call_and_validate returned: every case here passed every check.
    terminalreporter.write_line(f"{CASES.total()} cases passed every check; answers {statuses}")
