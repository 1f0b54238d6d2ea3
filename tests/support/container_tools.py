"""What the container tests need on this machine: podman, runc, debootstrap, and root.

Where they are missing the tests skip with the reason, except in CI (``CI=true``), where a skip
would hide a broken gate: there they fail.
"""

from __future__ import annotations

import os
import shutil

import pytest

NEEDED = ("podman", "runc", "debootstrap")


def require_container_tools() -> None:
    """Skip (fail in CI) unless podman, runc and debootstrap are installed and we are root."""
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    reason = ""
    if missing:
        reason = f"container tests need {', '.join(missing)} (bin/bootstrap installs them)"
    elif os.geteuid() != 0:
        reason = "container tests need root (debootstrap and rootful podman with runc)"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must not skip them")
        pytest.skip(reason)
