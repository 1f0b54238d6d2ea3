"""The local AWS emulator: a moto server on 127.0.0.1, run as a separate process.

Clients are pointed at it only through the standard AWS environment variables (see ``aws_env``),
never through code paths of their own, so the same delivery code runs against AWS and the emulator.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from delivery import lifetime, loopback
from delivery.errors import DeliveryError
from delivery.process import last_line

HOST = "127.0.0.1"
DEFAULT_REGION = "eu-north-1"
# Measured: moto answers in 2-4 s on an idle 2-CPU machine, and took over 20 s under a load
# average of 12 (parallel test workers and deploys). An emulator that dies is seen at once
# (its exit is polled), so a long bound only waits for one that is slow, not broken.
START_TIMEOUT_S = 60.0
# What moto accepts as credentials; a placeholder that can never reach a real account.
DUMMY_CREDENTIAL = "testing"


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = HOST) -> bool:
    """Whether something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def aws_env(endpoint: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that point boto3, Sceptre and the AWS CLI at ``endpoint``.

    Dummy credentials and /dev/null profile files make sure no real account can be reached.
    """
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIAL,
        "AWS_SESSION_TOKEN": DUMMY_CREDENTIAL,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@dataclass
class Emulator:
    """A moto server process on ``127.0.0.1:port``; ``port=0`` picks a free one."""

    port: int = 0
    region: str = DEFAULT_REGION
    start_timeout_s: float = START_TIMEOUT_S
    # moto's server, made as strict as CloudFormation where moto is kinder (delivery.strict_moto).
    command: list[str] = field(
        default_factory=lambda: [sys.executable, "-m", "delivery.strict_moto"]
    )
    # In a session of its own: a kept emulator outlives the command and its terminal's signals.
    # Otherwise it gets SIGKILL when the process that started it dies (delivery/lifetime.py).
    detach: bool = False
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def endpoint(self) -> str:
        """The emulator's base URL."""
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        """Where the server's own output goes (moto logs unsupported resource types there)."""
        return Path(self._log.name) if self._log else None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def env(self) -> dict[str, str]:
        """AWS environment variables pointing at this emulator."""
        return aws_env(self.endpoint, self.region)

    def start(self, wait: bool = True) -> Emulator:
        """Start the server and wait until it answers; a one-line DeliveryError otherwise.

        ``wait=False`` returns as soon as the process exists (the port is already fixed), so the
        caller can do other work while moto imports; ``wait_until_ready`` then waits.
        """
        if self.port and port_in_use(self.port):
            raise DeliveryError(
                f"emulator port {self.port} on {HOST} is already in use: stop what listens there "
                "or choose another port (--port 0 picks a free one)"
            )
        self.port = self.port or free_port()
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix="moto-", suffix=".log", delete=False
        )
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [*self.command, "-H", HOST, "-p", str(self.port)],
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=self.detach,
                # Dies with this process, however it dies, unless it is to outlive it (detach).
                preexec_fn=None if self.detach else lifetime.die_with_parent(signal.SIGKILL),  # noqa: PLW1509 - only prctl runs in the child
            )
        except OSError as exc:
            self.stop()
            raise DeliveryError(f"emulator failed to start: {exc.strerror or exc}") from exc
        if wait:
            self.wait_until_ready()
        return self

    def wait_until_ready(self) -> None:
        """Wait until the started server answers; on failure stop it and raise one line."""
        deadline = time.monotonic() + self.start_timeout_s
        process = self._process
        if process is None:
            raise DeliveryError("emulator was not started")
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = self._log_tail()
                self.stop()
                raise DeliveryError(
                    f"emulator failed to start (exit {process.returncode}): {tail} "
                    "- check that moto[server] is installed (uv sync)"
                )
            if self.is_up():
                return
            time.sleep(0.05)
        self.stop()
        raise DeliveryError(
            f"emulator did not answer on {self.endpoint} within {self.start_timeout_s:.0f} s"
        )

    def is_up(self) -> bool:
        """Whether the server answers its own API."""
        status, _ = loopback.get(f"{self.endpoint}/moto-api/data.json", timeout_s=1)
        return status == 200

    def reset(self) -> None:
        """Wipe every resource the emulator holds."""
        url = f"{self.endpoint}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - loopback http URL
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback  # nosec B310
            pass

    def _log_tail(self) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return "no output"
        return last_line(path.read_text(errors="replace"))

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and remove its log file."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._log.name)
            self._log = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Temporarily set environment variables in this process (restored afterwards)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
