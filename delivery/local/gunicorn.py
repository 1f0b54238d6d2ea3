"""The service under gunicorn on 127.0.0.1: the one launcher, and the one readiness poll.

Shared by the local runner (delivery/local/runner.py), the benchmarks (bench/), the smoke test
(delivery/smoke.py) and the tests, so that all of them start the production command the same way
and wait for readiness the same way. The poll works on any URL: a container's too.

Imports only the standard library and psutil (through delivery/local/processes.py): the ``fuzz``
and ``drain`` nox sessions launch gunicorn through this module and install neither boto3 nor
Sceptre.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from delivery import lifetime, loopback
from delivery.local.processes import STOP_TIMEOUT_S, find, stop

HOST = "127.0.0.1"
GUNICORN = (sys.executable, "-m", "gunicorn")
# The production command's arguments (the Dockerfile's CMD), less the bind that ``launch`` adds:
# on the command line it beats the config file's 0.0.0.0, so nothing listens beyond loopback.
SERVICE_CONFIG = ("--config", "python:app.gunicorn_conf")
SERVICE_ARGS = (*SERVICE_CONFIG, "app.wsgi:app")
READY_PATH = "/health/ready"
POLL_S = 0.02
MIN_POLL_S = 0.001  # the shortest request timeout: socket timeouts must be positive
REQUEST_TIMEOUT_S = 2.0


class NotReadyError(RuntimeError):
    """Readiness never came: the server stopped running first (``exited``), or time ran out."""

    def __init__(self, url: str, timeout_s: float, *, exited: bool, message: str = "") -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.exited = exited
        default = (
            f"{url}: the server exited before it was ready"
            if exited
            else f"{url} not ready within {timeout_s:g} s"
        )
        super().__init__(message or default)


def wait_ready(
    url: str,
    timeout_s: float,
    *,
    running: Callable[[], bool] | None = None,
    check_every_s: float = 0.0,
    interval_s: float = POLL_S,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
) -> float:
    """Poll ``GET url`` until it answers 200; the seconds that took.

    ``running`` says whether the server still runs: asked after a failed poll, at most every
    ``check_every_s`` (an engine call is slow, a process poll is not), so that a server that died
    fails the wait at once instead of at the timeout. Raises ``NotReadyError`` either way.
    """
    started = time.monotonic()
    next_check = started + check_every_s
    while True:
        # A refused connection (workers not bound yet) and a timeout (a worker that bound its
        # SO_REUSEPORT socket is still importing the app) both read as status 0: not yet. No poll
        # outlasts the deadline: an answer that comes after it is not readiness within it.
        left = timeout_s - (time.monotonic() - started)
        status, _ = loopback.get(url, timeout_s=max(min(request_timeout_s, left), MIN_POLL_S))
        if status == 200:
            return time.monotonic() - started
        now = time.monotonic()
        if running is not None and now >= next_check:
            next_check = now + check_every_s
            if not running():
                raise NotReadyError(url, timeout_s, exited=True)
        if now - started >= timeout_s:
            raise NotReadyError(url, timeout_s, exited=False)
        time.sleep(interval_s)


@dataclass
class Gunicorn:
    """A gunicorn master this process launched on ``host:port``, its output in ``log``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    launched: float  # time.monotonic() just before the launch
    host: str = HOST

    @property
    def pid(self) -> int:
        """The master's process id."""
        return self.process.pid

    @property
    def base(self) -> str:
        """The base URL it serves."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path``."""
        return self.base + path

    def tail(self, size: int = 3000) -> str:
        """The end of its output, for error messages."""
        try:
            return self.log.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return ""

    def running(self) -> bool:
        """Whether the master still runs."""
        return self.process.poll() is None

    def wait_ready(
        self, timeout_s: float, path: str = READY_PATH, *, interval_s: float = POLL_S
    ) -> float:
        """Seconds from the launch to the first 200 on ``path``; ``NotReadyError`` if never."""
        try:
            wait_ready(self.url(path), timeout_s, running=self.running, interval_s=interval_s)
        except NotReadyError as exc:
            if exc.exited:
                raise NotReadyError(
                    exc.url,
                    timeout_s,
                    exited=True,
                    message=f"gunicorn exited with {self.process.returncode} before it was ready",
                ) from exc
            raise
        return time.monotonic() - self.launched

    def stop(self, sig: int = signal.SIGQUIT, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` to the master (SIGQUIT: its quick stop; SIGTERM: the app's drain), SIGKILL
        after ``timeout_s``; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def launch(
    port: int,
    log: Path,
    env: Mapping[str, str],
    *,
    cwd: Path,
    args: Sequence[str] = SERVICE_ARGS,
    host: str = HOST,
    own_session: bool = False,
    die_with_parent: bool = True,
) -> Gunicorn:
    """Start ``gunicorn --bind host:port <args>`` in ``cwd`` with ``env`` (and ``PORT``).

    ``env`` is the whole environment: callers decide what of theirs the server sees. Output goes
    to ``log``; nothing reads stdin. ``own_session`` makes the master the leader of a session of
    its own, so that it and its workers stop as one group and a terminal's Ctrl-C does not reach
    them (the local runner's). ``die_with_parent``: the master gets SIGQUIT, its quick stop,
    when this process dies, however it dies (delivery/lifetime.py); only a server that is to
    outlive this process (a ``--keep`` command's) goes without.
    """
    argv = [*GUNICORN, "--bind", f"{host}:{port}", *args]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        launched = time.monotonic()
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv,
            cwd=cwd,
            env={**env, "PORT": str(port)},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
            preexec_fn=lifetime.die_with_parent(signal.SIGQUIT) if die_with_parent else None,  # noqa: PLW1509 - only prctl runs in the child
        )
    return Gunicorn(process, port, log, launched, host)


def quit_master(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Quick-stop a master launched with ``own_session``, by pid (a recorded one, say).

    SIGQUIT is gunicorn's quick shutdown (SIGTERM would run the app's drain): workers stop at
    once and the master still removes its metrics folder; whatever of the group is left after
    ``timeout_s`` is killed. A pid that is no longer a gunicorn (reused since) is left alone.
    """
    master = find(pid, "gunicorn")
    if master is not None:
        stop(master, signal.SIGQUIT, timeout_s, group=True)
