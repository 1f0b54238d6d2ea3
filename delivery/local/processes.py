"""Processes this project started and may have recorded: found by pid, and stopped (psutil).

A recorded pid may have been reused by the time a later command reads it, so a process is only
ours to signal when its command line still names what was started. Imports only the standard
library and psutil (delivery/local/gunicorn.py uses it where boto3 is not installed).
"""

from __future__ import annotations

import contextlib
import os
import signal

import psutil

STOP_TIMEOUT_S = 5.0
# After SIGKILL: long enough to reap our own child (a zombie would look alive), never a hang.
REAP_TIMEOUT_S = 1.0


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not); an exited child of ours is reaped on the way."""
    try:
        process = psutil.Process(pid)
        if process.status() != psutil.STATUS_ZOMBIE:
            return True
    except psutil.NoSuchProcess:
        return False
    _reap(process, 0)  # no wait: a zombie of another parent stays until that parent reaps it
    return False


def find(pid: int, named: str) -> psutil.Process | None:
    """The running process ``pid`` if its command line contains ``named``, else None.

    A command line this user may not read counts as a match, as before psutil: the pid is all
    that is known then, and the caller recorded it.
    """
    if not alive(pid):
        return None
    try:
        process = psutil.Process(pid)
        if named in " ".join(process.cmdline()):
            return process
    except psutil.AccessDenied:
        return process
    except psutil.NoSuchProcess:
        pass
    return None


def stop(
    process: psutil.Process,
    sig: int = signal.SIGTERM,
    timeout_s: float = STOP_TIMEOUT_S,
    *,
    group: bool = False,
) -> None:
    """Send ``sig``; SIGKILL after ``timeout_s`` (its whole process group when ``group``).

    ``group`` is for a process started as the leader of its own session (gunicorn: the master and
    its workers), so that no worker is left behind when the master will not stop.
    """
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(sig)
        try:
            process.wait(timeout_s)  # reaps it when it is our child
            return
        except psutil.TimeoutExpired:
            pass
        if group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        _reap(process, REAP_TIMEOUT_S)


def _reap(process: psutil.Process, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for ``process`` to go, reaping it when it is our child."""
    with contextlib.suppress(psutil.TimeoutExpired, psutil.NoSuchProcess):
        process.wait(timeout_s)
