"""A kept local deploy, as the emulator tests make one: ``invoke deploy --env local --keep``
with the service as a process, through the fake build, and the record it leaves."""

from __future__ import annotations

import subprocess
from pathlib import Path

from delivery import environments
from delivery.local.record import Record, read_record
from tests.support.cli import run_invoke

# No image scan (nothing to scan without an engine), the service as a process, left running.
DEPLOY_KEPT = ("deploy", "--env", "local", "--skip-scan", "--serve", "process", "--keep")


def deploy_kept(
    project: Path, timeout: float, version: str = "1.0.0"
) -> subprocess.CompletedProcess[str]:
    """Deploy ``project`` to ``local`` and keep it running, ``version`` built fakely, with no
    AWS setting of the shell."""
    return run_invoke(project, *DEPLOY_KEPT, ambient_aws=False, timeout=timeout, fake_build=version)


def kept_record(project: Path) -> Record:
    """The record of ``project``'s kept local deploy (the test fails without one)."""
    record = read_record(environments.load("local", project))
    assert record is not None
    return record
