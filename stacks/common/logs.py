"""CloudWatch Logs groups: retention always set, retained in environments that keep data."""

from __future__ import annotations

from typing import Any

from troposphere import Ref, Template, ecs, logs

from stacks.common.template import retain, skip_checks

# Why log groups use CloudWatch Logs' own encryption rather than a customer key.
NO_CMK_REASON = (
    "CloudWatch Logs encrypts at rest with service keys; the app logs no secrets and a "
    "per-stack CMK would add cost and key-policy coupling without a reader to restrict"
)


def log_group(
    template: Template, logical_id: str, retention_days: int, *, keep: bool
) -> logs.LogGroup:
    """A log group with ``retention_days`` retention; Retain policies when ``keep``."""
    group = template.add_resource(logs.LogGroup(logical_id, RetentionInDays=retention_days))
    retain(group, keep)
    return skip_checks(group, {"CKV_AWS_158": NO_CMK_REASON})


def awslogs(group: Any, stream_prefix: str, max_buffer: str) -> ecs.LogConfiguration:
    """A container's awslogs driver into ``group``, streams ``<stream_prefix>/<container>/<task>``.

    Non-blocking: a slow log pipeline never blocks the container; lines beyond ``max_buffer``
    (e.g. ``25m``) are dropped instead.
    """
    return ecs.LogConfiguration(
        LogDriver="awslogs",
        Options={
            "awslogs-group": Ref(group),
            "awslogs-region": Ref("AWS::Region"),
            "awslogs-stream-prefix": stream_prefix,
            "mode": "non-blocking",
            "max-buffer-size": max_buffer,
        },
    )
