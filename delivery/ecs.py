"""The ECS side of a deploy: wait until the service runs the new task definition, or say why not.

A deploy is a CloudFormation update of the service's task definition; CloudFormation itself waits
for ECS and rolls the stack back when the deployment fails. This module is the second line: after
the stack update it follows the service's deployment until it is finished, and turns a failed one
into a one-line error.

The service deploys with ECS-native blue/green or canary (deployment controller ECS, strategy
BLUE_GREEN or CANARY). For those, ``DescribeServices`` names the service's current *service
deployment* (``currentServiceDeployment``) and ``DescribeServiceDeployments`` reports its
``status`` (PENDING, IN_PROGRESS, ... SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED)
and ``lifecycleStage`` (SCALE_UP, TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, ...):
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html and
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html. A rollback
creates no new service revision: the service goes back to the last successful one, i.e. the old
task definition (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-revision.html).
The ``deployments[]`` entries' ``rolloutState`` is documented for rolling updates only
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html), so it is shown when
present and never assumed. Without a current service deployment (rolling services of older API
versions, the local emulator) the service is judged by ``deployments[]`` and boto3's
``services_stable`` waiter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from delivery import aws_errors, awslogs
from delivery.errors import DeliveryError

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

log = logging.getLogger(__name__)
Sleep = Callable[[float], None]
DEFAULT_TIMEOUT_S = 30 * 60
DEFAULT_DELAY_S = 10.0
SUCCESSFUL = "SUCCESSFUL"
# Finished, unsuccessfully: the new revision does not serve (service-deployment.html above).
UNSUCCESSFUL = ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED")


@dataclass(frozen=True)
class Deployment:
    """One entry of a ``describe_services`` service's ``deployments``."""

    id: str
    status: str  # PRIMARY, ACTIVE, INACTIVE
    rollout_state: str  # IN_PROGRESS, COMPLETED, FAILED; "" when ECS does not report one
    rollout_reason: str
    task_definition: str
    running: int
    desired: int

    def __str__(self) -> str:
        state = f"{self.rollout_state} " if self.rollout_state else ""
        return (
            f"deployment {self.id} {self.status} {revision(self.task_definition)}: {state}"
            f"{self.running}/{self.desired} running"
        )


@dataclass(frozen=True)
class ServiceDeployment:
    """A service deployment as ``describe_service_deployments`` reports it."""

    arn: str
    status: str
    lifecycle_stage: str
    reason: str  # the rollback's reason, else the status reason ("" when neither is given)

    @property
    def id(self) -> str:
        """The last part of the ARN (``.../service-deployment/<cluster>/<service>/<id>``)."""
        return self.arn.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        stage = f" ({self.lifecycle_stage})" if self.lifecycle_stage else ""
        return f"service deployment {self.id}: {self.status}{stage}"


def revision(task_definition: str) -> str:
    """``family:revision`` of a task definition ARN."""
    return task_definition.rsplit("/", 1)[-1]


def client(region: str) -> ECSClient:
    """An ECS client for ``region`` (explicit: boto3 ignores AWS_REGION, boto/boto3#3620)."""
    return boto3.client("ecs", region_name=region)


def describe_service(ecs: ECSClient, cluster: str, service: str) -> dict[str, Any]:
    """The service's ``describe_services`` entry; one line when it is missing or inactive."""
    try:
        response = ecs.describe_services(cluster=cluster, services=[service])
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(
            f"reading ECS service {service} failed: {aws_errors.reason(exc)}"
        ) from exc
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
            rollout_state=str(d.get("rolloutState", "")),
            rollout_reason=str(d.get("rolloutStateReason", "")),
            task_definition=str(d.get("taskDefinition", "")),
            running=int(d.get("runningCount", 0)),
            desired=int(d.get("desiredCount", 0)),
        )
        for d in description.get("deployments", [])
    ]
    return sorted(found, key=lambda d: d.status != "PRIMARY")


def service_deployment(ecs: ECSClient, description: dict[str, Any]) -> ServiceDeployment | None:
    """The service's current service deployment; None when ECS names none (or cannot find it)."""
    arn = description.get("currentServiceDeployment")
    if not arn:
        return None
    try:
        found = ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(
            f"reading ECS service deployment {arn} failed ({aws_errors.reason(exc)}): "
            "the deploying role needs ecs:DescribeServiceDeployments"
        ) from exc
    entries = found.get("serviceDeployments", [])
    if not entries:
        return None
    entry = entries[0]
    return ServiceDeployment(
        arn=arn,
        status=entry.get("status", "?"),
        lifecycle_stage=entry.get("lifecycleStage", ""),
        reason=entry.get("rollback", {}).get("reason") or entry.get("statusReason", ""),
    )


