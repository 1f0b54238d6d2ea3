"""One-off tasks (``invoke run -- COMMAND...``): the live task definition, run once with a command.

A migration or a script runs as the service runs: RunTask of the service stack's live task
definition (output ``TaskDefinitionArn``) with the command as the app container's override
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerOverride.html, ``command``),
on Fargate in the service's own network configuration (DescribeServices), ``startedBy`` naming the
project. Its output is followed in its awslogs stream (``<prefix>/<container>/<task id>``,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html), its end waited for
on DescribeTasks (``lastStatus`` STOPPED), and the command exits with the container's exit code.
A timeout or Ctrl-C stops the task (StopTask): nothing is left running.

Who runs the task is an ``Executor``: on AWS, Fargate (``Fargate``: nothing to do but wait); on
the emulator, this machine (delivery/local/oneoff_runner.py), which ships the output into the
emulator's log stream and stops the emulator's task when the command ends. Everything else is
the same code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from delivery import (
    aws_errors,
    awslogs,
    deploy_plan,
    ecs,
    environments,
    lifetime,
    logs,
    project,
    stacks,
)
from delivery.environments import Environment
from delivery.errors import DeliveryError
from stacks.service.task import CONTAINER_NAME

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_logs import CloudWatchLogsClient

log = logging.getLogger(__name__)
Emit = Callable[[str], None]
Sleep = Callable[[float], None]

DEFAULT_TIMEOUT_MINUTES = 30.0
# startedBy: up to 128 letters, numbers, hyphens, forward slashes and underscores (RunTask API,
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html).
STARTED_BY = f"{project.NAME}-run"
POLL_S = 2.0
EMULATOR_POLL_S = 0.1
STOPPED = "STOPPED"
USAGE = "run needs a command after --, e.g. invoke run --env dev -- python -m app.migrate"


@dataclass(frozen=True)
class Target:
    """What a one-off task of the environment is made from."""

    env: Environment
    region: str
    cluster: str
    service: str
    task_definition: str
    container: str
    network: dict[str, Any] | None  # the service's networkConfiguration
    # Where the app container's awslogs driver writes (``target`` fills in the stack's region
    # when the options name none).
    log: awslogs.AwsLogs | None


@dataclass(frozen=True)
class Started:
    """A one-off task RunTask accepted."""

    arn: str
    cluster: str
    region: str
    container: str
    command: tuple[str, ...]
    log_group: str = ""
    log_stream: str = ""

    @property
    def id(self) -> str:
        """The task's id: the last part of its ARN."""
        return self.arn.rsplit("/", 1)[-1]


class Executor(Protocol):
    """Who runs a one-off task once RunTask accepted it."""

    def start(self, task: Started) -> None:
        """Run ``task`` (or nothing: Fargate already does); returns at once."""
        ...

    def exit_code(self, container: Mapping[str, Any]) -> int | None:
        """The exit code of the task's container, given DescribeTasks' entry for it."""
        ...

    def stop(self) -> None:
        """Stop what ``start`` started (the task was stopped through StopTask already)."""
        ...


class Fargate:
    """AWS: Fargate runs the task; DescribeTasks reports the container's exit code."""

    def start(self, task: Started) -> None:
        """Nothing to do: RunTask started it."""

    def exit_code(self, container: Mapping[str, Any]) -> int | None:
        """``exitCode`` of the container, absent when it never ran (an image pull failed...)."""
        code = container.get("exitCode")
        return int(code) if code is not None else None

    def stop(self) -> None:
        """Nothing to do: StopTask stops it."""


def check_command(words: Sequence[str]) -> tuple[str, ...]:
    """The command's words; one line when there are none."""
    command = tuple(words)
    if not command or not any(word.strip() for word in command):
        raise DeliveryError(USAGE)
    return command


def _client(region: str) -> ECSClient:
    return ecs.client(region)


def _log_target(definition: Mapping[str, Any], container: str) -> awslogs.AwsLogs | None:
    """The awslogs options of ``container`` in a DescribeTaskDefinition answer, if it has them."""
    for entry in definition.get("containerDefinitions", []):
        if entry.get("name") == container:
            return awslogs.read(entry)
    raise DeliveryError(
        f"task definition {ecs.revision(str(definition.get('taskDefinitionArn', '')))} has no "
        f"container named {container}: deploy the environment again"
    )


