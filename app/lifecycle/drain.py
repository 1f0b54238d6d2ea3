"""Draining: on SIGTERM, fail readiness at once, keep serving for a while, then stop gracefully.

Why: ECS deregisters a stopping task from the load balancer while the task still receives
requests for a moment, and gunicorn's own SIGTERM handling closes the listening sockets at once,
resetting connections that are already queued. Turning readiness to 503 first and serving on for
``DRAIN_SECONDS`` lets the load balancer move traffic away without a single failed request; only
then does gunicorn run its normal graceful stop (``GRACEFUL_TIMEOUT_SECONDS``).

The master and the workers share nothing but the filesystem, so the master signals "draining" by
creating a flag file that every worker's readiness check looks at (one ``stat`` per probe).
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Protocol


class DrainState:
    """Whether this service is draining, as seen by any process sharing ``flag``.

    Args:
        flag: the flag file; None keeps the state in this process only (tests, dev server).
    """

    def __init__(self, flag: Path | None) -> None:
        self._flag = flag
        self._local = False

    @property
    def draining(self) -> bool:
        """True once :meth:`begin` was called here or, via the flag file, in any other process."""
        return self._local or (self._flag is not None and self._flag.exists())

    def begin(self) -> None:
        """Start draining: every process sharing the flag sees it from now on."""
        self._local = True
        if self._flag is not None:
            self._flag.touch()

    def reset(self) -> None:
        """Forget a previous drain (a fresh start of the master)."""
        self._local = False
        if self._flag is not None:
            self._flag.unlink(missing_ok=True)


class Arbiter(Protocol):
    """The part of gunicorn's arbiter the drain uses."""

    log: logging.Logger

    def signal(self, sig: int, frame: FrameType | None) -> None:
        """Queue ``sig`` for the arbiter's main loop (its own signal handler)."""


class SigtermDrain:
    """Replaces the arbiter's SIGTERM handler with: drain for ``seconds``, then the usual stop.

    Args:
        arbiter: gunicorn's arbiter (``server`` in its hooks).
        state: the shared drain state.
        seconds: how long to keep serving after SIGTERM.
    """

    def __init__(self, arbiter: Arbiter, state: DrainState, seconds: float) -> None:
        self._arbiter = arbiter
        self._state = state
        self._seconds = seconds
        self._cut_short = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self) -> None:
        """Take over SIGTERM; must run in the master's main thread (gunicorn's ``when_ready``)."""
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self._thread is not None:
            # A second SIGTERM while draining: the operator insists, stop now.
            self._cut_short.set()
            return
        # Flip readiness first, in the handler itself, so no probe after the signal sees 200.
        self._state.begin()
        # Waiting and logging happen off the signal handler: the main loop must keep running
        # (it reaps and replaces workers), and logging from a handler can re-enter a handler.
        self._thread = threading.Thread(target=self._drain, name="drain", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        log = self._arbiter.log
        log.info("SIGTERM: readiness is 503, draining for %.1f s", self._seconds)
        self._cut_short.wait(self._seconds)
        log.info("drain finished, stopping gracefully")
        # Hand the signal to gunicorn's own queue: its main loop runs the normal graceful stop.
        self._arbiter.signal(signal.SIGTERM, None)