def _check_task_definition(description: dict[str, Any], expected: str | None) -> None:
    name = description.get("serviceName", "service")
    current = description.get("taskDefinition")
    if expected and current and current != expected:
        raise DeliveryError(
            f"ECS rolled {name} back to {revision(current)} instead of {revision(expected)}: "
            "see the service's events"
        )


def check_rollout(description: dict[str, Any], expected_task_definition: str | None) -> None:
    """Raise a one-line DeliveryError when a rolling update failed or was rolled back."""
    name = description.get("serviceName", "service")
    for deployment in deployments(description):
        if deployment.rollout_state == "FAILED":
            reason = deployment.rollout_reason or "no reason given"
            raise DeliveryError(f"ECS deployment of {name} failed and was rolled back: {reason}")
    _check_task_definition(description, expected_task_definition)


def check_service_deployment(
    current: ServiceDeployment, description: dict[str, Any], expected: str | None
) -> bool:
    """Whether the service deployment finished successfully; one line when it did not."""
    name = description.get("serviceName", "service")
    reason = current.reason or "no reason given"
    running = revision(description.get("taskDefinition", "?"))
    if current.status == "ROLLBACK_SUCCESSFUL":
        raise DeliveryError(
            f"ECS rolled back the deployment of {name} ({reason}): it runs {running} again"
            + (f", not {revision(expected)}" if expected else "")
        )
    if current.status == "ROLLBACK_FAILED":
        raise DeliveryError(
            f"ECS deployment of {name} failed and so did its rollback ({reason}): it runs "
            f"{running}; see the service's events before deploying again"
        )
    if current.status == "STOPPED":
        raise DeliveryError(f"ECS deployment of {name} was stopped ({reason}): deploy again")
    if current.status != SUCCESSFUL:
        return False
    _check_task_definition(description, expected)
    return True


def _show(lines: list[str], last: list[str]) -> list[str]:
    if lines != last:
        for line in lines:
            log.info(line)
    return lines


