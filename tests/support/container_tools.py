"""What the container tests need on this machine, and what happens when it is missing.

The container tests (tests/e2e/, the ``container``, ``integration`` and ``rehearsal`` nox
sessions, all of them in ``bin/test``) need podman, runc and debootstrap (bin/bootstrap installs
them) and root (debootstrap, rootful podman with runc). Where something is missing they FAIL,
naming it: a quality gate that skipped them would pass without ever building the image.

Skipping is for a deliberate run without the tools only: ``CONTAINER_TESTS=skip`` skips them,
and the run says so in its summary. Under CI (``CI=true``) nothing skips them.
"""

from __future__ import annotations

import os
import shutil

import pytest

NEEDED = ("podman", "runc", "debootstrap")
# CONTAINER_TESTS=skip: the operator runs the suite without the container tools on purpose.
OPT_OUT = "CONTAINER_TESTS"
SKIP = "skip"


def missing_prerequisites() -> str:
    """What this machine lacks for the container tests, in one sentence ("" when nothing)."""
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        tools = ", ".join(missing)
        return f"container tests need {tools}, not installed (bin/bootstrap installs them)"
    if os.geteuid() != 0:
        return "container tests need root (debootstrap and rootful podman with runc)"
    return ""


def skip_requested() -> bool:
    """Whether this run skips the container tests on purpose (never under CI)."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    return not in_ci and os.environ.get(OPT_OUT, "").strip().lower() == SKIP


def require_container_tools() -> None:
    """Return if the container tests can run here; else fail naming what is missing.

    With ``CONTAINER_TESTS=skip`` (outside CI) the test is skipped instead, saying what it lacks.
    """
    reason = missing_prerequisites()
    if not reason:
        return
    if skip_requested():
        pytest.skip(f"{OPT_OUT}={SKIP}: {reason}; the image is NOT tested")
    hint = (
        "CI must run them"
        if os.environ.get("CI", "").lower() == "true"
        else f"install them, or set {OPT_OUT}={SKIP} to run without the container tests"
    )
    pytest.fail(f"{reason}: {hint}", pytrace=False)
