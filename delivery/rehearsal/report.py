"""What a rehearsal prints: the stage table, what each environment runs, and why it failed."""

from __future__ import annotations

from collections.abc import Sequence

from delivery.rehearsal import estimate
from delivery.rehearsal.actions import FAILED, STOPPED
from delivery.rehearsal.runner import Result
from delivery.rehearsal.source import Revision


def trigger_line(revision: Revision) -> str:
    """How this execution was started, in words."""
    if revision.tag:
        return f"the release tag {revision.tag} on branch {revision.branch}"
    return f"a push to branch {revision.branch}"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def estimate_lines(result: Result) -> list[str]:
    """Per stage: the time here and the estimate on AWS; then the two totals and their targets."""
    if not result.estimates or result.totals is None:
        return []
    rows = [("stage", "here", "on AWS (estimate)", "AWS adds")]
    rows += [
        (
            e.stage,
            f"{e.here_s:.1f} s" if e.ran else f"({e.here_s:.1f} s)",
            _minutes(e.aws_s),
            e.adds,
        )
        for e in result.estimates
    ]
    totals = result.totals
    return [
        *_table(rows),
        "",
        f"on AWS: a push runs {_minutes(totals.pipeline_s)} (target "
        f"{_minutes(estimate.PIPELINE_TARGET_S)}); a release reaches production in "
        f"{_minutes(totals.production_s)} plus the approval (target "
        f"{_minutes(estimate.PRODUCTION_TARGET_S)})",
    ]


def lines(result: Result) -> list[str]:
    """The stage table, the AWS estimate, then what each environment runs (one digest?)."""
    rows = [("stage", "action", "result", "here", "detail")]
    rows += [(o.stage, o.action, o.result, f"{o.seconds:.1f} s", o.detail) for o in result.outcomes]
    found = ["", *_table(rows)]
    if estimated := estimate_lines(result):
        found += ["", *estimated]
    if result.running:
        found.append("")
        for env, digest in sorted(result.running.items()):
            found.append(f"{env} runs {digest}")
        digests = set(result.running.values())
        if len(digests) == 1 and len(result.running) > 1:
            found.append(f"one digest in {', '.join(sorted(result.running))}")
    return found


def failure_line(result: Result) -> str:
    """One line: which stage and action failed and why, or where the execution stopped."""
    failed = result.failure
    if failed is not None:
        where = f" (log: {failed.log})" if failed.log else ""
        return f"pipeline failed at {failed.stage}/{failed.action}: {failed.detail}{where}"
    stopped = next((o for o in result.outcomes if o.result == STOPPED), None)
    if stopped is not None:
        return f"pipeline stopped at {stopped.stage}/{stopped.action}: {stopped.detail}"
    return "pipeline did not finish"


__all__ = ["FAILED", "failure_line", "lines", "trigger_line"]
