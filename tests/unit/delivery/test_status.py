"""What ``invoke status`` prints, one fact per line, from what AWS reported."""

from __future__ import annotations

from delivery import ecs, stacks
from delivery.status import Status

ARN = "arn:aws:ecs:eu-north-1:123456789012:service-deployment/c/s/ejGvqq2ilnbKT9qj0vLJe"
NEW = "arn:aws:ecs:eu-north-1:123456789012:task-definition/flask-fargate-prod:7"


def test_a_blue_green_deployment_in_bake_time_is_shown() -> None:
    shown = Status(
        env="prod",
        stacks=[stacks.StackState("flask-fargate-prod-service", "UPDATE_COMPLETE")],
        version="1.4.0",
        image_uri="r@sha256:" + "a" * 64,
        service_url="https://api.example.com",
        deployments=[ecs.Deployment("ecs-svc/7", "PRIMARY", "", "", NEW, 3, 3)],
        versions=["1.9.0", "1.10.0"],
        service_deployment=ecs.ServiceDeployment(ARN, "IN_PROGRESS", "BAKE_TIME", ""),
    ).lines()
    assert shown == [
        "environment prod",
        "  stack flask-fargate-prod-service: UPDATE_COMPLETE",
        "  live version: 1.4.0 (r@sha256:" + "a" * 64 + ")",
        "  url: https://api.example.com",
        "  service deployment ejGvqq2ilnbKT9qj0vLJe: IN_PROGRESS (BAKE_TIME)",
        "  deployment ecs-svc/7 PRIMARY flask-fargate-prod:7: 3/3 running",
        "  versions in registry: 1.9.0, 1.10.0",
    ]


def test_what_could_not_be_read_is_said() -> None:
    shown = Status(
        env="dev", stacks=[], ecs_error="reading ECS service s failed: Throttling"
    ).lines()
    assert shown == ["environment dev", "  ecs: reading ECS service s failed: Throttling"]
