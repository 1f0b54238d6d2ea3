"""Processes this project started and may have recorded: whether one still runs, and its stop.

A recorded pid may have been reused by the time a later command reads it, so callers check the
command line before they signal anything.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

STOP_TIMEOUT_S = 5.0


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie still does: see ``reaped``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmdline(pid: int) -> str:
    """The process's command line where /proc has it ('' elsewhere: then names are not checked)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def terminate(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not pid_alive(pid) or reaped(pid):
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


def reaped(pid: int) -> bool:
    """Reap ``pid`` if it is our exited child (else a zombie would look alive)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid
