"""The on-call's loop on the emulator, through the real command line and the project's own stacks.

A snapshot of this working tree (tests/support/snapshot.py) is released as v1.0.0, deployed to
``local`` with ``--keep`` and the service under gunicorn (``--serve process``; only the image
build and scan are faked: tests/support/fake_build_invoke.py), and then operated as an on-call
would, each step a new ``invoke`` process against the kept emulator:

logs by request id -> run (exit code 3) -> secret set (a new task definition revision) -> v1.1.0
deployed -> a burn-rate alarm goes to ALARM (its two windows set with SetAlarmState) -> status
shows it first, with the live version -> the SLO gate refuses a deploy, changing nothing ->
rollback --fast to v1.0.0 (never gated) puts the old version back at the fast pace.

The SLO gate is on for prod only by default; the snapshot turns it on for ``local`` (one line of
its config), which is what this test is about.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from delivery.emulator import aws_env, environment
from delivery.local.record import Record
from tests.support.cli import run_invoke
from tests.support.git import git
from tests.support.local_deploy import kept_record
from tests.support.snapshot import snapshot

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
SERVICE = "flask-fargate-local-service"
MONITORING = "flask-fargate-local-monitoring"
TIMEOUT_S = 300
SECRET_VALUE = "day-two-" + uuid.uuid4().hex  # a value the test can search for everywhere


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = snapshot(tmp_path / "project")
    config = root / "config" / "local" / "config.yaml"
    config.write_text(config.read_text() + "slo_gate: true\n")
    git(root, "commit", "-q", "-am", "feat: the SLO gate guards the local environment")
    git(root, "tag", "v1.0.0")
    yield root
    run_invoke(root, "stop", "--env", "local", ambient_aws=False)


def invoke(
    project: Path, *args: str, build: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``invoke <args>`` against ``project`` with no AWS setting of the shell; with ``build``,
    through the fake build of that version (a deploy that builds)."""
    result = run_invoke(
        project, *args, ambient_aws=False, timeout=TIMEOUT_S, stdin=stdin, fake_build=build
    )
    print(f"$ invoke {' '.join(args)}\n{result.stdout}{result.stderr}")
    return result


def stack(record: Record, name: str = SERVICE) -> dict[str, dict[str, str]]:
    """The stack's parameters and outputs on the kept emulator."""
    with environment(aws_env(record.endpoint, record.region)):
        found = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {
        "parameters": {p["ParameterKey"]: p["ParameterValue"] for p in found["Parameters"]},
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])},
    }


def secret_value_from(record: Record, task_definition: str) -> str:
    """The app container's SECRET_KEY valueFrom in ``task_definition``."""
    with environment(aws_env(record.endpoint, record.region)):
        described = boto3.client("ecs").describe_task_definition(taskDefinition=task_definition)
    containers = described["taskDefinition"]["containerDefinitions"]
    (container,) = (c for c in containers if c["name"] == "app")
    return next(s["valueFrom"] for s in container["secrets"] if s["name"] == "SECRET_KEY")


def set_burn_rate_alarm(record: Record) -> str:
    """Both windows of the fast burn rate in ALARM; the composite's physical name."""
    with environment(aws_env(record.endpoint, record.region)):
        listed = boto3.client("cloudformation").list_stack_resources(StackName=MONITORING)
        physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in listed["StackResourceSummaries"]
        }

        def name(logical_id: str) -> str:
            return str(physical[logical_id])

        cloudwatch = boto3.client("cloudwatch")
        for window in ("FastBurnLongAlarm", "FastBurnShortAlarm"):
            cloudwatch.set_alarm_state(
                AlarmName=name(window), StateValue="ALARM", StateReason="test: budget burning"
            )
        composite = name("FastBurnRateAlarm")
        state = cloudwatch.describe_alarms(AlarmNames=[composite], AlarmTypes=["CompositeAlarm"])
        assert state["CompositeAlarms"][0]["StateValue"] == "ALARM"
        return composite


