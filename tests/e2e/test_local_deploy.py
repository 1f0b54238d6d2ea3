"""The main job end to end through the command line: `invoke deploy --env local` and friends.

A snapshot of this working tree becomes a git repository of its own (what a clone of a clean tree
holds), so the test can commit a change and get a second version without touching the real
repository. Then, as a user would, with ``DELIVERY_PROJECT_ROOT`` pointing at the snapshot:

deploy --keep (v1) -> commit ``feat: ...`` -> deploy (v2) -> status -> rollback --to v1 -> status
-> stop

Every assertion is on what the emulator returns (stack statuses, parameters, outputs, the task
definition the stack registered, the ECR image list) or on the running service (``/version``).
Real build (podman, local base), real moto server, real container; no scanner exists here, so
``--skip-scan`` is explicit and its warning is checked.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from delivery.emulator import aws_env, environment, port_in_use
from delivery.environments import load
from delivery.local.processes import alive
from delivery.local.record import Record, read_record
from tests.support.cli import run_invoke
from tests.support.git import git
from tests.support.snapshot import snapshot

pytestmark = [pytest.mark.container, pytest.mark.emulator, pytest.mark.slow]
SERVICE = "flask-fargate-local-service"
STACKS = ["network", "registry", "service", "monitoring"]
# Generous: a first run on a fresh machine debootstraps the base image (about 90 s).
DEPLOY_TIMEOUT_S = 900


def invoke(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m invoke`` as a user runs it, against ``root``; AWS_* from the shell removed."""
    result = run_invoke(root, *args, ambient_aws=False, timeout=DEPLOY_TIMEOUT_S)
    print(f"$ invoke {' '.join(args)}\n{result.stdout}{result.stderr}")
    return result


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = snapshot(tmp_path / "project")
    yield root
    invoke(root, "stop", "--env", "local")  # whatever a failed assertion left running


def last_line(result: subprocess.CompletedProcess[str], prefix: str) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith(prefix)]
    assert lines, f"no line starts with {prefix!r}"
    return lines[-1]


def version_of(url: str) -> str:
    with urllib.request.urlopen(f"{url}/version", timeout=5) as response:
        return str(json.loads(response.read())["version"])


@dataclass(frozen=True)
class View:
    """What the kept emulator holds."""

    record: Record
    statuses: dict[str, str]
    params: dict[str, str]
    outputs: dict[str, str]
    images: dict[str, str]  # tag -> digest
    first_task_definition: dict[str, Any]  # revision 1's app container (complete in moto)


def emulator_view(root: Path) -> View:
    """Stack statuses, service parameters/outputs, ECR images, from the recorded emulator."""
    record = read_record(load("local", root))
    assert record is not None
    with environment(aws_env(record.endpoint, record.region)):
        cfn = boto3.client("cloudformation")
        statuses: dict[str, str] = {
            name: cfn.describe_stacks(StackName=f"flask-fargate-local-{name}")["Stacks"][0][
                "StackStatus"
            ]
            for name in STACKS
        }
        stack = cfn.describe_stacks(StackName=SERVICE)["Stacks"][0]
        described = boto3.client("ecr").describe_images(repositoryName="flask-fargate-local")
        arn = next(
            o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "TaskDefinitionArn"
        )
        first = boto3.client("ecs").describe_task_definition(
            taskDefinition=arn.rsplit(":", 1)[0] + ":1"
        )["taskDefinition"]["containerDefinitions"][0]
        return View(
            record=record,
            statuses=statuses,
            params={p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]},
            outputs={o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]},
            images={
                tag: image["imageDigest"]
                for image in described["imageDetails"]
                for tag in image.get("imageTags", [])
            },
            first_task_definition=dict(first),
        )


def task_volumes(root: Path) -> list[Path]:
    """The local service containers' volume folders (one per running container)."""
    folder = root / ".local" / "volumes"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def deployed_version(result: subprocess.CompletedProcess[str]) -> str:
    found = re.search(r"^deployed (\S+) to local", result.stdout, re.MULTILINE)
    assert found is not None, result.stdout
    return found.group(1)


