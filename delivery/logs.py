"""``logs``: the service's CloudWatch Logs, read or followed the way ``aws logs tail`` does.

Where they are: the service stack's ``LogGroupName`` output, in the stack's region. Each task
writes to its own stream, named by its container's awslogs options: ``stream_name``.

Reading is FilterLogEvents over the whole group, every page, from ``--since``; the selection
(``delivery.log_records.Selection``) goes to CloudWatch Logs as a JSON filter pattern and is
applied again to what comes back. The second pass is what makes the answer right where a pattern
is not evaluated: moto 5.x (5.2.5 here) treats any pattern that starts with ``{`` as
"unsupported" and returns every event (moto/logs/utils.py, ``EventMessageFilter``), and on AWS
it costs nothing (every event it returns already matches).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from delivery import aws_errors, credentials, deploy_plan, environments, stacks
from delivery.errors import DeliveryError
from delivery.log_records import Selection, parse, readable, selection

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

log = logging.getLogger(__name__)

DEFAULT_SINCE = "15m"
# ``aws logs tail --follow`` polls every 5 s (awscli/customizations/logs/tail.py,
# FollowLogEventsGenerator._TIME_TO_SLEEP).
FOLLOW_POLL_S = 5.0
LOG_GROUP_OUTPUT = "LogGroupName"
_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
NOT_FOUND = "ResourceNotFoundException"


def stream_name(prefix: str, container: str, task_id: str) -> str:
    """The stream the awslogs driver writes one task's container to.

    ``<awslogs-stream-prefix>/<container name>/<ECS task id>``: "the log stream takes the
    following format: prefix-name/container-name/ecs-task-id"
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html; the prefix
    is required on Fargate), "<awslogs-stream-prefix>/<container_name>/<task_id>"
    (https://docs.aws.amazon.com/prescriptive-guidance/latest/implementing-logging-monitoring-cloudwatch/ec2-fargate-logs.html).
    """
    return f"{prefix}/{container}/{task_id}"


def client(region: str) -> CloudWatchLogsClient:
    """A CloudWatch Logs client for ``region`` (explicit: boto3 ignores AWS_REGION,
    boto/boto3#3620)."""
    return boto3.client("logs", region_name=region)


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: a number and one unit (``30s``, ``15m``, ``2h``, ``1d``, ``1w``) before ``now``,
    or an ISO 8601 time (UTC when it names no zone); one line when it is neither or in the future.

    The units are ``aws logs tail --since``'s (awscli/customizations/logs/tail.py).
    """
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount = int(relative.group(1))
        if amount == 0:
            raise DeliveryError(f"--since {text!r} is no time ago: give e.g. 15m, 2h or 1d")
        return now - timedelta(seconds=amount * _UNIT_SECONDS[relative.group(2)])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DeliveryError(
            f"--since {text!r} is neither a time ago (15m, 2h, 1d: units s, m, h, d, w) nor an "
            "ISO 8601 time (2026-11-30T09:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now:
        raise DeliveryError(f"--since {text!r} is in the future: give a time before now")
    return moment


@dataclass(frozen=True)
class Query:
    """What a ``logs`` command asked for: the records, from when, and how they are printed."""

    selection: Selection
    start_ms: int  # epoch milliseconds, FilterLogEvents' startTime
    raw: bool = False  # --json: each JSON record's message as it is


def query(
    since: str | None = None,
    *,
    request_id: str | None = None,
    version: str | None = None,
    level: str | None = None,
    trace_id: str | None = None,
    raw: bool = False,
    now: datetime | None = None,
) -> Query:
    """The ``logs`` options checked (before anything in AWS is touched); ``since`` defaults to
    DEFAULT_SINCE."""
    chosen = selection(request_id=request_id, version=version, level=level, trace_id=trace_id)
    start = parse_since(DEFAULT_SINCE if since is None else since, now or datetime.now(UTC))
    return Query(chosen, int(start.timestamp() * 1000), raw)


@dataclass(frozen=True)
class Target:
    """The environment's service log group and its region."""

    group: str
    region: str


def target(env_name: str | None, root: Path = environments.PROJECT_ROOT) -> Target:
    """The service's log group (the service stack's output); one line when there is none yet."""
    env = environments.load(env_name, root)
    stack = deploy_plan.service_stack(env)
    credentials.check(stack.region)
    if stacks.state(stack).status == "NOT_CREATED":
        raise DeliveryError(
            f"the service of '{env.name}' is not deployed (stack {stack.name} does not exist in "
            f"{stack.region}): run `invoke deploy --env {env.name}` first"
        )
    group = stacks.outputs(stack).get(LOG_GROUP_OUTPUT, "")
    if not group:
        raise DeliveryError(
            f"stack {stack.name} has no {LOG_GROUP_OUTPUT} output: deploy '{env.name}' again "
            "with this checkout's service stack"
        )
    return Target(group, stack.region)


@dataclass(frozen=True)
class Event:
    """One log event as FilterLogEvents returns it."""

    timestamp_ms: int
    message: str
    event_id: str
    stream: str


def _page(logs: CloudWatchLogsClient, group: str, request: dict[str, Any]) -> dict[str, Any]:
    """One FilterLogEvents call; one line on failure."""
    try:
        return dict(logs.filter_log_events(logGroupName=group, **request))
    except ClientError as exc:
        if aws_errors.code(exc) == NOT_FOUND:
            raise DeliveryError(
                f"log group {group} does not exist: the service stack names it, but it is gone; "
                "deploy the environment again"
            ) from exc
        raise DeliveryError(f"reading log group {group} failed: {aws_errors.reason(exc)}") from exc
    except BotoCoreError as exc:
        raise DeliveryError(f"reading log group {group} failed: {aws_errors.reason(exc)}") from exc


def _request(chosen: Query) -> dict[str, Any]:
    request: dict[str, Any] = {"startTime": chosen.start_ms}
    pattern = chosen.selection.pattern()
    if pattern:
        request["filterPattern"] = pattern
    return request


def _event(raw: Any) -> Event:
    return Event(
        int(raw.get("timestamp", 0)),
        str(raw.get("message", "")),
        str(raw.get("eventId", "")),
        str(raw.get("logStreamName", "")),
    )


def _selected(chosen: Query, event: Event) -> bool:
    return chosen.selection.matches(parse(event.message))


def events(logs: CloudWatchLogsClient, group: str, chosen: Query) -> Iterator[Event]:
    """The selected events of ``group`` from the query's start, every page, oldest first."""
    request = _request(chosen)
    while True:
        page = _page(logs, group, request)
        for raw in page.get("events", []):
            event = _event(raw)
            if _selected(chosen, event):
                yield event
        # A page may be empty and still have a next one: only a missing token ends the search.
        token = page.get("nextToken")
        if not token:
            return
        request["nextToken"] = token


def follow(
    logs: CloudWatchLogsClient,
    group: str,
    chosen: Query,
    *,
    poll_s: float = FOLLOW_POLL_S,
    sleep: Callable[[float], None] = time.sleep,
    before_poll: Callable[[], None] | None = None,
) -> Iterator[Event]:
    """The selected events from the query's start, then new ones as they come, until Ctrl-C.

    As ``aws logs tail --follow`` (FollowLogEventsGenerator in awscli/customizations/logs/
    tail.py): every page, then, at the last one, sleep and ask again from the newest timestamp
    seen. Events with that same timestamp come back again: they are told apart by ``eventId``
    and not shown twice. ``before_poll`` runs before each request (the local env ships the local
    service's new output there).
    """
    request = _request(chosen)
    seen: dict[int, set[str]] = {}
    while True:
        if before_poll is not None and "nextToken" not in request:
            before_poll()
        page = _page(logs, group, request)
        for raw in page.get("events", []):
            event = _event(raw)
            ids = seen.setdefault(event.timestamp_ms, set())
            if event.event_id in ids:
                continue
            ids.add(event.event_id)
            if _selected(chosen, event):
                yield event
        if seen:  # only the newest timestamp's ids can come back
            newest = max(seen)
            seen = {newest: seen[newest]}
        token = page.get("nextToken")
        if token:
            request["nextToken"] = token
            continue
        request.pop("nextToken", None)
        if seen:
            request["startTime"] = max(seen)
        sleep(poll_s)


def render(event: Event, raw: bool) -> str | None:
    """The printed line of an event; with ``raw`` (``--json``) a JSON record's message as it is,
    and None for a line that is not JSON (the output stays one JSON object per line)."""
    if raw:
        return event.message.strip() if parse(event.message) is not None else None
    return readable(event.message, event.timestamp_ms)


def lines(
    env_name: str | None,
    chosen: Query,
    root: Path = environments.PROJECT_ROOT,
    *,
    following: bool = False,
    poll_s: float = FOLLOW_POLL_S,
    sleep: Callable[[float], None] = time.sleep,
    before_poll: Callable[[], None] | None = None,
) -> Iterator[str]:
    """The printed lines of ``env_name``'s service logs for ``chosen``; live with ``following``."""
    found = target(env_name, root)
    logs = client(found.region)
    log.debug(f"logs: {found.group} in {found.region}, pattern {chosen.selection.pattern()!r}")
    stream = (
        follow(logs, found.group, chosen, poll_s=poll_s, sleep=sleep, before_poll=before_poll)
        if following
        else events(logs, found.group, chosen)
    )
    for event in stream:
        line = render(event, chosen.raw)
        if line is not None:
            yield line


def last_lines(group: str, stream: str, *, region: str, count: int = 20) -> list[str]:
    """The last ``count`` messages of one stream, oldest first; [] when the stream does not exist.

    GetLogEvents from the end (``startFromHead=False``), then older pages through
    ``nextBackwardToken`` while fewer than ``count`` came back: a page holds at most 1 MB, and
    the same token coming back means the start of the stream
    (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html).
    """
    if count <= 0:
        return []
    logs = client(region)
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
