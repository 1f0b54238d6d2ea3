"""What went wrong in the service: its recent events and last stopped tasks (ECS stubbed).

Stopped tasks are listed with ListTasks (desiredStatus STOPPED, serviceName) and read with
DescribeTasks, in the shapes of the ECS API reference (Task: stopCode, stoppedReason, stoppedAt,
group "service:<name>"; Container: exitCode, reason).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from delivery import ecs
from delivery.errors import DeliveryError
from tests.support.ecs_responses import ACCOUNT, CLUSTER, NEW, SERVICE, STARTED

LISTED = {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "STOPPED"}


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "ecs",
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )


def task_arn(index: int) -> str:
    return f"{ACCOUNT}:task/{CLUSTER}/{index:032x}"


def stopped(index: int, minutes: int, group: str = f"service:{SERVICE}") -> dict[str, Any]:
    """A task stopped ``minutes`` after STARTED: its app container exited with ``index``."""
    return {
        "taskArn": task_arn(index),
        "taskDefinitionArn": NEW,
        "group": group,
        "lastStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "stoppedAt": STARTED + timedelta(minutes=minutes),
        "containers": [
            {"name": "app", "exitCode": index, "reason": "" if index else "OutOfMemoryError"},
        ],
    }


def test_the_last_three_stopped_tasks_of_the_service_newest_first(client: Any) -> None:
    tasks = [stopped(1, 5), stopped(2, 30), stopped(3, 10), stopped(4, 20)]
    other = stopped(9, 40, group="family:one-off")  # not the service's (a one-off task)
    with Stubber(client) as stub:
        stub.add_response(
            "list_tasks", {"taskArns": [t["taskArn"] for t in [*tasks, other]]}, LISTED
        )
        stub.add_response(
            "describe_tasks",
            {"tasks": [*tasks, other], "failures": []},
            {"cluster": CLUSTER, "tasks": [t["taskArn"] for t in [*tasks, other]]},
        )
        found = ecs.stopped_tasks(client, CLUSTER, SERVICE)
    assert [t.id for t in found] == [f"{i:032x}" for i in (2, 4, 3)]
    assert found[0].lines() == [
        f"stopped task {2:032x} (flask-fargate-dev:7) at 2026-01-01T12:30:00+00:00: "
        "EssentialContainerExited: Essential container in task exited",
        "  app: exit code 2",
    ]


def test_a_container_that_never_ran_has_no_exit_code(client: Any) -> None:
    task = {
        "taskArn": task_arn(5),
        "taskDefinitionArn": NEW,
        "group": f"service:{SERVICE}",
        "stopCode": "TaskFailedToStart",
        "stoppedReason": "CannotPullContainerError: pull image manifest has been retried",
        "containers": [{"name": "app", "reason": "CannotPullContainerError"}],
    }
    with Stubber(client) as stub:
        stub.add_response("list_tasks", {"taskArns": [task_arn(5)]}, LISTED)
        stub.add_response("describe_tasks", {"tasks": [task], "failures": []})
        (found,) = ecs.stopped_tasks(client, CLUSTER, SERVICE)
    assert found.lines() == [
        f"stopped task {5:032x} (flask-fargate-dev:7): TaskFailedToStart: "
        "CannotPullContainerError: pull image manifest has been retried",
        "  app: no exit code (CannotPullContainerError)",
    ]


def test_more_than_100_stopped_tasks_are_described_100_a_call(client: Any) -> None:
    arns = [task_arn(i) for i in range(150)]
    with Stubber(client) as stub:
        stub.add_response("list_tasks", {"taskArns": arns}, LISTED)
        stub.add_response(
            "describe_tasks",
            {"tasks": [], "failures": []},
            {"cluster": CLUSTER, "tasks": arns[:100]},
        )
        stub.add_response(
            "describe_tasks",
            {"tasks": [], "failures": []},
            {"cluster": CLUSTER, "tasks": arns[100:]},
        )
        assert ecs.stopped_tasks(client, CLUSTER, SERVICE) == []
        stub.assert_no_pending_responses()


def test_no_stopped_task_means_no_describe(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("list_tasks", {"taskArns": []}, LISTED)
        assert ecs.stopped_tasks(client, CLUSTER, SERVICE) == []


def test_a_refused_read_is_one_line(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_client_error("list_tasks", "AccessDeniedException", "not authorized")
        with pytest.raises(DeliveryError) as info:
            ecs.stopped_tasks(client, CLUSTER, SERVICE)
    assert str(info.value) == (
        f"reading the stopped tasks of {SERVICE} failed: AccessDeniedException: not authorized"
    )


def test_the_five_most_recent_events_one_line_each() -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    events = [
        {"id": str(i), "createdAt": at - timedelta(minutes=i), "message": f"event\n{i}"}
        for i in range(7)
    ]
    shown = ecs.service_events({"events": events})
    assert shown[0] == "2026-01-01T12:00:00+00:00 event 0"
    assert len(shown) == 5
    assert shown[-1].endswith("event 4")
