"""``awslogs``: a container definition's awslogs log configuration, read in one place.

A container that logs with the ``awslogs`` driver names its log group, its region and its stream
prefix in its log configuration's options
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LogConfiguration.html). The
DescribeTaskDefinition answer spells the keys in camelCase (``logConfiguration``, ``logDriver``,
``options``), a CloudFormation template in PascalCase (``LogConfiguration``, ``LogDriver``,
``Options``, https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-taskdefinition-logconfiguration.html);
the option names are the same in both. Where the stream is, from these options, is
``delivery.logs.stream_name``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DRIVER = "awslogs"
GROUP = "awslogs-group"
REGION = "awslogs-region"
STREAM_PREFIX = "awslogs-stream-prefix"

# A value of the definition as text, or None where it has none (a template resolves its
# intrinsic functions here, and gives None for what only AWS can know).
Resolve = Callable[[Any], str | None]


@dataclass(frozen=True)
class Keys:
    """How a container definition spells its log configuration, its driver and its options."""

    configuration: str
    driver: str
    options: str


API = Keys("logConfiguration", "logDriver", "options")  # the ECS API's container definitions
TEMPLATE = Keys("LogConfiguration", "LogDriver", "Options")  # AWS::ECS::TaskDefinition's


@dataclass(frozen=True)
class AwsLogs:
    """Where the awslogs driver sends a container's output: its log group, the region of that
    group (None: the options name none, so the task's own region) and the stream prefix every
    stream of the container starts with (``<prefix>/<container name>/<task id>``)."""

    group: str
    region: str | None
    stream_prefix: str


def text(value: Any) -> str | None:
    """A literal option value as text; None for an empty or missing one."""
    return str(value) if value else None


def options(container: Mapping[str, Any], keys: Keys = API) -> Mapping[str, Any] | None:
    """The log configuration options of a container that logs with awslogs (``{}`` when it gives
    none); None when it logs with another driver or has no log configuration."""
    configuration = container.get(keys.configuration) or {}
    if configuration.get(keys.driver) != DRIVER:
        return None
    return dict(configuration.get(keys.options) or {})


def from_options(found: Mapping[str, Any], resolve: Resolve = text) -> AwsLogs | None:
    """The awslogs target these options name; None without a group or a stream prefix.

    Without a prefix the driver names a stream after the container's id, which no API answer
    here carries; on Fargate the prefix is required ("awslogs-stream-prefix Required: Yes, when
    using Fargate", API_LogConfiguration above), so a Fargate task always has one.
    """
    group, prefix = resolve(found.get(GROUP)), resolve(found.get(STREAM_PREFIX))
    if not group or not prefix:
        return None
    return AwsLogs(group=group, region=resolve(found.get(REGION)) or None, stream_prefix=prefix)


def read(container: Mapping[str, Any], keys: Keys = API, resolve: Resolve = text) -> AwsLogs | None:
    """Where ``container`` (a container definition, spelt as ``keys`` say) sends its output with
    the awslogs driver; None when it logs otherwise, or names no group or no stream prefix."""
    found = options(container, keys)
    return None if found is None else from_options(found, resolve)
