"""The operator's switches: environment variables that change what delivery does.

A build sets them for its own steps (the buildspec sets CONTAINER_ENGINE, a rehearsal
SCAN_SKIP_REASON), and the gate's tests run inside that build: tests/conftest.py removes them for
the whole session, and each test sets the ones it is about.
"""

from __future__ import annotations

from delivery import scan

OPERATOR_SWITCHES = (scan.SKIP_VARIABLE, "CONTAINER_ENGINE", "QUALITY_GATE_PASSED")
