"""Fixtures: the real service under gunicorn on a free port (tests/support/gunicorn.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import gunicorn
from tests.support.gunicorn import Server


@pytest.fixture(scope="session")
def bytecode_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the gunicorn runs of this session cache their bytecode."""
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture
def start_service(tmp_path: Path, bytecode_cache: Path) -> Iterator[Callable[..., Server]]:
    """Start the service under real gunicorn with the given env; stopped after the test.

    Defaults: 2 workers x 2 threads, no drain window (fast teardown); override with env.
    """
    servers: list[Server] = []

    def start(**env: str) -> Server:
        server = gunicorn.start(tmp_path, bytecode_cache, **env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.stop()
