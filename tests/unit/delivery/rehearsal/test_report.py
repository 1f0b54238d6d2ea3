"""What a rehearsal prints: its table, the AWS estimate, one digest, and why it failed."""

from __future__ import annotations

from pathlib import Path

from delivery.rehearsal import estimate, report
from delivery.rehearsal.actions import FAILED, STOPPED, SUCCEEDED, Outcome
from delivery.rehearsal.runner import Result
from delivery.rehearsal.source import Revision

REVISION = Revision("0123456789abcdef" * 2 + "01234567", "main", "v1.2.0")


def test_the_table_lists_every_action_and_says_when_environments_run_one_digest() -> None:
    result = Result(
        REVISION,
        outcomes=[
            Outcome("Source", "Source", SUCCEEDED, 0.0, "0123456789ab (tag v1.2.0)"),
            Outcome("Build", "Build", SUCCEEDED, 33.2),
        ],
        running={"dev": "sha256:aa", "prod": "sha256:aa"},
        estimates=[estimate.StageEstimate("Build", 33.2, 500.0, "build host 60 s", True)],
        totals=estimate.Totals(540.0, 3000.0),
    )
    lines = report.lines(result)
    assert any(line.split() == ["Build", "Build", "Succeeded", "33.2", "s"] for line in lines)
    assert any(line.split()[:5] == ["Build", "33.2", "s", "8.3", "min"] for line in lines)
    assert (
        "on AWS: a push runs 9.0 min (target 10.0 min); a release reaches production in "
        "50.0 min plus the approval (target 120.0 min)" in lines
    )
    assert lines[-1] == "one digest in dev, prod"
    assert report.trigger_line(REVISION) == "the release tag v1.2.0 on branch main"


def test_the_failure_line_names_the_stage_action_reason_and_log() -> None:
    failed = Result(
        REVISION,
        outcomes=[Outcome("Build", "Build", FAILED, 3.0, "role BuildRole lacks x", Path("/l"))],
    )
    assert report.failure_line(failed) == (
        "pipeline failed at Build/Build: role BuildRole lacks x (log: /l)"
    )
    stopped = Result(REVISION, outcomes=[Outcome("Approve", "A", STOPPED, 0.0, "waiting")])
    stopped.stopped_at = "Approve/A"
    assert report.failure_line(stopped) == "pipeline stopped at Approve/A: waiting"
