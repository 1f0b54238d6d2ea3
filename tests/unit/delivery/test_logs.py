"""Reading the service's logs: --since, FilterLogEvents' pages, and the follow loop (fake client).

The follow loop is judged against what ``aws logs tail --follow`` does
(awscli/customizations/logs/tail.py): ask again from the newest timestamp seen, show an event
that comes back with that timestamp only once (by eventId), sleep between polls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from delivery import logs
from delivery.errors import DeliveryError
from delivery.log_records import Selection
from delivery.logs import Event, Query, follow, parse_since, query, render, stream_name

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
    ],
)
def test_since_a_time_ago(text: str, ago: timedelta) -> None:
    assert parse_since(text, NOW) == NOW - ago


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-30T09:00:00Z", datetime(2026, 11, 30, 9, tzinfo=UTC)),
        ("2026-11-30T10:00:00+01:00", datetime(2026, 11, 30, 9, tzinfo=UTC)),
        ("2026-11-30T09:00:00", datetime(2026, 11, 30, 9, tzinfo=UTC)),  # no zone: UTC
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
    ],
)
def test_since_an_iso_8601_time(text: str, moment: datetime) -> None:
    assert parse_since(text, NOW) == moment


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "--since 'yesterday' is neither a time ago"),
        ("15 m", "is neither a time ago"),
        ("5h30m", "is neither a time ago"),  # one unit only, as aws logs tail
        ("-5m", "is neither a time ago"),
        ("0m", "--since '0m' is no time ago"),
        ("2026-12-01T00:00:00Z", "is in the future"),
    ],
)
def test_bad_since_is_one_line(text: str, message: str) -> None:
    with pytest.raises(DeliveryError, match=message) as info:
        parse_since(text, NOW)
    assert "\n" not in str(info.value)


def test_the_query_starts_at_since_in_epoch_milliseconds() -> None:
    found = query("15m", level="error", raw=True, now=NOW)
    assert found == Query(
        Selection(level="ERROR"), int((NOW - timedelta(minutes=15)).timestamp() * 1000), True
    )


def test_the_stream_is_named_as_the_awslogs_driver_names_a_task_s() -> None:
    assert stream_name("app", "app", "0f1e2d3c4b5a69788796a5b4c3d2e1f0") == (
        "app/app/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    )


def event(event_id: str, timestamp: int, **record: Any) -> dict[str, Any]:
    message = json.dumps({"timestamp": "2026-11-30T12:00:00.000Z", **record}) if record else "x"
    return {"eventId": event_id, "timestamp": timestamp, "message": message, "logStreamName": "s"}


class FakeLogs:
    """FilterLogEvents answering from a list of prepared responses; every request recorded."""

    def __init__(self, responses: list[dict[str, Any]]) -> None:
        self.responses = responses
        self.requests: list[dict[str, Any]] = []

    def filter_log_events(self, **request: Any) -> dict[str, Any]:
        self.requests.append(dict(request))
        return self.responses.pop(0) if self.responses else {"events": []}


def test_every_page_is_read_even_an_empty_one_with_a_next_token() -> None:
    fake = FakeLogs(
        [
            {"events": [event("1", 10, level="ERROR")], "nextToken": "a"},
            {"events": [], "nextToken": "b"},
            {"events": [event("2", 20, level="INFO"), event("3", 30, level="ERROR")]},
        ]
    )
    chosen = Query(Selection(level="ERROR"), 5)
    found = list(logs.events(fake, "group", chosen))  # type: ignore[arg-type]
    assert [e.event_id for e in found] == ["1", "3"]  # INFO left out client-side too
    assert [r.get("nextToken") for r in fake.requests] == [None, "a", "b"]
    assert all(r["filterPattern"] == chosen.selection.pattern() for r in fake.requests)
    assert all(r["startTime"] == 5 for r in fake.requests)


def test_follow_asks_again_from_the_newest_time_and_shows_each_event_once() -> None:
    fake = FakeLogs(
        [
            {"events": [event("1", 100), event("2", 200)], "nextToken": "t"},
            {"events": [event("3", 300)]},
            # The next poll starts at 300: event 3 comes back, with a new one at the same time.
            {"events": [event("3", 300), event("4", 300)]},
            {"events": []},
            {"events": [event("4", 300), event("5", 400)]},
        ]
    )
    sleeps: list[float] = []
    polls: list[int] = []
    followed = follow(
        fake,  # type: ignore[arg-type]
        "group",
        Query(Selection(), 50),
        poll_s=0.25,
        sleep=sleeps.append,
        before_poll=lambda: polls.append(len(fake.requests)),
    )
    seen = [e.event_id for e in take(followed, 5)]
    assert seen == ["1", "2", "3", "4", "5"]
    starts = [(r["startTime"], r.get("nextToken")) for r in fake.requests]
    assert starts == [(50, None), (50, "t"), (300, None), (300, None), (300, None)]
    assert sleeps == [0.25] * 3  # after each last page, never within a page run
    assert polls == [0, 2, 3, 4]  # before each fresh poll, not before a next page


def test_follow_applies_the_selection_client_side() -> None:
    fake = FakeLogs([{"events": [event("1", 1, level="INFO"), event("2", 2, level="ERROR")]}])
    followed = follow(
        fake,  # type: ignore[arg-type]
        "group",
        Query(Selection(level="ERROR"), 0),
        sleep=lambda _: None,
    )
    assert [e.event_id for e in take(followed, 1)] == ["2"]


def take(events: Iterator[Event], count: int) -> list[Event]:
    """The first ``count`` events of an endless iterator."""
    found = []
    for found_event in events:
        found.append(found_event)
        if len(found) == count:
            break
    return found


def test_a_missing_log_group_is_one_line() -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    class Gone:
        def filter_log_events(self, **_: Any) -> dict[str, Any]:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "gone"}},
                "FilterLogEvents",
            )

    with pytest.raises(DeliveryError, match="log group g does not exist"):
        list(logs.events(Gone(), "g", Query(Selection(), 0)))  # type: ignore[arg-type]


def test_json_output_is_the_record_as_it_is_and_leaves_plain_lines_out() -> None:
    record = '{"level":"INFO","message":"request","request_id":"r"}'
    assert render(Event(0, record + "\n", "1", "s"), raw=True) == record
    assert render(Event(0, "Booting worker", "1", "s"), raw=True) is None
    assert render(Event(0, "Booting worker", "1", "s"), raw=False) == "Booting worker"


def test_the_default_since_is_fifteen_minutes() -> None:
    assert query(now=NOW).start_ms == int((NOW - timedelta(minutes=15)).timestamp() * 1000)
