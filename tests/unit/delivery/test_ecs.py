"""ECS deployment states and rollback detection, with ECS stubbed at the client (Stubber).

The responses are tests/support/ecs_responses.py's, in the shapes the ECS API reference gives for
a blue/green (or canary) deployment. A rollback creates no new revision: the service returns to
the last successful one, so it ends on the OLD task definition
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-revision.html).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from delivery import ecs
from delivery.errors import DeliveryError
from tests.support.ecs_responses import (
    CLUSTER,
    DEPLOYMENT_ARN,
    EXPECTED,
    NEW,
    OLD,
    OLD_REVISION,
    SERVICE,
    STARTED,
    blue_green_round,
    deployment,
    rolling,
    service,
    service_deployment,
)
from tests.support.logs import progress_lines


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "ecs",
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )


def test_blue_green_waits_through_traffic_shift_and_bake_time(
    client: Any, delivery_log: pytest.LogCaptureFixture
) -> None:
    both = service(
        NEW,
        deployment("PRIMARY", NEW, 2),
        deployment("ACTIVE", OLD, 2),
        current=DEPLOYMENT_ARN,
    )
    done = service(NEW, deployment("PRIMARY", NEW, 2), current=DEPLOYMENT_ARN)
    with Stubber(client) as stub:
        blue_green_round(stub, both, service_deployment("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT"))
        blue_green_round(stub, both, service_deployment("IN_PROGRESS", "BAKE_TIME"))
        blue_green_round(
            stub,
            done,
            service_deployment(
                "SUCCESSFUL", "CLEAN_UP", finishedAt=datetime(2026, 1, 1, 12, 9, tzinfo=UTC)
            ),
        )
        result = ecs.wait_stable(CLUSTER, SERVICE, NEW, ecs=client, sleep=lambda _: None)
        stub.assert_no_pending_responses()
    seen = progress_lines(delivery_log)
    assert result["taskDefinition"] == NEW
    assert seen == [
        "service deployment ejGvqq2ilnbKT9qj0vLJe: IN_PROGRESS (PRODUCTION_TRAFFIC_SHIFT)",
        "deployment ecs-svc/7 PRIMARY flask-fargate-dev:7: 2/2 running",
        "deployment ecs-svc/6 ACTIVE flask-fargate-dev:6: 2/2 running",
        "service deployment ejGvqq2ilnbKT9qj0vLJe: IN_PROGRESS (BAKE_TIME)",
        "deployment ecs-svc/7 PRIMARY flask-fargate-dev:7: 2/2 running",
        "deployment ecs-svc/6 ACTIVE flask-fargate-dev:6: 2/2 running",
        "service deployment ejGvqq2ilnbKT9qj0vLJe: SUCCESSFUL (CLEAN_UP)",
        "deployment ecs-svc/7 PRIMARY flask-fargate-dev:7: 2/2 running",
    ]


def test_blue_green_rollback_names_the_reason_and_the_old_revision(client: Any) -> None:
    """An alarm fires during bake time: ECS shifts traffic back and the service runs :6 again."""
    reason = "CloudWatch alarm flask-fargate-dev-green-5xx-rate is in ALARM state"
    shifting_back = service(
        NEW,
        deployment("PRIMARY", NEW, 2),
        deployment("ACTIVE", OLD, 2),
        current=DEPLOYMENT_ARN,
    )
    rolled_back = service(OLD, deployment("PRIMARY", OLD, 2), current=DEPLOYMENT_ARN)
    rollback = {"reason": reason, "startedAt": STARTED, "serviceRevisionArn": OLD_REVISION}
    with Stubber(client) as stub:
        blue_green_round(
            stub,
            shifting_back,
            service_deployment("ROLLBACK_IN_PROGRESS", "BAKE_TIME", rollback=rollback),
        )
        blue_green_round(
            stub,
            rolled_back,
            service_deployment(
                "ROLLBACK_SUCCESSFUL", "CLEAN_UP", rollback=rollback, statusReason="rolled back"
            ),
        )
        with pytest.raises(DeliveryError) as info:
            ecs.wait_stable(CLUSTER, SERVICE, NEW, ecs=client, sleep=lambda _: None)
        stub.assert_no_pending_responses()
    assert str(info.value) == (
        f"ECS rolled back the deployment of {SERVICE} ({reason}): it runs flask-fargate-dev:6 "
        "again, not flask-fargate-dev:7"
    )


def test_blue_green_failed_rollback_is_one_line(client: Any) -> None:
    failed = service(NEW, deployment("PRIMARY", NEW, 0), current=DEPLOYMENT_ARN)
    with Stubber(client) as stub:
        blue_green_round(
            stub,
            failed,
            service_deployment(
                "ROLLBACK_FAILED",
                "SCALE_UP",
                statusReason="ECS deployment circuit breaker: tasks failed to start.",
            ),
        )
        with pytest.raises(DeliveryError) as info:
            ecs.wait_stable(CLUSTER, SERVICE, NEW, ecs=client, sleep=lambda _: None)
    assert str(info.value) == (
        f"ECS deployment of {SERVICE} failed and so did its rollback (ECS deployment circuit "
        "breaker: tasks failed to start.): it runs flask-fargate-dev:7; see the service's "
        "events before deploying again"
    )


def test_blue_green_success_on_another_task_definition_is_a_rollback(client: Any) -> None:
    done = service(OLD, deployment("PRIMARY", OLD, 2), current=DEPLOYMENT_ARN)
    with Stubber(client) as stub:
        blue_green_round(stub, done, service_deployment("SUCCESSFUL", "CLEAN_UP"))
        with pytest.raises(DeliveryError, match=r"back to flask-fargate-dev:6 instead of .*:7"):
            ecs.wait_stable(CLUSTER, SERVICE, NEW, ecs=client, sleep=lambda _: None)


def test_missing_describe_permission_names_it(client: Any) -> None:
    running = service(NEW, deployment("PRIMARY", NEW, 2), current=DEPLOYMENT_ARN)
    with Stubber(client) as stub:
        stub.add_response("describe_services", running, EXPECTED)
        stub.add_client_error(
            "describe_service_deployments", "AccessDeniedException", "not authorized"
        )
        with pytest.raises(DeliveryError, match=r"needs ecs:DescribeServiceDeployments$"):
            ecs.wait_stable(CLUSTER, SERVICE, NEW, ecs=client, sleep=lambda _: None)


# --- rolling updates and services without a current service deployment (e.g. the emulator) ---


def test_rolling_update_stable_on_the_new_task_definition(
    client: Any, delivery_log: pytest.LogCaptureFixture
) -> None:
    in_progress = service(
        NEW,
        rolling("PRIMARY", NEW, "IN_PROGRESS", 1),
        rolling("ACTIVE", OLD, "COMPLETED", 2),
    )
    done = service(NEW, rolling("PRIMARY", NEW, "COMPLETED", 2))
    with Stubber(client) as stub:
        stub.add_response("describe_services", in_progress, EXPECTED)  # our read
        stub.add_response("describe_services", in_progress, EXPECTED)  # waiter: not stable
        stub.add_response("describe_services", done, EXPECTED)  # our read
        stub.add_response("describe_services", done, EXPECTED)  # waiter: stable
        stub.add_response("describe_services", done, EXPECTED)  # final check
        result = ecs.wait_stable(CLUSTER, SERVICE, NEW, ecs=client, sleep=lambda _: None)
        stub.assert_no_pending_responses()
    seen = progress_lines(delivery_log)
    assert result["taskDefinition"] == NEW
    assert seen[0] == "deployment ecs-svc/7 PRIMARY flask-fargate-dev:7: IN_PROGRESS 1/2 running"
    assert seen[-1] == "deployment ecs-svc/7 PRIMARY flask-fargate-dev:7: COMPLETED 2/2 running"


def test_circuit_breaker_rollback_is_one_line(client: Any) -> None:
    failed = service(
        OLD,
        rolling("PRIMARY", OLD, "IN_PROGRESS", 1),
        rolling(
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
    description = service(OLD, rolling("PRIMARY", OLD, "COMPLETED", 2))["services"][0]
    with pytest.raises(
        DeliveryError, match=r"rolled .* back to flask-fargate-dev:6 instead of .*:7"
    ):
        ecs.check_rollout(description, NEW)
    ecs.check_rollout(description, OLD)
    ecs.check_rollout(description, None)


def test_an_unreported_rollout_state_is_not_shown_as_completed() -> None:
    description = service(NEW, deployment("PRIMARY", NEW, 1))["services"][0]
    (only,) = ecs.deployments(description)
    assert only.rollout_state == ""
    assert str(only) == "deployment ecs-svc/7 PRIMARY flask-fargate-dev:7: 1/2 running"


def test_timeout_is_one_line(client: Any) -> None:
    stuck = service(NEW, rolling("PRIMARY", NEW, "IN_PROGRESS", 0))
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
