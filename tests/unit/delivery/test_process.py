"""The real runner: what a command did, a failure's last line, and Ctrl-C stopping a command.

Ctrl-C is tested on real processes: a Python process runs a command through ``SubprocessRunner``
(in its main thread, or in a worker thread as ``invoke deploy`` builds the image), the test sends
that process SIGINT and checks that it ends, and the command with every process it started, within
a few seconds. The command is a shell (as debootstrap is) whose child ignores SIGINT (a background
job of a non-interactive shell does, as dpkg does while a maintainer script runs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from delivery.errors import DeliveryError
from delivery.process import SubprocessRunner, last_line

ROOT = Path(__file__).resolve().parents[3]
# How soon after Ctrl-C the whole command must be gone ("within a few seconds").
STOP_S = 5.0

SCRIPT = r"""
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from delivery import deploy, images, process

mode, pidfile = sys.argv[1], Path(sys.argv[2])
process.INTERRUPT_GRACE_S = 1.0  # how long what ignores SIGINT has before SIGKILL (5 s by default)
command = ["sh", "-c", 'sleep 120 & echo $! > "$1"; echo $$ >> "$1"; wait', "sh", str(pidfile)]


def build(plan):
    return process.SubprocessRunner()(command, timeout=300)


if mode == "main":
    build(None)
else:
    # deploy's build beside the registry's launch: the build in a worker thread, the main thread
    # in the launch when Ctrl-C comes.
    images.ensure_registry = lambda plan: time.sleep(120)
    deploy._build_beside_registry(None, SimpleNamespace(build_image=build))
"""


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def left_after(pids: list[int], deadline: float) -> list[int]:
    """Which of ``pids`` still run at ``deadline`` (``time.monotonic``), or as soon as none does."""
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("thread", ["main", "worker"])
def test_ctrl_c_stops_a_running_command_and_everything_it_started(
    tmp_path: Path, thread: str
) -> None:
    pidfile = tmp_path / "pids"
    driver = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, thread, str(pidfile)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the SIGINT goes to this process only, never to pytest
    )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60  # imports take a while on a busy machine
        while len(pids) < 2 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            if pidfile.exists():
                pids = [int(line) for line in pidfile.read_text().split()]
        assert len(pids) == 2, "the command never started"

        os.kill(driver.pid, signal.SIGINT)
        interrupted = time.monotonic()
        try:
            driver.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {STOP_S:.0f} s after Ctrl-C")
        left = left_after(pids, interrupted + STOP_S)
        assert not left, f"the command's processes {left} outlived the Ctrl-C"
    finally:
        for pid in [driver.pid, *pids]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        driver.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_command_past_its_timeout_is_one_line_and_gone_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    started = time.monotonic()
    with pytest.raises(DeliveryError) as info:
        SubprocessRunner()(
            ["sh", "-c", 'sleep 120 & echo $! > "$1"; wait', "sh", str(pidfile)], timeout=0.5
        )
    assert str(info.value) == "sh -c did not finish within 0 s"
    # The child holds the output pipes: waiting for their end would wait out its 120 s.
    assert time.monotonic() - started < STOP_S
    assert not left_after([int(pidfile.read_text())], started + STOP_S)


def test_a_command_runs_to_completion_with_its_output_and_exit_code() -> None:
    done = SubprocessRunner()(["sh", "-c", "read x; echo out $x; echo err >&2; exit 3"], stdin="in")
    assert (done.returncode, done.stdout, done.stderr, done.ok) == (3, "out in\n", "err\n", False)


def test_a_missing_program_is_exit_127() -> None:
    done = SubprocessRunner()(["no-such-program-here"])
    assert (done.returncode, done.stderr) == (127, "no-such-program-here: command not found")


def test_last_line_is_the_last_non_empty_one_cut_to_a_width() -> None:
    assert last_line("first\n  Error: it broke  \n\n") == "Error: it broke"
    assert last_line(" \n") == "no output"
    assert last_line("", default="exit 2") == "exit 2"
    assert last_line("x" * 20, width=10) == "xxxxxxx..."
