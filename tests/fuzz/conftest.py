"""One real gunicorn for the whole fuzz session, and the tally of the generated API cases.

The server is the production command (``gunicorn --config python:app.gunicorn_conf``) on a free
127.0.0.1 port, launched by delivery/local/gunicorn.py as tests/integration/conftest.py does. It
is session-scoped: schemathesis and the hostile-input tests send thousands of requests, and one
server for all of them also lets the last test check that none of them made the app log an error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from delivery.local import gunicorn
from tests.integration.conftest import HOST, ROOT, Server, free_port, service_env

# Generated API cases per operation ("GET /health") and per status code: filled by the fuzz test,
# printed in the terminal summary, checked by its last test.
CASES: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="session")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service under real gunicorn: 2 workers x 4 threads, default limits and body size."""
    tmp = tmp_path_factory.mktemp("fuzz-service")
    port = free_port()
    settings = {
        "WEB_CONCURRENCY": "2",
        "THREADS": "4",
        "DRAIN_SECONDS": "0",  # nothing to drain at the end of a test session: stop fast
        "GRACEFUL_TIMEOUT_SECONDS": "5",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
    }
    launched = gunicorn.launch(
        port, tmp / "gunicorn.log", service_env(tmp / "pycache", **settings), cwd=ROOT, host=HOST
    )
    server = Server(launched.process, launched.base, launched.log, tmp / "metrics")
    try:
        launched.wait_ready(30)
        yield server
    finally:
        if launched.running():
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
