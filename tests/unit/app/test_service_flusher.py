"""The background flusher: lazy start, periodic flushes, isolation of failures, forks, exit."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.observability.flusher import Flusher
from tests.support.fresh_python import run_python

# Bounds each wait on the flusher's thread: generous for two busy cores, still a hang fails.
WAIT_S = 30.0


def _wait_for(condition: Callable[[], bool], seconds: float = WAIT_S) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_nothing_runs_until_the_first_use() -> None:
    calls: list[int] = []
    flusher = Flusher(0.01, lambda: calls.append(1))
    time.sleep(0.05)
    assert calls == []
    assert flusher._thread is None
    flusher.ensure_started()
    thread = flusher._thread
    flusher.ensure_started()  # idempotent: the same thread
    assert flusher._thread is thread
    _wait_for(lambda: len(calls) >= 3)


def test_a_failing_flush_is_logged_and_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def broken() -> None:
        raise OSError("sink gone")

    flusher = Flusher(0.01, broken, lambda: calls.append("after"))
    flusher.ensure_started()
    _wait_for(lambda: len(calls) >= 2)  # the thread survived the first failure
    assert any("flush failed" in record.getMessage() for record in caplog.records)


def test_the_thread_ends_when_nothing_uses_the_flusher_any_more() -> None:
    flusher = Flusher(0.01, lambda: None)
    flusher.ensure_started()
    thread = flusher._thread
    assert thread is not None
    assert thread.is_alive()
    del flusher
    gc.collect()
    thread.join(timeout=WAIT_S)
    assert not thread.is_alive()


def test_a_forked_child_starts_its_own_thread() -> None:
    flusher = Flusher(0.01, lambda: None)
    flusher.ensure_started()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread is gone, the flusher must know it
        try:
            flusher.ensure_started()
            alive = flusher._thread is not None and flusher._thread.is_alive()
            os.write(write_fd, b"1" if alive else b"0")
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        assert os.read(read_fd, 1) == b"1"
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Flusher(0, lambda: None)


def test_a_normal_exit_flushes_what_is_buffered(tmp_path: Path) -> None:
    out = tmp_path / "flushed"
    script = (
        "from pathlib import Path\n"
        "from app.observability.flusher import Flusher\n"
        f"f = Flusher(60, lambda: Path({str(out)!r}).write_text('done'))\n"
        "f.ensure_started()\n"  # the thread sleeps 60 s: only the exit can flush
    )
    run_python(script)
    assert out.read_text() == "done"
