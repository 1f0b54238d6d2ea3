"""An environment's CloudWatch alarms and their states: what ``status`` and the SLO gate read.

The environment's alarms are the ``AWS::CloudWatch::Alarm`` and ``AWS::CloudWatch::CompositeAlarm``
resources of its stacks. ListStackResources names each one's physical id, which for both types
is the alarm's name (what ``Ref`` returns:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-alarm.html
and .../aws-resource-cloudwatch-compositealarm.html, "Return values").

Their states come from DescribeAlarms by name, with ``AlarmTypes`` both kinds: "If you omit this
parameter, only metric alarms are returned, even if composite alarms exist in the account", and
``AlarmNames`` takes at most 100 names a call
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html). The
same page: composite alarms are returned only to a caller whose ``cloudwatch:DescribeAlarms`` is
granted on ``*`` (stacks/common/iam.py lists it among the Resource "*" actions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from delivery import aws_errors, stacks
from delivery.environments import Environment, StackRef
from delivery.errors import DeliveryError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

# CloudFormation's alarm resource types, and the DescribeAlarms AlarmTypes each is.
ALARM_TYPES = {
    "AWS::CloudWatch::Alarm": "MetricAlarm",
    "AWS::CloudWatch::CompositeAlarm": "CompositeAlarm",
}
NAMES_PER_CALL = 100  # DescribeAlarms' AlarmNames, at most
ALARM = "ALARM"
MISSING = "MISSING"  # the stack names the alarm, CloudWatch does not know it
MONITORING_STACK = "monitoring"  # the env's stack that holds the burn-rate alarms


@dataclass(frozen=True)
class AlarmState:
    """One alarm of the environment and its state as CloudWatch reports it."""

    name: str
    logical_id: str  # the alarm's resource in its stack
    stack: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA, or MISSING
    reason: str = ""

    @property
    def alarming(self) -> bool:
        """Whether the alarm is in ALARM."""
        return self.state == ALARM

    def __str__(self) -> str:
        reason = f": {self.reason}" if self.reason else ""
        return f"{self.logical_id} ({self.name}) {self.state}{reason}"


def client(region: str) -> CloudWatchClient:
    """A CloudWatch client for ``region`` (explicit: boto3 ignores AWS_REGION, boto/boto3#3620)."""
    return boto3.client("cloudwatch", region_name=region)


def resources(stack: StackRef) -> list[stacks.Resource]:
    """The alarm resources of ``stack``, created ones only (a physical id); [] without the stack."""
    if stacks.state(stack).status == "NOT_CREATED":
        return []
    return [r for r in stacks.resources(stack) if r.type in ALARM_TYPES and r.physical_id]


def _batches(names: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(names), NAMES_PER_CALL):
        yield names[start : start + NAMES_PER_CALL]


def states(
    stack: StackRef, alarms: list[stacks.Resource], cloudwatch: CloudWatchClient | None = None
) -> list[AlarmState]:
    """The states of ``alarms`` (resources of ``stack``), in their order; one line on failure."""
    if not alarms:
        return []
    cloudwatch = cloudwatch or client(stack.region)
    found: dict[str, tuple[str, str]] = {}
    try:
        for batch in _batches([a.physical_id for a in alarms]):
            pages = cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNames=batch, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
            for page in pages:
                for entry in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    found[entry["AlarmName"]] = (
                        entry.get("StateValue", "?"),
                        " ".join(str(entry.get("StateReason", "")).split()),
                    )
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        raise DeliveryError(
            f"reading the alarms of stack {stack.name} failed ({aws_errors.reason(exc)}): "
            "reading composite alarms needs cloudwatch:DescribeAlarms on *"
        ) from exc
    return [
        AlarmState(
            name=a.physical_id,
            logical_id=a.logical_id,
            stack=stack.name,
            state=found.get(a.physical_id, (MISSING, ""))[0],
            reason=found.get(a.physical_id, (MISSING, ""))[1],
        )
        for a in alarms
    ]


def of_stacks(refs: Iterable[StackRef]) -> list[AlarmState]:
    """Every alarm of the stacks ``refs``, each read in its stack's region, ALARM first."""
    found = [alarm for ref in refs for alarm in states(ref, resources(ref))]
    return sorted(found, key=lambda a: not a.alarming)


def burn_rate(env: Environment) -> list[AlarmState]:
    """The env's SLO burn-rate alarms (the monitoring stack's composites); [] without the stack."""
    from stacks.monitoring.alarms import BURN_RATE_ALARMS  # noqa: PLC0415 - the stacks group

    ref = env.stack_ref(MONITORING_STACK)
    wanted = [r for r in resources(ref) if r.logical_id in BURN_RATE_ALARMS]
    return states(ref, wanted)


def in_alarm(alarms: Iterable[AlarmState]) -> list[AlarmState]:
    """The alarms among ``alarms`` that are in ALARM."""
    return [alarm for alarm in alarms if alarm.alarming]
