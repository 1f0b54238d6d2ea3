"""Why a deploy failed: what AWS recorded, logged before the deploy's own error line.

A deploy (or rollback: the same ``deploy.run``) that fails in the stack launch or the wait for ECS
logs, before its error:

- the stack events of this operation that failed (``*_FAILED``: logical id, type, reason), from
  DescribeStackEvents, newest first, back to the operation's start (the stack's own
  ``CREATE_IN_PROGRESS``/``UPDATE_IN_PROGRESS`` event) and never before the deploy began;
- the service's last stopped tasks since the deploy began: stop code, reason, each container's
  exit code and reason (``delivery.ecs.stopped_tasks``, shared with ``status``);
- the last lines of each such container's log stream (the awslogs options of its task definition,
  ``delivery.logs``).

Reading any of it may fail (missing permission, throttling): then one line says so and the rest
goes on. The diagnosis never replaces the deploy's error, which still ends the command.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from delivery import aws_errors, awslogs, deploy_plan, ecs, logs, stacks
from delivery.environments import Environment, StackRef
from delivery.errors import DeliveryError

log = logging.getLogger(__name__)
PREFIX = "diagnosis: "
LOG_LINES = 20
# An event stamped by AWS's clock a little before ours read "now" still belongs to this deploy.
CLOCK_SKEW = timedelta(minutes=1)
# The stack's own event that starts an operation (DescribeStackEvents: the stack itself is the
# resource whose LogicalResourceId is the stack's name).
_STARTS = frozenset({"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "IMPORT_IN_PROGRESS"})


def failed_events(stack: StackRef, since: datetime) -> list[str]:
    """The failed resource events of the stack's latest operation (not older than ``since``)."""
    cfn = stacks.cloudformation(stack.region)
    found: list[str] = []
    try:
        for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack.name):
            for event in page["StackEvents"]:  # newest first
                if event["Timestamp"] < since - CLOCK_SKEW:
                    return found
                if event.get("ResourceStatus", "").endswith("_FAILED"):
                    found.append(_event_line(stack, event))
                if event.get("LogicalResourceId") == stack.name and (
                    event.get("ResourceStatus") in _STARTS
                ):
                    return found
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        if "does not exist" in aws_errors.message(exc):
            return found
        raise DeliveryError(
            f"reading the events of stack {stack.name} failed: {aws_errors.reason(exc)}"
        ) from exc
    return found


def _event_line(stack: StackRef, event: Any) -> str:
    reason = " ".join(str(event.get("ResourceStatusReason") or "no reason given").split())
    return (
        f"stack {stack.name}: {event.get('ResourceStatus')} {event.get('LogicalResourceId')} "
        f"({event.get('ResourceType')}): {reason}"
    )


def _task_lines(task: ecs.StoppedTask, client: Any, region: str) -> list[str]:
    lines = task.lines()
    options = ecs.awslogs_options(client, task.task_definition)
    for container in task.containers:
        chosen = awslogs.from_options(options.get(container.name) or {})
        if chosen is None:
            continue
        group = chosen.group
        stream = logs.stream_name(chosen.stream_prefix, container.name, task.id)
        last = logs.last_lines(group, stream, region=chosen.region or region, count=LOG_LINES)
        if not last:
            lines.append(f"  no log lines of {container.name} in {group} {stream}")
            continue
        lines.append(f"  last {len(last)} log lines of {container.name} ({group} {stream}):")
        lines += [f"    {line}" for line in last]
    return lines


def stopped_tasks(env: Environment, since: datetime) -> list[str]:
    """The service's tasks stopped since ``since``, with their containers' last log lines."""
    service = deploy_plan.service_stack(env)
    if stacks.state(service).status == "NOT_CREATED":
        return []
    outputs = stacks.outputs(service)
    cluster, name = outputs.get("ClusterName"), outputs.get("ServiceName")
    if not cluster or not name:
        return []
    client = ecs.client(service.region)
    tasks = [
        task
        for task in ecs.stopped_tasks(client, cluster, name)
        if task.stopped_at is None or task.stopped_at >= since - CLOCK_SKEW
    ]
    return [line for task in tasks for line in _task_lines(task, client, service.region)]


def _section(what: str, read: Callable[[], list[str]]) -> list[str]:
    """What ``read`` found, or the one line saying it could not be read: never an exception."""
    try:
        return read()
    except DeliveryError as exc:  # already one line naming what could not be read
        return [str(exc)]
    except Exception as exc:  # a diagnosis reports its own failure and never masks the error
        return [f"could not read {what}: {aws_errors.reason(exc)}"]


def diagnose(env: Environment, since: datetime) -> list[str]:
    """What went wrong in ``env`` since ``since``, one fact a line; never raises."""
    found: list[str] = []
    for ref in (env.stack_ref(name) for name in env.stacks()):
        found += _section(f"the events of stack {ref.name}", partial(failed_events, ref, since))
    found += _section("the stopped tasks", lambda: stopped_tasks(env, since))
    return found or ["no failed stack event and no stopped task recorded"]


@contextlib.contextmanager
def on_failure(env: Environment, since: datetime) -> Iterator[None]:
    """Log the diagnosis of a DeliveryError raised in the block, then raise it unchanged."""
    try:
        yield
    except DeliveryError:
        log.info(f"{PREFIX}what AWS recorded of this failure:")
        try:
            for line in diagnose(env, since):
                log.info(f"{PREFIX}{line}")
        except Exception as exc:  # the original error must still end the command
            log.info(f"{PREFIX}could not be read: {aws_errors.reason(exc)}")
        raise
