"""What the kernel cannot tie to this process's life, undone by a watcher when this process dies.

``die_with_parent`` (delivery/lifetime.py) covers the children this process starts and stops
itself. It cannot cover two things a local deploy starts:

- the service's container: its processes are the container engine's, not this process's children;
- a child that is to outlive a successful ``--keep`` command: a parent-death signal, once set,
  can only be taken back by the child itself.

For those, a ``Lifeline``: a watcher process (``python -m delivery.local.lifeline``) reads guards
from a pipe whose write end only this process holds. When this process is gone, however it went
(even SIGKILL), the pipe reads EOF and the watcher undoes every guard not released: it stops a
process group (a pid checked against its start time, so a reused pid is left alone), runs a command
(``podman rm --force``), removes folders. A guard is released once this process has stopped or kept
the thing itself, so a clean end leaves the watcher nothing to do.

Standard library and psutil only, so that the watcher starts fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from delivery.local.processes import STOP_TIMEOUT_S, stop

COMMAND_TIMEOUT_S = 60.0


@dataclass
class Lifeline:
    """Guards on what this process started, undone by a watcher should this process die first."""

    _watcher: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def guard(
        self,
        key: str,
        *,
        pid: int | None = None,
        sig: int = signal.SIGTERM,
        argv: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        paths: Sequence[Path] = (),
    ) -> None:
        """Undo ``key`` if this process dies before ``release(key)``.

        ``pid``: send ``sig`` to its process group (SIGKILL after STOP_TIMEOUT_S); ``argv``: run
        it, with ``env`` added to this process's environment; ``paths``: remove them.
        """
        entry: dict[str, Any] = {"guard": key, "argv": list(argv), "env": dict(env or {})}
        entry["paths"] = [str(path) for path in paths]
        if pid is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                entry |= {"pid": pid, "created": psutil.Process(pid).create_time(), "sig": sig}
        self._send(entry)

    def release(self, key: str) -> None:
        """This process has stopped or kept ``key`` itself: nothing to undo."""
        if self._watcher is not None:
            self._send({"release": key})

    def close(self) -> None:
        """End the watcher: what is still guarded is undone now, and it exits."""
        watcher, self._watcher = self._watcher, None
        if watcher is None:
            return
        if watcher.stdin is not None:
            with contextlib.suppress(OSError):
                watcher.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            watcher.wait(timeout=STOP_TIMEOUT_S + COMMAND_TIMEOUT_S)

    def _send(self, entry: Mapping[str, Any]) -> None:
        if self._watcher is None:
            self._watcher = subprocess.Popen(
                [sys.executable, "-m", "delivery.local.lifeline"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # Its own session: Ctrl-C in a terminal, or a runner signalling the command's
                # process group, must not end the watcher before it has done its work.
                start_new_session=True,
            )
        stdin = self._watcher.stdin
        if stdin is None:
            return
        # A watcher that is gone cannot be helped: the guard is lost, the command goes on.
        with contextlib.suppress(OSError):
            stdin.write(json.dumps(entry).encode() + b"\n")
            stdin.flush()


def undo(entry: Mapping[str, Any]) -> None:
    """Undo one guard (the watcher's part): stop its process group, run its command, remove."""
    if "pid" in entry:
        with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):  # gone already
            process = psutil.Process(int(entry["pid"]))
            # Not a pid reused since: the same start time (to the clock tick it is counted in).
            if abs(process.create_time() - float(entry["created"])) < 0.05:
                stop(process, int(entry["sig"]), group=os.getpgid(process.pid) == process.pid)
    if entry.get("argv"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(  # noqa: S603 - argv this project's own code guarded, no shell
                entry["argv"],
                env={**os.environ, **entry.get("env", {})},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
            )
    for path in entry.get("paths", []):
        shutil.rmtree(path, ignore_errors=True)


def watch(lines: IO[bytes]) -> None:
    """Read guards and releases until EOF (this process's parent is gone, or closed), then undo
    every guard still held, in the reverse order of guarding."""
    guards: dict[str, Mapping[str, Any]] = {}
    for line in lines:
        with contextlib.suppress(ValueError, KeyError, TypeError):  # not a guard: ignored
            entry = json.loads(line)
            if "release" in entry:
                guards.pop(str(entry["release"]), None)
            else:
                guards[str(entry["guard"])] = entry
    for entry in reversed(list(guards.values())):
        # One guard that cannot be undone must not keep the others from being undone.
        with contextlib.suppress(Exception):
            undo(entry)


if __name__ == "__main__":
    # A runner's SIGTERM to every process of the job must not stop the watcher mid-way: EOF on
    # its pipe is its only end, and it comes at once when the command is gone.
    for ignored in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(ignored, signal.SIG_IGN)
    watch(sys.stdin.buffer)
