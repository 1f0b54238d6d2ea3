"""A local process's output into CloudWatch Logs, as the awslogs driver ships a task's.

So that ``invoke logs --env local`` reads the local service (or a one-off task) through the same
code as on AWS: each output line becomes one event in the stream the task definition's awslogs
options name (``delivery.logs.stream_name``).

Batches keep to PutLogEvents' limits (delivery/log_limits.py), which the emulator enforces
(delivery/strict_moto.py; moto itself checks only the order and the age). Events older than 14
days or more than 2 hours ahead are rejected by CloudWatch Logs, and counted out here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from delivery import aws_errors
from delivery.errors import DeliveryError
from delivery.log_limits import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    MAX_SPAN_MS,
)
from delivery.log_records import parse, timestamp_ms
from delivery.logs import NOT_FOUND, client

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

log = logging.getLogger(__name__)


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
