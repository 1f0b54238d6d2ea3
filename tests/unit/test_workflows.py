"""The GitHub workflows: pinned actions, least permissions, and a release only a push can start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# uses: owner/repo[/path]@<40 hex> # v<major>[.<minor>[.<patch>]]
PINNED = re.compile(r"^\s*-?\s*uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s+v\d+(\.\d+){0,2}\s*$")
# The current major release of each action the workflows use (checked 2026-11: a newer major
# means a deliberate upgrade of the pin, with its release notes read).
CURRENT_MAJORS = {"actions/checkout": 6, "actions/setup-python": 6, "actions/upload-artifact": 6}


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    """The ``on:`` block (PyYAML reads the bare key ``on`` as the boolean True)."""
    found = workflow.get("on", workflow.get(True))
    assert isinstance(found, dict)
    return found


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_of_its_current_major(path: Path) -> None:
    for line in path.read_text().splitlines():
        if re.match(r"^\s*-?\s*uses:", line):
            assert PINNED.match(line), f"{path.name}: not pinned by commit: {line.strip()}"
            action = line.split("uses:")[1].split("@")[0].strip()
            major = int(re.search(r"#\s+v(\d+)", line).group(1))  # type: ignore[union-attr]
            assert major == CURRENT_MAJORS.get(action, major), f"{path.name}: {action} v{major}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_granted_per_job_and_nothing_by_default(path: Path) -> None:
    workflow = load(path)
    assert workflow.get("permissions") == {}, f"{path.name}: workflow-level permissions"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} must say what it needs"
    assert "pull_request_target" not in triggers(workflow)


def test_only_the_release_job_may_write_and_only_after_a_push_to_this_repositorys_main() -> None:
    """A fork's pull request from a branch named main also completes a ci run."""
    writers = {
        (path.name, name)
        for path in WORKFLOWS
        for name, job in load(path)["jobs"].items()
        if "write" in (job.get("permissions") or {}).values()
    }
    assert writers == {("release.yml", "release")}
    release = load(ROOT / ".github" / "workflows" / "release.yml")
    assert triggers(release) == {
        "workflow_run": {"workflows": ["ci"], "types": ["completed"], "branches": ["main"]}
    }
    condition = " ".join(release["jobs"]["release"]["if"].split())
    for clause in (
        "github.event.workflow_run.conclusion == 'success'",
        "github.event.workflow_run.event == 'push'",
        "github.event.workflow_run.head_branch == 'main'",
        "github.event.workflow_run.head_repository.full_name == github.repository",
    ):
        assert clause in condition
    assert condition.count("&&") == 3  # every clause must hold: no `||` sneaks a case in


def test_checkouts_that_only_read_keep_no_credentials() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    for step in ci["jobs"]["gate"]["steps"]:
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
