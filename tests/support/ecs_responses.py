"""ECS responses during a deployment, in the API's own shapes, for botocore's Stubber.

The service deploys with ECS-native blue/green (and canary): the responses follow the ECS API
reference for what ``DescribeServices`` and ``DescribeServiceDeployments`` return during and after
such a deployment (Stubber also checks every request and response against botocore's model):

- Service.currentServiceDeployment names the deployment
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Service.html);
- ServiceDeployment.status goes PENDING -> IN_PROGRESS -> SUCCESSFUL, or on a failure
  ROLLBACK_REQUESTED/ROLLBACK_IN_PROGRESS -> ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED, with
  ``lifecycleStage`` (SCALE_UP ... PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, CLEAN_UP) and ``rollback``
  {reason, startedAt, serviceRevisionArn}
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html,
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html);
- ``deployments[].rolloutState`` is documented for rolling updates only
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html): the blue/green
  responses carry none; blue and green both appear in ``deployments[]`` until the bake time ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.stub import Stubber

CLUSTER, SERVICE = "flask-fargate-dev", "flask-fargate-dev-service"
ACCOUNT = "arn:aws:ecs:eu-north-1:123456789012"
OLD = f"{ACCOUNT}:task-definition/flask-fargate-dev:6"
NEW = f"{ACCOUNT}:task-definition/flask-fargate-dev:7"
DEPLOYMENT_ARN = f"{ACCOUNT}:service-deployment/{CLUSTER}/{SERVICE}/ejGvqq2ilnbKT9qj0vLJe"
OLD_REVISION = f"{ACCOUNT}:service-revision/{CLUSTER}/{SERVICE}/4980306466373577095"
NEW_REVISION = f"{ACCOUNT}:service-revision/{CLUSTER}/{SERVICE}/4980306466373578954"
STARTED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
BAKE = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}


def deployment(status: str, task: str, running: int, **extra: Any) -> dict[str, Any]:
    """One entry of ``deployments[]``: ``running`` of 2 tasks of ``task``."""
    return {
        "id": f"ecs-svc/{task[-1]}",
        "status": status,
        "taskDefinition": task,
        "runningCount": running,
        "desiredCount": 2,
        **extra,
    }


def rolling(status: str, task: str, rollout: str, running: int, **extra: Any) -> dict[str, Any]:
    """A rolling update's deployment, with its ``rolloutState``."""
    return deployment(status, task, running, rolloutState=rollout, **extra)


def service(task: str, *deployments: dict[str, Any], current: str | None = None) -> dict[str, Any]:
    """A DescribeServices answer; ``current`` names a blue/green service deployment."""
    entry: dict[str, Any] = {
        "serviceName": SERVICE,
        "status": "ACTIVE",
        "taskDefinition": task,
        "desiredCount": 2,
        "runningCount": sum(d["runningCount"] for d in deployments),
        "deployments": list(deployments),
    }
    if current:
        entry["currentServiceDeployment"] = current
        entry["deploymentController"] = {"type": "ECS"}
        entry["deploymentConfiguration"] = BAKE
    return {"services": [entry], "failures": []}


def service_deployment(status: str, stage: str, **extra: Any) -> dict[str, Any]:
    """A DescribeServiceDeployments answer for the deployment ``DEPLOYMENT_ARN``."""
    return {
        "serviceDeployments": [
            {
                "serviceDeploymentArn": DEPLOYMENT_ARN,
                "serviceArn": f"{ACCOUNT}:service/{CLUSTER}/{SERVICE}",
                "clusterArn": f"{ACCOUNT}:cluster/{CLUSTER}",
                "createdAt": STARTED,
                "startedAt": STARTED,
                "sourceServiceRevisions": [
                    {"arn": OLD_REVISION, "requestedTaskCount": 2, "runningTaskCount": 2}
                ],
                "targetServiceRevision": {"arn": NEW_REVISION, "requestedTaskCount": 2},
                "status": status,
                "lifecycleStage": stage,
                "deploymentConfiguration": BAKE,
                **extra,
            }
        ],
        "failures": [],
    }


# The requests wait_stable makes for SERVICE.
EXPECTED = {"cluster": CLUSTER, "services": [SERVICE]}
DEPLOYMENT = {"serviceDeploymentArns": [DEPLOYMENT_ARN]}


def blue_green_round(stub: Stubber, services: dict[str, Any], deployment: dict[str, Any]) -> None:
    """One poll of a service with a current service deployment: what wait_stable reads."""
    stub.add_response("describe_services", services, EXPECTED)
    stub.add_response("describe_service_deployments", deployment, DEPLOYMENT)


@contextmanager
def stubbed_ecs(region: str = "eu-north-1") -> Iterator[tuple[Any, Stubber]]:
    """An ECS client answered only by its Stubber; every queued response must be used."""
    client = boto3.client(
        "ecs",
        region_name=region,
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106 - a stub's dummy credentials
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
