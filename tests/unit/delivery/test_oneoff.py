"""One-off tasks on AWS (delivery/oneoff.py), against botocore's Stubber: every request and
response is checked against the ECS API model (RunTask, DescribeTasks, StopTask)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from delivery import oneoff, stacks
from delivery.awslogs import AwsLogs
from delivery.environments import Environment
from delivery.errors import DeliveryError
from tests.support.ecs_responses import stubbed_ecs

ACCOUNT = "arn:aws:ecs:eu-north-1:123456789012"
TASK_ARN = f"{ACCOUNT}:task/flask-fargate-dev-service/0123456789abcdef0123456789abcdef"
TASK_DEFINITION = f"{ACCOUNT}:task-definition/flask-fargate-dev-service:7"
NETWORK = {
    "awsvpcConfiguration": {
        "subnets": ["subnet-0123456789abcdef0"],
        "securityGroups": ["sg-0123456789abcdef0"],
        "assignPublicIp": "DISABLED",
    }
}
ENV = Environment("dev", "eu-north-1", "shared", False, False, False, "flask-fargate", Path("."))
TARGET = oneoff.Target(
    env=ENV,
    region="eu-north-1",
    cluster="flask-fargate-dev-service",
    service="flask-fargate-dev-service",
    task_definition=TASK_DEFINITION,
    container="app",
    network=NETWORK,
    log=AwsLogs("flask-fargate-dev-service-LogGroup-abc", "eu-north-1", "app"),
)


@pytest.fixture
def ecs() -> Iterator[tuple[Any, Stubber]]:
    with stubbed_ecs() as stubbed:
        yield stubbed


def _task(status: str, **extra: Any) -> dict[str, Any]:
    return {"taskArn": TASK_ARN, "lastStatus": status, **extra}


def _started() -> oneoff.Started:
    # No log group: the follower reads nothing (the stream is covered on the emulator).
    return oneoff.Started(TASK_ARN, TARGET.cluster, "eu-north-1", "app", ("true",))


class Recording:
    """An executor that records whether it was asked to stop."""

    def __init__(self) -> None:
        self.stopped = False
        self.fargate = oneoff.Fargate()

    def start(self, task: oneoff.Started) -> None:
        """Nothing: the stubbed ECS runs it."""

    def exit_code(self, container: Any) -> int | None:
        return self.fargate.exit_code(container)

    def stop(self) -> None:
        self.stopped = True


def test_run_task_is_the_live_definition_with_the_command_on_fargate_in_the_services_network(
    ecs: tuple[Any, Stubber],
) -> None:
    client, stubber = ecs
    stubber.add_response(
        "run_task",
        {"tasks": [_task("PROVISIONING")], "failures": []},
        {
            "cluster": TARGET.cluster,
            "taskDefinition": TASK_DEFINITION,
            "launchType": "FARGATE",
            "count": 1,
            "startedBy": "flask-fargate-run",
            "overrides": {
                "containerOverrides": [{"name": "app", "command": ["python", "-m", "app.migrate"]}]
            },
            "propagateTags": "TASK_DEFINITION",
            "networkConfiguration": NETWORK,
        },
    )
    started = oneoff.run_task(TARGET, ["python", "-m", "app.migrate"], client)
    assert started.id == "0123456789abcdef0123456789abcdef"
    # awslogs: <prefix>/<container>/<task id>
    assert started.log_stream == "app/app/0123456789abcdef0123456789abcdef"
    assert started.log_group == "flask-fargate-dev-service-LogGroup-abc"


def test_run_task_without_a_task_says_why(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    stubber.add_response(
        "run_task",
        {"tasks": [], "failures": [{"arn": TASK_DEFINITION, "reason": "RESOURCE:MEMORY"}]},
        {"cluster": ANY, "taskDefinition": ANY, "launchType": ANY, "count": 1,
         "startedBy": ANY, "overrides": ANY, "propagateTags": ANY,
         "networkConfiguration": ANY},
    )  # fmt: skip
    with pytest.raises(DeliveryError, match=r"^RunTask started no task: .*RESOURCE:MEMORY$"):
        oneoff.run_task(TARGET, ["true"], client)


def test_wait_returns_the_containers_exit_code(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    request = {"cluster": TARGET.cluster, "tasks": [TASK_ARN]}
    stubber.add_response("describe_tasks", {"tasks": [_task("RUNNING")]}, request)
    stopped = _task(
        "STOPPED",
        stoppedReason="Essential container in task exited",
        containers=[{"name": "app", "exitCode": 3}],
    )
    stubber.add_response("describe_tasks", {"tasks": [stopped]}, request)
    code = oneoff.wait(
        _started(), Recording(), print, timeout_s=60, client=client, sleep=lambda _: None
    )
    assert code == 3


def test_a_task_that_never_ran_is_one_line_with_its_stopped_reason(
    ecs: tuple[Any, Stubber],
) -> None:
    client, stubber = ecs
    reason = "CannotPullContainerError: pull image manifest has been retried 1 time(s)"
    stopped = _task("STOPPED", stoppedReason=reason, containers=[{"name": "app"}])
    stubber.add_response("describe_tasks", {"tasks": [stopped]}, None)
    with pytest.raises(DeliveryError, match=f"stopped without an exit code: {re.escape(reason)}$"):
        oneoff.wait(_started(), Recording(), print, timeout_s=60, client=client)


def test_a_task_past_its_timeout_is_stopped(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    stubber.add_response("describe_tasks", {"tasks": [_task("RUNNING")]}, None)
    stubber.add_response(
        "stop_task",
        {"task": _task("STOPPED")},
        {"cluster": TARGET.cluster, "task": TASK_ARN, "reason": ANY},
    )
    executor = Recording()
    with pytest.raises(DeliveryError, match=r"did not finish within 0 min: stopped it"):
        oneoff.wait(_started(), executor, print, timeout_s=0, client=client)
    assert executor.stopped


def test_ctrl_c_stops_the_task(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    stubber.add_response("describe_tasks", {"tasks": [_task("RUNNING")]}, None)
    stubber.add_response("stop_task", {"task": _task("STOPPED")}, None)

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    executor = Recording()
    with pytest.raises(KeyboardInterrupt):
        oneoff.wait(_started(), executor, print, timeout_s=60, client=client, sleep=interrupted)
    assert executor.stopped


@pytest.mark.parametrize("words", [[], [""], ["  "]])
def test_no_command_is_one_line(words: list[str]) -> None:
    with pytest.raises(DeliveryError, match=r"^run needs a command after --"):
        oneoff.check_command(words)


def _service_and_definition(stubber: Stubber, network: dict[str, Any] | None) -> None:
    service: dict[str, Any] = {"serviceName": TARGET.service, "status": "ACTIVE"}
    if network:
        service["networkConfiguration"] = network
    stubber.add_response("describe_services", {"services": [service]}, None)
    container = {
        "name": "app",
        "image": "x",
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": "g", "awslogs-region": "eu-north-1",
                        "awslogs-stream-prefix": "app"},
        },
    }  # fmt: skip
    definition = {
        "taskDefinitionArn": TASK_DEFINITION,
        "networkMode": "awsvpc",
        "containerDefinitions": [container],
    }
    stubber.add_response(
        "describe_task_definition",
        {"taskDefinition": definition},
        {"taskDefinition": TASK_DEFINITION},
    )


@pytest.fixture
def outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        stacks,
        "outputs",
        lambda _: {
            "ClusterName": TARGET.cluster,
            "ServiceName": TARGET.service,
            "TaskDefinitionArn": TASK_DEFINITION,
        },
    )


def test_the_target_is_the_live_definition_in_the_services_network(
    ecs: tuple[Any, Stubber], outputs: None
) -> None:
    client, stubber = ecs
    _service_and_definition(stubber, NETWORK)
    found = oneoff.target(ENV, client)
    assert (found.task_definition, found.network, found.container) == (
        TASK_DEFINITION,
        NETWORK,
        "app",
    )
    assert found.log == AwsLogs("g", "eu-north-1", "app")


def test_an_awsvpc_definition_without_the_services_network_is_one_line(
    ecs: tuple[Any, Stubber], outputs: None
) -> None:
    client, stubber = ecs
    _service_and_definition(stubber, None)
    with pytest.raises(DeliveryError, match=r"has no network configuration for its awsvpc"):
        oneoff.target(ENV, client)