def target(env: Environment, client: ECSClient | None = None) -> Target:
    """The environment's live task definition, cluster, network and log stream target."""
    stack = deploy_plan.service_stack(env)
    outputs = stacks.outputs(stack)
    missing = [k for k in ("ClusterName", "ServiceName", "TaskDefinitionArn") if not outputs.get(k)]
    if missing:
        raise DeliveryError(
            f"stack {stack.name} has no output {', '.join(missing)}: deploy the environment again"
        )
    client = client or _client(stack.region)
    cluster, service = outputs["ClusterName"], outputs["ServiceName"]
    description = ecs.describe_service(client, cluster, service)
    arn = outputs["TaskDefinitionArn"]
    try:
        definition = client.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(
            f"reading task definition {ecs.revision(arn)} failed: {aws_errors.reason(exc)}"
        ) from exc
    network = description.get("networkConfiguration")
    if not network and definition.get("networkMode") == "awsvpc":
        raise DeliveryError(
            f"ECS service {service} has no network configuration for its awsvpc task definition: "
            "deploy the environment again"
        )
    found = _log_target(dict(definition), CONTAINER_NAME)
    if found is not None and not found.region:
        found = replace(found, region=stack.region)
    return Target(
        env=env,
        region=stack.region,
        cluster=cluster,
        service=service,
        task_definition=arn,
        container=CONTAINER_NAME,
        network=dict(network) if network else None,
        log=found,
    )


def run_task(target: Target, command: Sequence[str], client: ECSClient | None = None) -> Started:
    """RunTask: one task of the live task definition with ``command``, as the service runs."""
    client = client or _client(target.region)
    request: dict[str, Any] = {
        "cluster": target.cluster,
        "taskDefinition": target.task_definition,
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": STARTED_BY,
        "overrides": {"containerOverrides": [{"name": target.container, "command": list(command)}]},
        # The task carries the task definition's tags, like the service's own tasks.
        "propagateTags": "TASK_DEFINITION",
    }
    if target.network:
        request["networkConfiguration"] = target.network
    try:
        response = client.run_task(**request)
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"RunTask failed: {aws_errors.reason(exc)}") from exc
    tasks = response.get("tasks") or []
    if not tasks:
        failures = "; ".join(
            f"{f.get('arn', '')} {f.get('reason', '')} {f.get('detail', '')}".strip()
            for f in response.get("failures", [])
        )
        raise DeliveryError(f"RunTask started no task: {failures or 'no reason given'}")
    arn = str(tasks[0]["taskArn"])
    task_id = arn.rsplit("/", 1)[-1]
    log_target = target.log
    return Started(
        arn=arn,
        cluster=target.cluster,
        region=target.region,
        container=target.container,
        command=tuple(command),
        log_group=log_target.group if log_target else "",
        log_stream=(
            logs.stream_name(log_target.stream_prefix, target.container, task_id)
            if log_target
            else ""
        ),
    )


class LogFollower:
    """The new events of one log stream, read with GetLogEvents' forward token."""

    def __init__(self, group: str, stream: str, region: str) -> None:
        self.group, self.stream = group, stream
        self._logs: CloudWatchLogsClient = boto3.client("logs", region_name=region)
        self._token: str | None = None

    def new_lines(self) -> list[str]:
        """Every event written since the last call (none while the stream does not exist)."""
        if not self.group:
            return []
        lines: list[str] = []
        while True:
            request: dict[str, Any] = {"logGroupName": self.group, "logStreamName": self.stream}
            if self._token:
                request["nextToken"] = self._token
            else:
                request["startFromHead"] = True
            try:
                page = self._logs.get_log_events(**request)
            except ClientError as exc:
                if aws_errors.code(exc) == "ResourceNotFoundException":
                    return lines  # the driver creates the stream when the container starts
                raise DeliveryError(
                    f"reading log stream {self.stream} failed: {aws_errors.reason(exc)}"
                ) from exc
            except BotoCoreError as exc:
                raise DeliveryError(
                    f"reading log stream {self.stream} failed: {aws_errors.reason(exc)}"
                ) from exc
            lines += [str(event.get("message", "")) for event in page.get("events", [])]
            token = page.get("nextForwardToken")
            # The same token back means the end of the stream for now (GetLogEvents API).
            if not token or token == self._token:
                return lines
            self._token = token


