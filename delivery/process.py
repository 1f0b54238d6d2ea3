"""Running one command: argv in, exit code and output out; Ctrl-C stops it whole.

The engines, the image build, git and debootstrap all run their commands through a ``Runner``, so
a test injects a fake one and checks the exact command lines without mocking internals.
``last_line`` is the one way a failed command's output becomes the end of a one-line error.

A command runs in a process group of its own, so that it and everything it starts (debootstrap's
chroot, dpkg and maintainer scripts) can be stopped as one: on Ctrl-C the group gets the SIGINT a
terminal sends, and SIGKILL after ``INTERRUPT_GRACE_S``. Ctrl-C raises KeyboardInterrupt in the
main thread only; ``stop_commands_on_interrupt`` stops the commands worker threads run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from delivery.errors import DeliveryError

# After Ctrl-C, how long a command has to end on the SIGINT before its whole group is killed:
# debootstrap's trap unmounts what it mounted in the new root (which a SIGKILL would leave behind,
# under a directory about to be deleted) once the step it is in ends.
INTERRUPT_GRACE_S = 5.0
_POLL_S = 0.05

# The commands SubprocessRunner is running, in every thread, for stop_commands_on_interrupt.
_running: set[subprocess.Popen[Any]] = set()
_running_lock = threading.Lock()


@dataclass(frozen=True)
class Completed:
    """What a command did: its argv, exit code and captured output."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.returncode == 0


class Runner(Protocol):
    """Runs one command to completion. Never raises for a non-zero exit: callers decide."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> Completed:
        """Run ``argv`` with ``env`` added to this process's environment."""
        ...


class SubprocessRunner:
    """The real runner: the command in a process group of its own, its output captured as text."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
        inherit: bool = True,
    ) -> Completed:
        """Run ``argv``; a missing program is exit code 127, like a shell reports it.

        ``env`` is added to this process's environment, or with ``inherit=False`` is exactly the
        command's environment.

        Ctrl-C (KeyboardInterrupt) while it runs stops the command and all it started, then
        goes on up.
        """
        try:
            process = subprocess.Popen(  # noqa: S603 - argv lists built by the callers, no shell
                list(argv),
                env={**(os.environ if inherit else {}), **(env or {})},
                # Never the terminal: outside the terminal's foreground group, a read from it
                # would stop the command (SIGTTIN) for good.
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                process_group=0,  # see the module docstring
            )
        except FileNotFoundError:
            return Completed(tuple(argv), 127, "", f"{argv[0]}: command not found")
        with process, _tracked(process):
            try:
                stdout, stderr = process.communicate(stdin, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                _signal_group(process, signal.SIGKILL)
                process.wait()
                raise DeliveryError(
                    f"{' '.join(argv[:2])} did not finish within {timeout:.0f} s"
                ) from exc
            except KeyboardInterrupt:
                _stop([process])
                process.wait()
                raise
        return Completed(tuple(argv), process.returncode, stdout, stderr)


def stream(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> int:
    """Run ``argv`` in ``cwd`` with exactly ``env``, its output going straight to this process's.

    Its exit code (127 when the program is missing, like a shell). For a command that prints its
    own progress (another checkout's ``invoke``). Ctrl-C (KeyboardInterrupt, or SIGTERM made one
    by ``lifetime.sigterm_as_interrupt``) stops it and all it started as ``SubprocessRunner``
    does (SIGINT, then SIGKILL after the grace), then goes on up.
    """
    try:
        process = subprocess.Popen(  # noqa: S603 - argv lists built by the callers, no shell
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,  # see SubprocessRunner: never the terminal
            process_group=0,  # see the module docstring
        )
    except FileNotFoundError:
        return 127
    with process, _tracked(process):
        try:
            return process.wait()
        except KeyboardInterrupt:
            _stop([process])
            process.wait()
            raise


@contextlib.contextmanager
def stop_commands_on_interrupt() -> Iterator[None]:
    """On Ctrl-C in the block, stop every command ``SubprocessRunner`` is running, then go on up.

    For a block whose worker threads run commands: KeyboardInterrupt reaches the main thread
    only, and leaving a ThreadPoolExecutor's block waits for its workers, hence for their
    commands to end by themselves. Enter it inside the executor's block, so it stops them first.
    """
    try:
        yield
    except KeyboardInterrupt:
        with _running_lock:
            running = list(_running)
        _stop(running)
        raise


@contextlib.contextmanager
def _tracked(process: subprocess.Popen[Any]) -> Iterator[None]:
    with _running_lock:
        _running.add(process)
    try:
        yield
    finally:
        with _running_lock:
            _running.discard(process)


def _stop(processes: Sequence[subprocess.Popen[Any]]) -> None:
    """Stop each process's whole group: SIGINT, as a terminal sends on Ctrl-C, then SIGKILL.

    The SIGKILL goes to every group after the grace, or at once on a second Ctrl-C: it also
    ends what ignored the SIGINT and outlived its group's first process.
    """
    try:
        for process in processes:
            _signal_group(process, signal.SIGINT)
        deadline = time.monotonic() + INTERRUPT_GRACE_S
        while time.monotonic() < deadline and any(p.poll() is None for p in processes):
            time.sleep(_POLL_S)
    finally:
        for process in processes:
            _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[Any], signum: signal.Signals) -> None:
    """Send ``signum`` to ``process``'s group (its id is the process's); gone already is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def last_line(text: str, *, default: str = "no output", width: int | None = None) -> str:
    """The last non-empty line of ``text``, stripped: usually the one that says what failed.

    ``default`` when there is none. With ``width``, a longer line is cut to that many characters
    (ending in ``...``): a JSON log line can run to kilobytes, and the line ends a one-line error.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else default
    return line if width is None or len(line) <= width else line[: width - 3] + "..."
