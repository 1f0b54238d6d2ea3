"""A local container's or process's output, shipped into the emulator's CloudWatch Logs.

On ECS the awslogs driver writes each line of a container's output as one event of the stream
``<prefix>/<container>/<task id>`` in the task definition's group. On the emulator nothing does,
so the local runners ship their output here, into the stream named as on AWS, and the same code
reads it back (``invoke run`` follows it, ``invoke logs`` reads it).

PutLogEvents limits (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html):
at most 10,000 events and 1,048,576 bytes a batch, each event counted as its UTF-8 size plus 26
bytes, an event at most 1 MB (longer lines are cut), events of a batch in time order.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from delivery import aws_errors
from delivery.errors import DeliveryError

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
# An event's message may be up to 1 MB less the overhead; cut in characters, well inside it.
MAX_MESSAGE_CHARS = 256 * 1024


def _batches(lines: Iterable[str]) -> Iterator[list[dict[str, object]]]:
    """``lines`` as PutLogEvents batches within the limits above, each event time-stamped now."""
    batch: list[dict[str, object]] = []
    size = 0
    for line in lines:
        message = line.rstrip("\n")[:MAX_MESSAGE_CHARS] or " "  # an empty message is refused
        cost = len(message.encode()) + EVENT_OVERHEAD_BYTES
        if batch and (len(batch) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append({"timestamp": int(time.time() * 1000), "message": message})
        size += cost
    if batch:
        yield batch


def ship(lines: Iterable[str], *, group: str, stream: str, region: str) -> int:
    """Write ``lines`` as events of ``group``/``stream`` (created when missing); how many.

    The group must exist (the service stack creates it); a missing stream is created, as the
    awslogs driver creates its own.
    """
    logs = boto3.client("logs", region_name=region)
    try:
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as exc:
            if aws_errors.code(exc) != "ResourceAlreadyExistsException":
                raise
        shipped = 0
        for batch in _batches(lines):
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=batch,  # type: ignore[arg-type]
            )
            shipped += len(batch)
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(
            f"shipping output to log stream {group}/{stream} failed: {aws_errors.reason(exc)}"
        ) from exc
    return shipped
