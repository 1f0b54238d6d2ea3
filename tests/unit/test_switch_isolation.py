"""The gate passes inside a build that sets the operator's switches for its own steps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.switches import OPERATOR_SWITCHES

ROOT = Path(__file__).resolve().parents[2]


def test_tests_that_read_a_switch_ignore_the_builds_own_setting() -> None:
    # The rehearsal's Build sets SCAN_SKIP_REASON and CONTAINER_ENGINE for the whole buildspec, and
    # the gate's pytest inherited them: the scan tests then saw every scan skipped.
    env = {**os.environ, **dict.fromkeys(OPERATOR_SWITCHES, "set-by-the-build")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--no-cov",
            "tests/unit/delivery/test_scan.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