def test_deploy_second_version_status_rollback_status_stop(project: Path) -> None:
    started = time.monotonic()
    first = invoke(project, "deploy", "--env", "local", "--skip-scan", "--keep")
    assert first.returncode == 0, first.stderr
    v1_version = deployed_version(first)
    assert "WARNING: SCAN SKIPPED" in first.stdout  # honest about the missing scan
    url = last_line(first, "service: ").split()[1]
    assert version_of(url) == v1_version
    # The task's tmp volume as Fargate gives it: the image's /tmp (VOLUME), world-writable.
    (volume,) = task_volumes(project)
    assert volume.name == f"flask-fargate-local-{url.rsplit(':', 1)[1]}"
    assert stat.S_IMODE((volume / "tmp").stat().st_mode) == 0o1777
    view = emulator_view(project)
    assert set(view.statuses.values()) <= {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
    assert view.params["AppVersion"] == v1_version
    digest_v1 = view.images[v1_version]
    assert view.images[f"sha-{git(project, 'rev-parse', 'HEAD')[:12]}"] == digest_v1
    assert view.params["ImageUri"].endswith(f"/flask-fargate-local@{digest_v1}")
    # The task definition the stack registered carries the image and the version.
    definition = view.first_task_definition
    assert definition["image"] == view.params["ImageUri"]
    assert {"name": "APP_VERSION", "value": v1_version} in definition["environment"]
    assert definition["readonlyRootFilesystem"] is True
    assert view.outputs["TaskDefinitionArn"].endswith(":1")

    # A second version: a new commit, deployed from the same tree onto the kept emulator.
    (project / "app" / "release_note.txt").write_text("second version\n")
    git(project, "add", "app/release_note.txt")
    git(project, "commit", "-q", "-m", "feat: a second version for the local deploy test")
    second = invoke(project, "deploy", "--env", "local", "--skip-scan")
    assert second.returncode == 0, second.stderr
    v2_version = deployed_version(second)
    assert v2_version != v1_version
    assert "emulator: using the kept one" in second.stdout
    assert version_of(url) == v2_version  # same local URL, new version
    view = emulator_view(project)
    assert view.params["AppVersion"] == v2_version
    # The stack update registered a new task definition revision.
    assert view.outputs["TaskDefinitionArn"].endswith(":2")
    assert {v1_version, v2_version} <= set(view.images)
    assert view.images[v2_version] != digest_v1
    assert view.params["ImageUri"].endswith(view.images[v2_version])

    status = invoke(project, "status", "--env", "local")
    assert status.returncode == 0, status.stderr
    assert f"  live version: {v2_version}" in status.stdout
    assert f"/version reports {v2_version}" in status.stdout
    for name in STACKS:
        assert re.search(
            rf"stack flask-fargate-local-{name}: (CREATE|UPDATE)_COMPLETE", status.stdout
        )

    back = invoke(project, "rollback", "--env", "local", "--to", v1_version)
    assert back.returncode == 0, back.stderr
    assert f"rolled local back to {v1_version}" in back.stdout
    assert version_of(url) == v1_version
    view = emulator_view(project)
    assert view.params["AppVersion"] == v1_version
    assert view.params["ImageUri"].endswith(digest_v1)
    assert view.outputs["TaskDefinitionArn"].endswith(":3")

    status = invoke(project, "status", "--env", "local")
    assert f"  live version: {v1_version}" in status.stdout
    assert f"/version reports {v1_version}" in status.stdout

    record = view.record
    stopped = invoke(project, "stop", "--env", "local")
    assert stopped.returncode == 0, stopped.stderr
    assert read_record(load("local", project)) is None
    assert task_volumes(project) == []
    assert not port_in_use(int(url.rsplit(":", 1)[1]))
    assert record.pid is not None
    assert not alive(record.pid)
    print(
        f"deploy, second deploy, status, rollback, status, stop: {time.monotonic() - started:.1f} s"
    )


def test_without_keep_the_main_job_leaves_nothing_running(project: Path) -> None:
    result = invoke(project, "deploy", "--env", "local", "--skip-scan")
    assert result.returncode == 0, result.stderr
    took = float(last_line(result, "took ").split()[1])
    url = last_line(result, "service: ").split()[1]
    version = last_line(result, "service: ").split()[3]
    assert version == deployed_version(result)
    assert "emulator and local service stopped" in result.stdout
    assert not port_in_use(int(url.rsplit(":", 1)[1]))
    emulator = re.search(r"moto on http://127\.0\.0\.1:(\d+)", result.stdout)
    assert emulator is not None
    assert not port_in_use(int(emulator.group(1)))
    assert read_record(load("local", project)) is None
    assert task_volumes(project) == []
    print(f"invoke deploy --env local: {took:.1f} s")
