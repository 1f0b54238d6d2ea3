"""The lifeline's watcher undoes what a SIGKILLed process guarded, and nothing it released.

A small parent process (Python, a few lines) guards: a detached ``sleep`` by pid (no parent-death
signal reaches it: as a kept gunicorn), a command (as ``podman rm`` for a container), a folder,
and a second command it then releases. The test SIGKILLs the parent and checks, within a bounded
time, that the watcher did exactly the unreleased work and exited.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from delivery.local.lifeline import Lifeline
from delivery.local.processes import alive

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 20.0

PARENT = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    from pathlib import Path
    from delivery.local.lifeline import Lifeline

    work = Path(sys.argv[1])
    sleeper = subprocess.Popen(["sleep", "120"], start_new_session=True)
    lifeline = Lifeline()
    lifeline.guard("sleeper", pid=sleeper.pid, sig=signal.SIGTERM)
    touch = [sys.executable, "-c", "import pathlib, sys; pathlib.Path(sys.argv[1]).touch()"]
    lifeline.guard("command", argv=[*touch, str(work / "undone")], paths=[work / "volumes"])
    lifeline.guard("released", argv=[*touch, str(work / "released")])
    lifeline.release("released")
    print(sleeper.pid, lifeline._watcher.pid, flush=True)
    time.sleep(120)
    """
)


def wait_for(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> bool:
    """Whether ``condition()`` came true within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_killed_process_has_its_guards_undone_and_its_releases_kept(tmp_path: Path) -> None:
    (tmp_path / "volumes" / "tmp").mkdir(parents=True)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    started: list[psutil.Process] = []
    try:
        assert parent.stdout is not None
        sleeper, watcher = (int(pid) for pid in parent.stdout.readline().split())
        started += [psutil.Process(sleeper), psutil.Process(watcher)]
        watching = started[1]
        assert alive(sleeper)

        parent.kill()
        parent.wait(timeout=TIMEOUT_S)

        assert wait_for(lambda: not alive(sleeper)), "the guarded process outlived its guard"
        assert wait_for((tmp_path / "undone").exists)
        assert wait_for(lambda: not (tmp_path / "volumes").exists())
        assert wait_for(lambda: not (watching.is_running() and alive(watcher)))
        assert not (tmp_path / "released").exists()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=TIMEOUT_S)
        for leftover in started:  # what a failing test left: not past this test
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()


@pytest.mark.parametrize("released", [True, False])
def test_a_clean_close_undoes_only_what_was_not_released(tmp_path: Path, released: bool) -> None:
    marker = tmp_path / "undone"
    lifeline = Lifeline()
    touch = [sys.executable, "-c", "import pathlib, sys; pathlib.Path(sys.argv[1]).touch()"]
    lifeline.guard("command", argv=[*touch, str(marker)])
    if released:
        lifeline.release("command")
    lifeline.close()  # waits for the watcher
    assert marker.exists() is not released
