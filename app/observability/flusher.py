"""One background thread per process that writes out what the request path only buffers.

The access log and the request metrics are recorded in process memory on every request and
written out (stdout, prometheus-client's mmap files) in batches by this thread, so the request
path pays neither a system call nor a file write. Measured under load, per-request writes were
the largest cost the service added to a request (see bench/service.py).

The price, documented where it is paid: what was recorded at most ``interval`` seconds ago is
not written yet. A normal exit flushes (atexit); a worker killed with SIGKILL loses that much.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

logger = logging.getLogger(__name__)

_LIVE: weakref.WeakSet[Flusher] = weakref.WeakSet()


class Flusher:
    """Calls each flush function every ``interval`` seconds on a daemon thread.

    The thread starts on the first :meth:`ensure_started`, not in ``__init__``: the app may be
    built before gunicorn forks its workers (``--preload``), and threads do not survive a fork.

    Args:
        interval: seconds between flushes; the most a record waits before it is written.
        flushes: the functions that write out what their component buffered.
    """

    def __init__(self, interval: float, *flushes: Callable[[], None]) -> None:
        if interval <= 0:
            raise ValueError(f"flush interval must be positive, got {interval!r}")
        self.interval = interval
        self._flushes = flushes
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        _LIVE.add(self)  # flushed at exit, reset after a fork

    def ensure_started(self) -> None:
        """Start the thread if this process has none yet; one attribute check once it runs."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    # The thread holds only a weak reference: a flusher nobody uses any more
                    # (an app built by a test) lets its thread end instead of keeping it alive.
                    thread = threading.Thread(
                        target=_run, args=(weakref.ref(self), self.interval), daemon=True
                    )
                    thread.name = "flusher"
                    thread.start()
                    self._thread = thread

    def flush(self) -> None:
        """Write out everything buffered now, in order; a failing function does not stop the rest.

        Each component serialises its own flushes, so this may run on any thread at any time.
        """
        for flush in self._flushes:
            try:
                flush()
            except Exception:  # the thread must outlive one bad batch
                logger.exception("flush failed: %s", getattr(flush, "__qualname__", flush))

    def _forget_thread(self) -> None:
        # In a forked child the parent's thread does not exist: the next request starts one.
        self._thread = None
        self._start_lock = threading.Lock()


def _run(flusher_ref: weakref.ref[Flusher], interval: float) -> None:
    while True:
        time.sleep(interval)
        flusher = flusher_ref()
        if flusher is None:
            return
        flusher.flush()
        del flusher  # no strong reference while sleeping


def _after_fork_in_child() -> None:
    for flusher in list(_LIVE):
        flusher._forget_thread()


def _flush_all_at_exit() -> None:
    for flusher in list(_LIVE):
        flusher.flush()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_flush_all_at_exit)
