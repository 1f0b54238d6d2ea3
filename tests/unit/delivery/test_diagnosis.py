"""A failed deploy's diagnosis: this operation's failed stack events, stopped tasks, their logs.

CloudFormation is stubbed at the client (DescribeStackEvents, newest first, in the API's shapes:
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackEvent.html).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from delivery import diagnosis, ecs, environments, logs, stacks
from delivery.environments import StackRef
from delivery.errors import DeliveryError
from tests.support.logs import progress_lines
from tests.support.project import make_project

STACK = StackRef("flask-fargate-dev-service", "eu-north-1")
SINCE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def event(minutes: int, logical: str, status: str, reason: str = "") -> dict[str, Any]:
    kind = "AWS::CloudFormation::Stack" if logical == STACK.name else "AWS::ECS::Service"
    entry = {
        "StackId": "arn:aws:cloudformation:eu-north-1:1:stack/s/1",
        "EventId": f"{logical}-{minutes}",
        "StackName": STACK.name,
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "Timestamp": SINCE + timedelta(minutes=minutes),
        "ResourceStatus": status,
    }
    if reason:
        entry["ResourceStatusReason"] = reason
    return entry


@pytest.fixture
def cfn(monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client(
        "cloudformation",
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )
    monkeypatch.setattr(stacks, "cloudformation", lambda region: client)
    return client


def test_only_this_operations_failures_are_shown(cfn: Any) -> None:
    events = [  # newest first
        event(9, STACK.name, "UPDATE_ROLLBACK_COMPLETE"),
        event(8, "Service", "UPDATE_FAILED", "Resource update cancelled"),
        event(7, STACK.name, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed"),
        event(6, "Service", "UPDATE_FAILED", "Invalid request provided: cpu 3\nnot supported"),
        event(5, STACK.name, "UPDATE_IN_PROGRESS", "User Initiated"),
        event(4, "Service", "UPDATE_FAILED", "an earlier update's failure"),
    ]
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": events})
        found = diagnosis.failed_events(STACK, SINCE)
    assert found == [
        f"stack {STACK.name}: UPDATE_FAILED Service (AWS::ECS::Service): Resource update cancelled",
        f"stack {STACK.name}: UPDATE_FAILED Service (AWS::ECS::Service): Invalid request "
        "provided: cpu 3 not supported",
    ]


def test_nothing_older_than_the_deploy_is_shown(cfn: Any) -> None:
    """A stack this deploy did not change: its last operation (and failure) is older."""
    events = [
        event(-30, "Service", "UPDATE_FAILED", "last week's"),
        event(-31, STACK.name, "UPDATE_IN_PROGRESS"),
    ]
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": events})
        assert diagnosis.failed_events(STACK, SINCE) == []


def test_a_stack_that_does_not_exist_has_no_events(cfn: Any) -> None:
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "describe_stack_events", "ValidationError", f"Stack [{STACK.name}] does not exist"
        )
        assert diagnosis.failed_events(STACK, SINCE) == []


def test_a_stopped_tasks_containers_show_their_last_log_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task = ecs.StoppedTask(
        arn="arn:aws:ecs:eu-north-1:1:task/c/abc123",
        task_definition="arn:aws:ecs:eu-north-1:1:task-definition/f:7",
        stop_code="EssentialContainerExited",
        stopped_reason="Essential container in task exited",
        stopped_at=None,
        containers=(
            ecs.StoppedContainer("app", 3, ""),
            ecs.StoppedContainer("sidecar", 0, ""),
            ecs.StoppedContainer("nolog", 1, ""),
        ),
    )
    options = {
        "app": {"awslogs-group": "/flask/dev", "awslogs-stream-prefix": "app"},
        "sidecar": {
            "awslogs-group": "/flask/dev",
            "awslogs-stream-prefix": "app",
            "awslogs-region": "us-east-1",
        },
    }
    asked: list[tuple[str, str, str]] = []

    def last_lines(group: str, stream: str, *, region: str, count: int = 20) -> list[str]:
        asked.append((group, stream, region))
        return (
            ["Traceback (most recent call last):", "SystemExit: 3"] if "app/app" in stream else []
        )

    monkeypatch.setattr(ecs, "awslogs_options", lambda client, arn: options)
    monkeypatch.setattr(logs, "last_lines", last_lines)
    lines = diagnosis._task_lines(task, None, "eu-north-1")
    assert lines == [
        "stopped task abc123 (f:7): EssentialContainerExited: Essential container in task exited",
        "  app: exit code 3",
        "  sidecar: exit code 0",
        "  nolog: exit code 1",
        "  last 2 log lines of app (/flask/dev app/app/abc123):",
        "    Traceback (most recent call last):",
        "    SystemExit: 3",
        "  no log lines of sidecar in /flask/dev app/sidecar/abc123",
    ]
    # The stream is awslogs' prefix/container/task-id, in the region its options name.
    assert asked == [
        ("/flask/dev", "app/app/abc123", "eu-north-1"),
        ("/flask/dev", "app/sidecar/abc123", "us-east-1"),
    ]


def test_what_cannot_be_read_is_one_line_and_the_rest_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environments.load("dev", make_project(tmp_path))

    def refused(stack: StackRef, since: datetime) -> list[str]:
        raise DeliveryError(f"reading the events of stack {stack.name} failed: AccessDenied: no")

    monkeypatch.setattr(diagnosis, "failed_events", refused)
    monkeypatch.setattr(diagnosis, "stopped_tasks", lambda env, since: ["stopped task t: why"])
    assert diagnosis.diagnose(env, SINCE) == [
        "reading the events of stack flask-fargate-dev-service failed: AccessDenied: no",
        "stopped task t: why",
    ]
    monkeypatch.setattr(diagnosis, "stopped_tasks", lambda env, since: 1 / 0)
    assert diagnosis.diagnose(env, SINCE)[-1] == (
        "could not read the stopped tasks: ZeroDivisionError: division by zero"
    )


def test_the_original_error_ends_the_command_after_the_diagnosis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delivery_log: pytest.LogCaptureFixture
) -> None:
    env = environments.load("dev", make_project(tmp_path))
    monkeypatch.setattr(diagnosis, "diagnose", lambda env, since: ["stack s: UPDATE_FAILED X"])
    original = DeliveryError("stack s failed (UPDATE_ROLLBACK_COMPLETE): X: nope")
    with pytest.raises(DeliveryError) as info, diagnosis.on_failure(env, SINCE):
        raise original
    assert info.value is original
    assert progress_lines(delivery_log) == [
        "diagnosis: what AWS recorded of this failure:",
        "diagnosis: stack s: UPDATE_FAILED X",
    ]


def test_a_diagnosis_that_fails_never_hides_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delivery_log: pytest.LogCaptureFixture
) -> None:
    env = environments.load("dev", make_project(tmp_path))

    def broken(env: environments.Environment, since: datetime) -> list[str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(diagnosis, "diagnose", broken)
    original = DeliveryError("ECS rolled back the deployment")
    with pytest.raises(DeliveryError) as info, diagnosis.on_failure(env, SINCE):
        raise original
    assert info.value is original
    assert progress_lines(delivery_log)[-1] == "diagnosis: could not be read: RuntimeError: boom"


def test_success_is_not_diagnosed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delivery_log: pytest.LogCaptureFixture
) -> None:
    env = environments.load("dev", make_project(tmp_path))
    monkeypatch.setattr(diagnosis, "diagnose", lambda env, since: pytest.fail("read"))
    with diagnosis.on_failure(env, SINCE):
        pass
    assert progress_lines(delivery_log) == []