def version_of(url: str, request_id: str = "") -> str:
    headers = {"X-Request-ID": request_id} if request_id else {}
    request = urllib.request.Request(f"{url}/version", headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.loads(response.read())["version"])


def test_the_on_calls_loop_on_the_emulator(project: Path) -> None:
    deployed = invoke(
        project, "deploy", "--env", "local", "--skip-scan", "--serve", "process", "--keep",
        build="1.0.0",
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    record = kept_record(project)
    assert record.service is not None
    url = record.service.url

    # logs: the request just made, found by its request id.
    request_id = f"oncall-{uuid.uuid4().hex[:12]}"
    assert version_of(url, request_id) == "1.0.0"
    shown = invoke(project, "logs", "--env", "local", "--request-id", request_id)
    assert shown.returncode == 0, shown.stderr
    (line,) = shown.stdout.splitlines()
    assert f" 1.0.0 {request_id} request GET /version 200 " in line

    # run: a one-off task of the live task definition, its exit code passed on.
    ran = invoke(project, "run", "--env", "local", "--", "python", "-c", "raise SystemExit(3)")
    assert ran.returncode == 3, ran.stdout + ran.stderr

    # secret set: a new value is a new task definition revision pinned to its version.
    before = stack(record)["outputs"]["TaskDefinitionArn"]
    rotated = invoke(project, "secret", "set", "--env", "local", "SECRET_KEY", stdin=SECRET_VALUE)
    assert rotated.returncode == 0, rotated.stderr
    after = stack(record)
    revision = after["outputs"]["TaskDefinitionArn"]
    assert int(revision.rsplit(":", 1)[1]) > int(before.rsplit(":", 1)[1])
    pinned = after["parameters"]["SecretVersions"]
    version_id = pinned.split("SECRET_KEY=", 1)[1].split(",", 1)[0]
    assert version_id
    assert secret_value_from(record, revision).endswith(f":::{version_id}")
    assert SECRET_VALUE not in rotated.stdout + rotated.stderr + json.dumps(after)

    # A second release goes live.
    (project / "app" / "release_note.txt").write_text("second version\n")
    git(project, "add", "app/release_note.txt")
    git(project, "commit", "-q", "-m", "feat: a second release")
    git(project, "tag", "v1.1.0")
    second = invoke(project, "deploy", "--env", "local", "--skip-scan", build="1.1.0")
    assert second.returncode == 0, second.stderr
    assert version_of(url) == "1.1.0"

    # The error budget burns: status names the alarm first, then the live version.
    composite = set_burn_rate_alarm(record)
    status = invoke(project, "status", "--env", "local")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    alarming = [i for i, line in enumerate(lines) if line.startswith("  ALARM ")]
    first_stack = next(i for i, line in enumerate(lines) if line.startswith("  stack "))
    assert alarming == list(range(1, first_stack)), status.stdout  # right after the env's name
    assert f"  ALARM FastBurnRateAlarm ({composite}) ALARM: " in status.stdout
    assert "  live version: 1.1.0 (" in status.stdout

    # The SLO gate refuses a deploy while the budget burns, and nothing changes.
    refused = invoke(project, "deploy", "--env", "local", "--image", "1.0.0")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("error: the SLO gate of local refuses: FastBurnRateAlarm")
    assert stack(record)["parameters"]["AppVersion"] == "1.1.0"

    # rollback --fast is never gated: the old release is back, at the fast pace.
    back = invoke(project, "rollback", "--env", "local", "--to", "1.0.0", "--fast")
    assert back.returncode == 0, back.stdout + back.stderr
    parameters = stack(record)["parameters"]
    assert parameters["AppVersion"] == "1.0.0"
    assert parameters["DeploymentPace"] == "fast"
    assert parameters["SecretVersions"] == pinned  # the rotated secret stays rotated
    assert version_of(url) == "1.0.0"
