"""The service's CloudWatch Logs: the two reads a failed deploy's diagnosis needs.

(The full ``invoke logs`` module replaces this one; these two functions keep their signatures.)
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from delivery import aws_errors
from delivery.errors import DeliveryError

NOT_FOUND = "ResourceNotFoundException"


def stream_name(prefix: str, container: str, task_id: str) -> str:
    """The stream the awslogs driver writes one task's container to.

    "the log stream takes the following format: prefix-name/container-name/ecs-task-id"
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html).
    """
    return f"{prefix}/{container}/{task_id}"


def last_lines(group: str, stream: str, *, region: str, count: int = 20) -> list[str]:
    """The last ``count`` messages of one stream, oldest first; [] when the stream does not exist.

    GetLogEvents from the end (``startFromHead=False``), older pages through
    ``nextBackwardToken`` while fewer than ``count`` came back; the same token coming back means
    the start of the stream
    (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html).
    """
    if count <= 0:
        return []
    logs = boto3.client("logs", region_name=region)
    found: list[str] = []
    request: dict[str, Any] = {
        "logGroupName": group,
        "logStreamName": stream,
        "startFromHead": False,
        "limit": min(count, 10_000),  # GetLogEvents' largest limit
    }
    try:
        while len(found) < count:
            page = logs.get_log_events(**request)
            messages = [str(e.get("message", "")).rstrip("\n") for e in page.get("events", [])]
            found = messages + found
            token = page.get("nextBackwardToken")
            if not messages or not token or token == request.get("nextToken"):
                break
            request["nextToken"] = token
    except ClientError as exc:
        if aws_errors.code(exc) == NOT_FOUND:
            return []
        raise DeliveryError(
            f"reading log stream {stream} of {group} failed: {aws_errors.reason(exc)}"
        ) from exc
    except BotoCoreError as exc:
        raise DeliveryError(
            f"reading log stream {stream} of {group} failed: {aws_errors.reason(exc)}"
        ) from exc
    return found[-count:]
