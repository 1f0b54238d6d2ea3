"""A pytest fixture that runs the real service under gunicorn on a free 127.0.0.1 port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from delivery.local import gunicorn

ROOT = Path(__file__).resolve().parents[2]
HOST = gunicorn.HOST
# The production command less its bind and app, for the commands the bad-input catalogue runs.
GUNICORN = [*gunicorn.GUNICORN, *gunicorn.SERVICE_CONFIG]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(cache: Path, **env: str) -> dict[str, str]:
    """The environment for a gunicorn run: the caller's, minus service settings, plus ``env``.

    Bytecode goes to a session cache (the shell may forbid writing it next to the sources), so
    every start after the first is fast.
    """
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PROMETHEUS_MULTIPROC_DIR", "PYTHONDONTWRITEBYTECODE", "PORT"}
    }
    return {**base, "PYTHONPYCACHEPREFIX": str(cache), **env}


@dataclass
class Server:
    """A running gunicorn master with the service."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path
    metrics_dir: Path
    stopped: bool = field(default=False)

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return self.base + path

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM the master (only the master, as ECS does) and wait for it to exit."""
        if not self.stopped:
            self.process.send_signal(signal.SIGTERM)
            self.stopped = True
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def lines(self) -> list[dict[str, Any]]:
        """Every line of stdout+stderr, parsed as JSON (fails on a non-JSON line)."""
        text = self.log.read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


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
        port = free_port()
        metrics_dir = tmp_path / f"metrics-{port}"
        log = tmp_path / f"gunicorn-{port}.log"
        settings = {
            "WEB_CONCURRENCY": "2",
            "THREADS": "2",
            "DRAIN_SECONDS": "0",
            "GRACEFUL_TIMEOUT_SECONDS": "5",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            **env,
        }
        launched = gunicorn.launch(
            port, log, service_env(bytecode_cache, **settings), cwd=ROOT, host=HOST
        )
        server = Server(launched.process, launched.base, log, metrics_dir)
        servers.append(server)
        launched.wait_ready(30)
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.stop()
