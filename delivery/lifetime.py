"""A command's children live no longer than the command, and SIGTERM stops it as Ctrl-C does.

A CI runner cancels a job by signalling the command: SIGTERM first, SIGKILL when that is not
enough, and often to the command's process alone. Two helpers make either end clean:

- ``die_with_parent(sig)``: a ``preexec_fn`` that asks Linux to send ``sig`` to the child when
  its parent dies (``prctl(PR_SET_PDEATHSIG)``), so that even a SIGKILLed command leaves no moto
  server or gunicorn behind. The kernel keeps the setting across ``exec`` (it is cleared only by
  the exec of a setuid or setgid program) and delivers the signal when the parent *thread* exits:
  children must be started from the main thread, and the helper declines elsewhere.
- ``sigterm_as_interrupt()``: inside it, SIGTERM raises ``Terminated``, a ``KeyboardInterrupt``,
  so that it takes exactly the path Ctrl-C takes: every ``finally`` and context manager runs (the
  local session stops what it started) and the command line prints its one line.

Standard library only: the gunicorn launcher (delivery/local/gunicorn.py) uses it where neither
boto3 nor Sceptre is installed.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

# <linux/prctl.h>
PR_SET_PDEATHSIG = 1
# A stop that takes longer than this after SIGTERM prints where its threads are (the local
# session's clean-up takes a few seconds; the emulator tests allow a clean stop 30 s).
STUCK_AFTER_S = 30.0
STDERR_FD = 2


def _load_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once here: a child between fork and exec only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so that it takes the same stop."""


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets ``sig`` when this process dies.

    None (no such function: pass it as is) off Linux, and off the main thread: the signal would
    come when that thread exits (a pool's worker, say), killing a server its command still uses.
    """
    if _PRCTL is None or threading.current_thread() is not threading.main_thread():
        return None
    prctl = _PRCTL
    parent = os.getpid()

    def arrange() -> None:
        # Runs in the child, after fork and before exec.
        if prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        # The parent may have died before prctl ran: then no signal would ever come.
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return arrange


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside: SIGTERM raises ``Terminated`` (a KeyboardInterrupt) in the main thread.

    Only the first SIGTERM does: a runner that repeats it must not cut the clean-up short (its
    SIGKILL still ends everything, see ``die_with_parent``). A clean-up still running
    STUCK_AFTER_S after the SIGTERM prints every thread's stack to stderr (faulthandler, from
    a thread of its own: it works while Python's threads are blocked), so that a stop that hangs
    says where. The previous handler is back on the way out. Off the main thread, where Python
    runs no signal handler, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    armed: list[bool] = []  # whether a SIGTERM armed the watchdog (only then is it cancelled)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        faulthandler.dump_traceback_later(STUCK_AFTER_S, file=STDERR_FD)
        armed.append(True)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        if armed:
            faulthandler.cancel_dump_traceback_later()
        # None: a handler set outside Python, which cannot be put back; the default is closest.
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