def wait_stable(
    cluster: str,
    service: str,
    expected_task_definition: str | None = None,
    *,
    ecs: ECSClient,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    delay_s: float | None = None,
    sleep: Sleep = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Wait until the service's deployment finished on ``expected_task_definition``.

    Returns the service's description; a one-line DeliveryError for a deployment that was
    rolled back, stopped or did not finish within ``timeout_s``.
    """
    deadline = clock() + timeout_s
    last: list[str] = []
    while True:
        description = describe_service(ecs, cluster, service)
        current = service_deployment(ecs, description)
        shown = [str(current)] if current else []
        last = _show(shown + [str(d) for d in deployments(description)], last)
        if current is not None:
            if check_service_deployment(current, description, expected_task_definition):
                return description
        elif _rolled_out(ecs, cluster, service, description, expected_task_definition):
            final = describe_service(ecs, cluster, service)
            check_rollout(final, expected_task_definition)
            return final
        if clock() >= deadline:
            raise DeliveryError(
                f"ECS service {service} did not become stable within {timeout_s:.0f} s: "
                "check its events and the tasks' logs"
            )
        sleep(DEFAULT_DELAY_S if delay_s is None else delay_s)


def _rolled_out(
    ecs: ECSClient, cluster: str, service: str, description: dict[str, Any], expected: str | None
) -> bool:
    """The rolling-update judgement: no failed rollout, and boto3's ``services_stable`` holds."""
    check_rollout(description, expected)
    try:
        # One attempt per round: the waiter owns the "stable" rule, we own the pacing.
        ecs.get_waiter("services_stable").wait(
            cluster=cluster, services=[service], WaiterConfig={"Delay": 1, "MaxAttempts": 1}
        )
    except WaiterError as exc:
        if "terminal failure" in str(exc):
            raise DeliveryError(f"ECS service {service} is no longer active") from exc
        return False
    return True


# --- what went wrong: the service's events and its stopped tasks ---------------------------------

STOPPED_TASKS_SHOWN = 3
EVENTS_SHOWN = 5
# DescribeTasks takes at most 100 tasks a call; stopped tasks "appear in the returned results for
# at least one hour" (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html),
# and no longer: an older crash is found only in the service's events and the logs.
TASKS_PER_CALL = 100
_NOW = datetime.max.replace(tzinfo=UTC)  # sorts a task still stopping first


@dataclass(frozen=True)
class StoppedContainer:
    """One container of a stopped task: its exit code (None: it never ran) and reason."""

    name: str
    exit_code: int | None
    reason: str

    def __str__(self) -> str:
        code = "no exit code" if self.exit_code is None else f"exit code {self.exit_code}"
        return f"{self.name}: {code}" + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class StoppedTask:
    """A stopped task of the service, as DescribeTasks reports it."""

    arn: str
    task_definition: str
    stop_code: str  # TaskFailedToStart, EssentialContainerExited, ...; "" when none is given
    stopped_reason: str
    stopped_at: datetime | None  # None when not reported (yet)
    containers: tuple[StoppedContainer, ...]

    @property
    def id(self) -> str:
        """The task's id: the last part of its ARN (``.../task/<cluster>/<id>``)."""
        return self.arn.rsplit("/", 1)[-1]

    def lines(self) -> list[str]:
        """The task, then each container, one line each."""
        code = f"{self.stop_code}: " if self.stop_code else ""
        at = f" at {self.stopped_at.isoformat(timespec='seconds')}" if self.stopped_at else ""
        head = (
            f"stopped task {self.id} ({revision(self.task_definition)}){at}: "
            f"{code}{self.stopped_reason or 'no reason given'}"
        )
        return [head, *(f"  {container}" for container in self.containers)]


def service_events(description: dict[str, Any], count: int = EVENTS_SHOWN) -> list[str]:
    """The service's ``count`` most recent events (ECS lists them newest first), one line each."""
    found = []
    for event in description.get("events", [])[:count]:
        at = event.get("createdAt")
        when = at.isoformat(timespec="seconds") if hasattr(at, "isoformat") else str(at or "")
        found.append(f"{when} {' '.join(str(event.get('message', '')).split())}".strip())
    return found


def _stopped(task: Mapping[str, Any]) -> StoppedTask:
    return StoppedTask(
        arn=str(task.get("taskArn", "?")),
        task_definition=str(task.get("taskDefinitionArn", "")),
        stop_code=str(task.get("stopCode") or ""),
        stopped_reason=" ".join(str(task.get("stoppedReason") or "").split()),
        stopped_at=task.get("stoppedAt"),
        containers=tuple(
            StoppedContainer(
                name=str(c.get("name", "?")),
                exit_code=c.get("exitCode"),
                reason=" ".join(str(c.get("reason") or "").split()),
            )
            for c in task.get("containers", [])
        ),
    )


def stopped_tasks(
    ecs: ECSClient, cluster: str, service: str, count: int = STOPPED_TASKS_SHOWN
) -> list[StoppedTask]:
    """The service's ``count`` most recently stopped tasks, newest first; one line on failure.

    ListTasks ``desiredStatus=STOPPED`` with ``serviceName``
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html), then
    DescribeTasks; a task of the service has the group ``service:<name>``
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html), which is checked
    too (the emulator ignores ``serviceName``).
    """
    try:
        arns = [
            arn
            for page in ecs.get_paginator("list_tasks").paginate(
                cluster=cluster, serviceName=service, desiredStatus="STOPPED"
            )
            for arn in page.get("taskArns", [])
        ]
        described = [
            task
            for start in range(0, len(arns), TASKS_PER_CALL)
            for task in ecs.describe_tasks(
                cluster=cluster, tasks=arns[start : start + TASKS_PER_CALL]
            ).get("tasks", [])
        ]
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(
            f"reading the stopped tasks of {service} failed: {aws_errors.reason(exc)}"
        ) from exc
    ours = [t for t in described if t.get("group", f"service:{service}") == f"service:{service}"]
    # Newest first; a task without stoppedAt (still stopping) counts as the newest.
    ours.sort(key=lambda t: t.get("stoppedAt") or _NOW, reverse=True)
    return [_stopped(task) for task in ours[:count]]


def awslogs_options(ecs: ECSClient, task_definition: str) -> dict[str, dict[str, str]]:
    """Each container's awslogs options (``awslogs-group``, ``awslogs-stream-prefix``...), by name.

    Containers that log elsewhere are left out; one line when the task definition cannot be read.
    """
    try:
        definition = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(
            f"reading task definition {revision(task_definition)} failed: {aws_errors.reason(exc)}"
        ) from exc
    return {
        str(c.get("name")): dict(found)
        for c in definition.get("containerDefinitions", [])
        if (found := awslogs.options(c)) is not None
    }
