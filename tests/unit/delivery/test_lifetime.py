"""SIGTERM as Ctrl-C, and the parent-death signal's limits (main thread, Linux only)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from delivery.lifetime import Terminated, die_with_parent, sigterm_as_interrupt
from tests.support.fresh_python import run_python


def sigterm_to_self() -> None:
    """What a runner does to this process, then the work it interrupts."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.5)  # the handler runs (and raises) as soon as the signal arrives


def stopped_with_a_second_sigterm() -> None:
    """A SIGTERM, and another during the clean-up it started."""
    with sigterm_as_interrupt():
        try:
            sigterm_to_self()
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # the runner, repeating itself: ignored
            time.sleep(0.1)


def test_sigterm_raises_terminated_and_the_handler_comes_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_as_interrupt(), pytest.raises(Terminated):
        sigterm_to_self()
    assert issubclass(Terminated, KeyboardInterrupt)  # so every Ctrl-C path takes it
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_second_sigterm_during_the_clean_up_is_ignored() -> None:
    with pytest.raises(Terminated):
        stopped_with_a_second_sigterm()


def test_off_the_main_thread_nothing_changes() -> None:
    found: list[object] = []

    def run() -> None:
        found.append(die_with_parent())
        with sigterm_as_interrupt():
            found.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=5)
    assert found == [None, signal.getsignal(signal.SIGTERM)]


def test_on_the_main_thread_of_linux_children_are_tied_to_it() -> None:
    assert callable(die_with_parent(signal.SIGTERM))


# A process that takes SIGTERM, then runs a clean-up of ``clean_up_s``; its stderr (on stdout).
STOP_SCRIPT = """
import os, signal, sys, time
os.dup2(1, 2)
from delivery import lifetime
lifetime.STUCK_AFTER_S = 0.3
def stuck_clean_up(seconds):
    time.sleep(seconds)
try:
    with lifetime.sigterm_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            stuck_clean_up(float(sys.argv[1]))
except lifetime.Terminated:
    print("terminated", flush=True)
time.sleep(0.6)  # past the bound again: after the context, nothing more is printed
"""


def test_a_clean_up_still_running_after_the_bound_prints_where_every_thread_is() -> None:
    out = run_python(STOP_SCRIPT, "1.0")
    assert "stuck_clean_up" in out
    assert "Thread" in out  # faulthandler's all-threads dump
    assert out.rstrip().endswith("terminated")


def test_a_clean_up_within_the_bound_prints_nothing_more() -> None:
    assert run_python(STOP_SCRIPT, "0").split() == ["terminated"]
