"""The ECS side of a deploy: wait until the service runs the new task definition, or say why not.

A deploy is a CloudFormation update of the service's task definition; CloudFormation itself waits
for ECS and rolls the stack back when the deployment fails. This module is the second line:
after the stack update it waits with boto3's ``services_stable`` waiter (one attempt per poll, so
progress can be shown between attempts) and turns a failed rollout into a one-line error:
a deployment whose ``rolloutState`` is FAILED (the circuit breaker or a deployment alarm fired),
or a service that became stable on a different task definition (ECS rolled it back).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from delivery.errors import DeliveryError

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

Progress = Callable[[str], None]
Sleep = Callable[[float], None]
DEFAULT_TIMEOUT_S = 30 * 60
DEFAULT_DELAY_S = 10.0


@dataclass(frozen=True)
class Deployment:
    """One ECS deployment of a service, as ``describe_services`` reports it."""

    id: str
    status: str  # PRIMARY, ACTIVE, INACTIVE
    rollout_state: str  # IN_PROGRESS, COMPLETED, FAILED
    rollout_reason: str
    task_definition: str
    running: int
    desired: int

    def __str__(self) -> str:
        revision = self.task_definition.rsplit("/", 1)[-1]
        return (
            f"deployment {self.id} {self.status} {revision}: {self.rollout_state} "
            f"{self.running}/{self.desired} running"
        )


def client() -> ECSClient:
    """An ECS client from the ambient AWS configuration."""
    return boto3.client("ecs")


def _service(ecs: ECSClient, cluster: str, service: str) -> dict[str, Any]:
    try:
        response = ecs.describe_services(cluster=cluster, services=[service])
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"reading ECS service {service} failed: {exc}") from None
    services = response.get("services", [])
    if not services or services[0].get("status") == "INACTIVE":
        raise DeliveryError(f"ECS service {service} does not exist in cluster {cluster}")
    return dict(services[0])


def deployments(description: dict[str, Any]) -> list[Deployment]:
    """The deployments of a ``describe_services`` service entry, PRIMARY first."""
    found = [
        Deployment(
            id=str(d.get("id", "?")),
            status=str(d.get("status", "?")),
            rollout_state=str(d.get("rolloutState", "COMPLETED")),
            rollout_reason=str(d.get("rolloutStateReason", "")),
            task_definition=str(d.get("taskDefinition", "")),
            running=int(d.get("runningCount", 0)),
            desired=int(d.get("desiredCount", 0)),
        )
        for d in description.get("deployments", [])
    ]
    return sorted(found, key=lambda d: d.status != "PRIMARY")


def check_rollout(description: dict[str, Any], expected_task_definition: str | None) -> None:
    """Raise a one-line DeliveryError when the service's rollout failed or was rolled back."""
    name = description.get("serviceName", "service")
    for deployment in deployments(description):
        if deployment.rollout_state == "FAILED":
            reason = deployment.rollout_reason or "no reason given"
            raise DeliveryError(f"ECS deployment of {name} failed and was rolled back: {reason}")
    current = description.get("taskDefinition")
    if expected_task_definition and current and current != expected_task_definition:
        raise DeliveryError(
            f"ECS rolled {name} back to {current.rsplit('/', 1)[-1]} instead of "
            f"{expected_task_definition.rsplit('/', 1)[-1]}: see the service's events"
        )


def wait_stable(
    cluster: str,
    service: str,
    expected_task_definition: str | None = None,
    *,
    ecs: ECSClient | None = None,
    progress: Progress = lambda _: None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    delay_s: float = DEFAULT_DELAY_S,
    sleep: Sleep = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Wait until the service is stable on ``expected_task_definition``; its description."""
    ecs = ecs or client()
    waiter = ecs.get_waiter("services_stable")
    deadline = clock() + timeout_s
    last: list[str] = []
    while True:
        description = _service(ecs, cluster, service)
        shown = [str(d) for d in deployments(description)]
        if shown != last:
            for line in shown:
                progress(line)
            last = shown
        check_rollout(description, expected_task_definition)
        try:
            # One attempt per round: the waiter owns the "stable" rule, we own the pacing.
            waiter.wait(
                cluster=cluster,
                services=[service],
                WaiterConfig={"Delay": 1, "MaxAttempts": 1},
            )
        except WaiterError as exc:
            if "terminal failure" in str(exc):
                raise DeliveryError(f"ECS service {service} is no longer active") from None
        else:
            final = _service(ecs, cluster, service)
            check_rollout(final, expected_task_definition)
            return final
        if clock() >= deadline:
            raise DeliveryError(
                f"ECS service {service} did not become stable within {timeout_s:.0f} s: "
                "check its events and the tasks' logs"
            )
        sleep(delay_s)