def _describe(client: ECSClient, task: Started) -> dict[str, Any]:
    try:
        found = client.describe_tasks(cluster=task.cluster, tasks=[task.arn]).get("tasks") or []
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"reading task {task.id} failed: {aws_errors.reason(exc)}") from exc
    if not found:
        raise DeliveryError(f"task {task.id} is not in cluster {task.cluster} any more")
    return dict(found[0])


def stop_task(client: ECSClient, task: Started, reason: str) -> None:
    """StopTask, with ``reason`` (what DescribeTasks then reports as its stoppedReason)."""
    try:
        client.stop_task(cluster=task.cluster, task=task.arn, reason=reason)
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"stopping task {task.id} failed: {aws_errors.reason(exc)}") from exc


def wait(
    task: Started,
    executor: Executor,
    emit: Emit,
    *,
    timeout_s: float,
    poll_s: float = POLL_S,
    client: ECSClient | None = None,
    sleep: Sleep = time.sleep,
) -> int:
    """Follow ``task``'s log stream until it stops; the container's exit code.

    No exit code (the container never ran) is one line with the stopped reason. On timeout or
    Ctrl-C the task is stopped (StopTask) first.
    """
    client = client or _client(task.region)
    follower = LogFollower(task.log_group, task.log_stream, task.region)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            for line in follower.new_lines():
                emit(line)
            described = _describe(client, task)
            if described.get("lastStatus") == STOPPED:
                break
            if time.monotonic() >= deadline:
                stop_task(client, task, f"{STARTED_BY}: timed out after {timeout_s / 60:g} min")
                executor.stop()
                raise DeliveryError(
                    f"task {task.id} did not finish within {timeout_s / 60:g} min: stopped it "
                    "(pass a longer --timeout for longer jobs)"
                )
            sleep(poll_s)
    except KeyboardInterrupt:
        stop_task(client, task, f"{STARTED_BY}: interrupted (Ctrl-C)")
        executor.stop()
        log.info(f"run: stopped task {task.id} (Ctrl-C)")
        raise
    for line in follower.new_lines():  # what the driver wrote before the stop
        emit(line)
    containers = [c for c in described.get("containers", []) if c.get("name") == task.container]
    # No entry for the container: Fargate reports no exit code then; a local run knows its own.
    code = executor.exit_code(containers[0] if containers else {})
    if code is None:
        reason = described.get("stoppedReason") or "no reason given"
        raise DeliveryError(f"task {task.id} stopped without an exit code: {reason}")
    return code


def run(
    env: Environment,
    command: Sequence[str],
    executor: Executor,
    emit: Emit,
    *,
    timeout_s: float,
) -> int:
    """Run ``command`` as a one-off task of ``env``'s service; its exit code."""
    words = check_command(command)
    found = target(env)
    task = run_task(found, words)
    where = f", logs {task.log_group}/{task.log_stream}" if task.log_group else ", no awslogs"
    log.info(f"run: task {task.id} of {ecs.revision(found.task_definition)}{where}")
    executor.start(task)
    poll_s = EMULATOR_POLL_S if env.emulator else POLL_S
    code = wait(task, executor, emit, timeout_s=timeout_s, poll_s=poll_s)
    log.info(f"run: task {task.id} exited with {code}")
    return code


def run_command(
    env_name: str | None,
    command: Sequence[str],
    *,
    root: Path,
    emit: Emit,
    timeout_s: float,
) -> int:
    """``invoke run``: bad input refused first, then the task run by AWS or, on an emulator
    env, by this machine (its kept emulator); the container's exit code."""
    from delivery.local import session as local_session  # noqa: PLC0415 - emulator envs only

    words = check_command(command)
    env = environments.load(env_name, root)
    # SIGTERM (a CI job cancelled) takes Ctrl-C's path: the task is stopped, not left running.
    with lifetime.sigterm_as_interrupt(), local_session.attached(env_name, root) as session:
        executor: Executor = Fargate() if session is None else _local_executor(env, session)
        return run(env, words, executor, emit, timeout_s=timeout_s)


def _local_executor(env: Environment, session: Any) -> Executor:
    """This machine runs the task as it runs the local service: container or process."""
    from delivery.local import oneoff_runner  # noqa: PLC0415 - emulator envs only
    from delivery.local.task_definition import service_spec  # noqa: PLC0415

    spec = service_spec(env, stacks.outputs(deploy_plan.service_stack(env)))
    service = session.service
    mode = service.mode if service is not None else "process"
    engine = (service.engine or None) if service is not None else None
    return oneoff_runner.executor(spec, env.root, mode, engine, env.project_code)
