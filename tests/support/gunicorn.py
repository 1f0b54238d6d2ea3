"""The real service under the production gunicorn command, on a free 127.0.0.1 port.

``start`` runs ``gunicorn --config python:app.gunicorn_conf app.wsgi:app`` as the image does,
its output (JSON lines) in a log file, and returns once ``/health/ready`` answers 200. The
integration tests' ``start_service`` fixture and the fuzz session's ``live_service`` use it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delivery.local import gunicorn
from tests.support.paths import ROOT

HOST = gunicorn.HOST
# The production command less its bind and app, for the commands the bad-input catalogue runs.
GUNICORN = [*gunicorn.GUNICORN, *gunicorn.SERVICE_CONFIG]
READY_TIMEOUT_S = 30.0
# What a test server runs with unless the test says otherwise: 2 workers x 2 threads, no drain
# window (a fast teardown) and a short graceful stop.
DEFAULTS = {
    "WEB_CONCURRENCY": "2",
    "THREADS": "2",
    "DRAIN_SECONDS": "0",
    "GRACEFUL_TIMEOUT_SECONDS": "5",
}


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

    def wait_for_lines(
        self, matches: Callable[[dict[str, Any]], bool], count: int, timeout: float = 30
    ) -> None:
        """Wait until ``count`` lines of the log match (a log line is the signal, not a delay)."""
        deadline = time.monotonic() + timeout
        while sum(1 for line in self.lines() if matches(line)) < count:
            assert time.monotonic() < deadline, f"fewer than {count} matching lines in {self.log}"
            time.sleep(0.05)

    def lines(self) -> list[dict[str, Any]]:
        """Every line of stdout+stderr, parsed as JSON (fails on a non-JSON line)."""
        text = self.log.read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def start(folder: Path, bytecode_cache: Path, **env: str) -> Server:
    """The service on a free port, ready (``DEFAULTS`` overridden by ``env``); logs in ``folder``.

    Launched and awaited by delivery/local/gunicorn.py, as the local runner and the benchmarks
    are. Ready means one worker answered ``/health/ready``: the others may still be starting.
    """
    port = free_port()
    settings = {**DEFAULTS, "PROMETHEUS_MULTIPROC_DIR": str(folder / f"metrics-{port}"), **env}
    launched = gunicorn.launch(
        port,
        folder / f"gunicorn-{port}.log",
        service_env(bytecode_cache, **settings),
        cwd=ROOT,
        host=HOST,
    )
    server = Server(
        launched.process, launched.base, launched.log, Path(settings["PROMETHEUS_MULTIPROC_DIR"])
    )
    try:
        launched.wait_ready(READY_TIMEOUT_S)
    except BaseException:
        if server.process.poll() is None:
            server.stop()
        raise
    return server
