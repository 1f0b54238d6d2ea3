"""Shipping output lines as PutLogEvents batches: within AWS's limits, which moto does not check.

The limits (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/
API_PutLogEvents.html): at most 10,000 events and 1,048,576 bytes (message bytes + 26 each) per
batch, in chronological order, spanning at most 24 hours; no empty message.
"""

from __future__ import annotations

import json

from delivery.local.log_shipping import batches, events
from delivery.log_limits import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    MAX_SPAN_MS,
)

NOW = 1_700_000_000_000


def within_limits(batch: list[dict[str, object]]) -> None:
    stamps = [int(str(e["timestamp"])) for e in batch]
    assert 0 < len(batch) <= MAX_BATCH_EVENTS
    size = sum(len(str(e["message"]).encode()) + EVENT_OVERHEAD_BYTES for e in batch)
    assert size <= MAX_BATCH_BYTES
    assert stamps == sorted(stamps)
    assert stamps[-1] - stamps[0] <= MAX_SPAN_MS
    assert all(e["message"] for e in batch)


def test_each_line_is_one_event_at_its_record_s_own_time_else_now() -> None:
    lines = [
        json.dumps({"timestamp": "2023-11-14T22:13:21.000Z", "message": "later"}),
        "[INFO] plain line\n",
        "",
        "   ",
        json.dumps({"timestamp": "2023-11-14T22:13:19.000Z", "message": "earlier"}),
    ]
    found = events(lines, NOW + 5000)
    assert [(e["timestamp"], json.loads(e["message"])["message"]) for e in found[:2]] == [
        (NOW - 1000, "earlier"),
        (NOW + 1000, "later"),
    ]
    assert found[2] == {"timestamp": NOW + 5000, "message": "[INFO] plain line"}
    assert len(found) == 3  # empty lines are no events


def test_many_lines_are_cut_into_batches_of_at_most_ten_thousand() -> None:
    found = list(batches(events([f"line {n}" for n in range(25_001)], NOW)))
    assert [len(b) for b in found] == [10_000, 10_000, 5_001]
    for batch in found:
        within_limits(batch)  # type: ignore[arg-type]


def test_large_lines_are_cut_into_batches_within_a_megabyte() -> None:
    line = "x" * 100_000
    found = list(batches(events([line] * 25, NOW)))
    assert sum(len(b) for b in found) == 25
    assert len(found) == 3  # 10 lines (1,000,260 bytes) fit a batch, 11 do not
    for batch in found:
        within_limits(batch)  # type: ignore[arg-type]


def test_a_line_larger_than_an_event_is_cut_to_one() -> None:
    (event,) = events(["é" * MAX_EVENT_BYTES], NOW)
    data = event["message"].encode()
    assert len(data) <= MAX_EVENT_BYTES
    assert len(data) >= MAX_EVENT_BYTES - 1  # cut on a character boundary, not short of it


def test_a_batch_never_spans_more_than_a_day() -> None:
    times = ["2023-11-14T00:00:00.000Z", "2023-11-15T00:00:00.000Z", "2023-11-15T00:00:00.001Z"]
    found = list(batches(events([json.dumps({"timestamp": t}) for t in times], NOW)))
    assert (
        [[json.loads(e["message"])["timestamp"] for e in b] for b in found]
        == [
            times[:2],  # exactly 24 hours apart: one batch
            times[2:],  # a millisecond more: the next
        ]
    )
    for batch in found:
        within_limits(batch)  # type: ignore[arg-type]
