"""Loaded at interpreter start-up by bench.gc_pauses (``PYTHONPATH``): every garbage collection
of this process, timed, written to ``$BENCH_GC_PAUSES`` at exit as ``pid generation start end
cpu``: when it started and ended (CLOCK_MONOTONIC seconds, shared by every process of the
machine, so the benchmark keeps the collections inside its measured window) and the CPU seconds
it took (its thread's: on a busy machine the wall time also counts the time the process waited
for a CPU). With ``BENCH_GC_NO_FREEZE=1``, ``gc.freeze`` does
nothing: the service as it ran before app.lifecycle.heap, for the side-by-side comparison.

Collections are kept in memory and written once, at exit: a write per collection would add to
what is measured.
"""

from __future__ import annotations

import atexit
import gc
import os
import time
from typing import Any

_PATH = os.environ.get("BENCH_GC_PAUSES")

if _PATH:
    _destination: str = _PATH
    _collections: list[tuple[int, float, float, float]] = []
    _started = [0.0, 0.0]

    def _time(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _started[:] = time.monotonic(), time.thread_time()
        else:
            cpu = time.thread_time() - _started[1]
            _collections.append((info["generation"], _started[0], time.monotonic(), cpu))

    def _write() -> None:
        lines = [f"{os.getpid()} {g} {s:.6f} {e:.6f} {cpu:.6f}\n" for g, s, e, cpu in _collections]
        with open(_destination, "a", encoding="utf-8") as out:
            out.write("".join(lines))

    gc.callbacks.append(_time)
    atexit.register(_write)
    # A forked worker writes its own collections, not a copy of its master's.
    os.register_at_fork(after_in_child=_collections.clear)

if os.environ.get("BENCH_GC_NO_FREEZE") == "1":
    gc.freeze = lambda: None
