"""ECS deployment states and rollback detection, with ECS stubbed at the client (Stubber)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from delivery import ecs
from delivery.errors import DeliveryError

CLUSTER, SERVICE = "flask-fargate-dev", "flask-fargate-dev-service"
OLD = "arn:aws:ecs:eu-north-1:123456789012:task-definition/flask-fargate-dev:6"
NEW = "arn:aws:ecs:eu-north-1:123456789012:task-definition/flask-fargate-dev:7"


def deployment(status: str, task: str, rollout: str, running: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"ecs-svc/{task[-1]}",
        "status": status,
        "taskDefinition": task,
        "rolloutState": rollout,
        "runningCount": running,
        "desiredCount": 2,
        **extra,
    }


def service(task: str, *deployments: dict[str, Any]) -> dict[str, Any]:
    return {
        "services": [
            {
                "serviceName": SERVICE,
                "status": "ACTIVE",
                "taskDefinition": task,
                "desiredCount": 2,
                "runningCount": sum(d["runningCount"] for d in deployments),
                "deployments": list(deployments),
            }
        ],
        "failures": [],
    }


EXPECTED = {"cluster": CLUSTER, "services": [SERVICE]}


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "ecs",
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )


def test_stable_on_the_new_task_definition(client: Any) -> None:
    in_progress = service(
        NEW, deployment("PRIMARY", NEW, "IN_PROGRESS", 1), deployment("ACTIVE", OLD, "COMPLETED", 2)
    )
    done = service(NEW, deployment("PRIMARY", NEW, "COMPLETED", 2))
    seen: list[str] = []
    with Stubber(client) as stub:
        stub.add_response("describe_services", in_progress, EXPECTED)  # our read
        stub.add_response("describe_services", in_progress, EXPECTED)  # waiter: not stable
        stub.add_response("describe_services", done, EXPECTED)  # our read
        stub.add_response("describe_services", done, EXPECTED)  # waiter: stable
        stub.add_response("describe_services", done, EXPECTED)  # final check
        result = ecs.wait_stable(
            CLUSTER, SERVICE, NEW, ecs=client, progress=seen.append, sleep=lambda _: None
        )
        stub.assert_no_pending_responses()
    assert result["taskDefinition"] == NEW
    assert seen[0] == "deployment ecs-svc/7 PRIMARY flask-fargate-dev:7: IN_PROGRESS 1/2 running"
    assert seen[-1] == "deployment ecs-svc/7 PRIMARY flask-fargate-dev:7: COMPLETED 2/2 running"


def test_circuit_breaker_rollback_is_one_line(client: Any) -> None:
    failed = service(
        OLD,
        deployment("PRIMARY", OLD, "IN_PROGRESS", 1),
        deployment(
            "ACTIVE",
            NEW,
            "FAILED",
            0,
            rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.",
        ),
    )
    with Stubber(client) as stub:
        stub.add_response("describe_services", failed, EXPECTED)
        with pytest.raises(DeliveryError) as info:
            ecs.wait_stable(CLUSTER, SERVICE, NEW, ecs=client, sleep=lambda _: None)
    assert str(info.value) == (
        f"ECS deployment of {SERVICE} failed and was rolled back: "
        "ECS deployment circuit breaker: tasks failed to start."
    )


def test_stable_on_the_old_task_definition_means_rolled_back() -> None:
    description = service(OLD, deployment("PRIMARY", OLD, "COMPLETED", 2))["services"][0]
    with pytest.raises(
        DeliveryError, match=r"rolled .* back to flask-fargate-dev:6 instead of .*:7"
    ):
        ecs.check_rollout(description, NEW)
    ecs.check_rollout(description, OLD)
    ecs.check_rollout(description, None)


def test_timeout_is_one_line(client: Any) -> None:
    stuck = service(NEW, deployment("PRIMARY", NEW, "IN_PROGRESS", 0))
    ticks = iter([0.0, 100.0])
    with Stubber(client) as stub:
        stub.add_response("describe_services", stuck, EXPECTED)
        stub.add_response("describe_services", stuck, EXPECTED)
        with pytest.raises(DeliveryError, match="did not become stable within 60 s"):
            ecs.wait_stable(
                CLUSTER,
                SERVICE,
                NEW,
                ecs=client,
                timeout_s=60,
                sleep=lambda _: None,
                clock=lambda: next(ticks),
            )


def test_missing_service_is_one_line(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("describe_services", {"services": [], "failures": []}, EXPECTED)
        with pytest.raises(DeliveryError, match="does not exist in cluster"):
            ecs.wait_stable(CLUSTER, SERVICE, NEW, ecs=client)
