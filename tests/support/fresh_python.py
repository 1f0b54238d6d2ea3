"""Run a few lines of Python in a fresh interpreter of the test environment.

For what only a new process shows: which modules an import or a start-up loads, what an exit
does. The code runs from the repository root, so ``app``, ``delivery`` and ``tests`` import.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from tests.support.paths import ROOT

TIMEOUT_S = 60


def run_python(code: str, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run ``code`` with ``args`` in a new interpreter, with ``env`` over this process's
    environment; its stdout (fails the test if it fails)."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT_S,
    ).stdout
