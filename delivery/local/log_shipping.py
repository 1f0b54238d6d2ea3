"""A local process's output into CloudWatch Logs, as the awslogs driver ships a task's.

So that ``invoke logs --env local`` reads the local service (or a one-off task) through the same
code as on AWS: each output line becomes one event in the stream the task definition's awslogs
options name (``delivery.logs.stream_name``).

PutLogEvents' limits, from
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html:
a batch holds at most 10,000 events and 1,048,576 bytes (each message's UTF-8 bytes plus 26),
its events are in chronological order and span at most 24 hours; an event is at most 256 KB
(the figure older regions' pages still give; newer pages say 1 MB: the smaller one holds
everywhere); events older than 14 days or more than 2 hours ahead are rejected. A message may
not be empty (``InputLogEvent.message``: minimum length 1). moto checks only the order and the
age (moto/logs/models.py ``put_log_events``): the batching here is tested against the limits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from delivery import aws_errors
from delivery.errors import DeliveryError
from delivery.log_records import parse, timestamp_ms
from delivery.logs import NOT_FOUND, client

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

log = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES  # as Docker's awslogs driver cuts events
MAX_SPAN_MS = 24 * 3600 * 1000


def _message(line: str) -> str:
    """A line as an event's message: cut to the largest event (on a UTF-8 character boundary)."""
    data = line.encode("utf-8", "replace")
    if len(data) <= MAX_EVENT_BYTES:
        return line
    return data[:MAX_EVENT_BYTES].decode("utf-8", "ignore")


def events(lines: Iterable[str], now_ms: int) -> list[InputLogEventTypeDef]:
    """One event per non-empty line, oldest first: a JSON record at its own ``timestamp``, any
    other line at ``now_ms``. The sort is stable: lines of the same time keep their order."""
    found: list[InputLogEventTypeDef] = []
    for line in lines:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue  # CloudWatch Logs takes no empty message
        own = timestamp_ms(parse(text))
        found.append({"timestamp": own if own is not None else now_ms, "message": _message(text)})
    return sorted(found, key=lambda event: event["timestamp"])


def _size(event: InputLogEventTypeDef) -> int:
    return len(event["message"].encode("utf-8")) + EVENT_OVERHEAD_BYTES


def batches(ordered: list[InputLogEventTypeDef]) -> Iterator[list[InputLogEventTypeDef]]:
    """``ordered`` (oldest first) cut into PutLogEvents batches within its limits."""
    batch: list[InputLogEventTypeDef] = []
    size = 0
    for event in ordered:
        full = (
            len(batch) >= MAX_BATCH_EVENTS
            or size + _size(event) > MAX_BATCH_BYTES
            or (batch and event["timestamp"] - batch[0]["timestamp"] > MAX_SPAN_MS)
        )
        if batch and full:
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += _size(event)
    if batch:
        yield batch


def _create_stream(logs: CloudWatchLogsClient, group: str, stream: str) -> None:
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except ClientError as exc:
        if aws_errors.code(exc) == "ResourceAlreadyExistsException":
            return
        if aws_errors.code(exc) == NOT_FOUND:
            raise DeliveryError(
                f"log group {group} does not exist: the task definition names it, but no stack "
                "created it"
            ) from exc
        raise DeliveryError(
            f"creating log stream {stream} in {group} failed: {aws_errors.reason(exc)}"
        ) from exc


def ship(lines: Iterable[str], *, group: str, stream: str, region: str) -> int:
    """Put ``lines`` into ``stream`` of ``group`` (the stream is created when missing); the number
    of events CloudWatch Logs accepted (an empty line is no event; one it rejects as too old or
    too new is counted out and said)."""
    ordered = events(lines, int(time.time() * 1000))
    if not ordered:
        return 0
    logs = client(region)
    accepted = 0
    try:
        _create_stream(logs, group, stream)
        for batch in batches(ordered):
            answer = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            rejected = answer.get("rejectedLogEventsInfo") or {}
            # Rejected: the events up to tooOldLogEventEndIndex (inclusive), from
            # tooNewLogEventStartIndex on; expiredLogEventEndIndex likewise.
            old = max(
                rejected.get("tooOldLogEventEndIndex", -1),
                rejected.get("expiredLogEventEndIndex", -1),
            )
            new = rejected.get("tooNewLogEventStartIndex", len(batch))
            kept = max(0, new - (old + 1))
            if kept < len(batch):
                dropped = len(batch) - kept
                log.info(f"logs: {dropped} line(s) not taken by {stream} (too old or too new)")
            accepted += kept
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(
            f"shipping to log stream {stream} of {group} failed: {aws_errors.reason(exc)}"
        ) from exc
    return accepted
