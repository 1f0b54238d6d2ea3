"""PutLogEvents' batch limits on the emulator (delivery.strict_moto), and shipping within them.

moto 5.2.5 checks a batch's order and its events' age only. CloudWatch Logs refuses a batch of
more than 10,000 events, of more than 1,048,576 bytes (message bytes + 26 each), spanning more
than 24 hours, and an empty message
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html).
The figures are written out here, not imported: the test states AWS's numbers on its own.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from delivery.emulator import Emulator
from delivery.local.log_shipping import ship

pytestmark = [pytest.mark.emulator]

REGION = "eu-north-1"
GROUP = "batches"
STREAM = "app/app/t"


@pytest.fixture
def logs(aws: Emulator) -> Any:
    client = boto3.client("logs", region_name=REGION)
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    return client


def put(client: Any, events: list[dict[str, Any]]) -> None:
    client.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=events)


NOW = int(time.time() * 1000)


@pytest.mark.parametrize(
    ("events", "said"),
    [
        ([{"timestamp": NOW, "message": "x"}] * 10_001, "at most 10000"),
        ([{"timestamp": NOW, "message": "x" * 100_000}] * 11, "Upload too large"),
        (
            [
                {"timestamp": NOW - 24 * 3600 * 1000 - 1, "message": "a"},
                {"timestamp": NOW, "message": "b"},
            ],
            "cannot span more than 24 hours",
        ),
    ],
    ids=["10001 events", "over a megabyte", "over a day"],
)
def test_a_batch_beyond_aws_limits_is_refused(
    logs: Any, events: list[dict[str, Any]], said: str
) -> None:
    with pytest.raises(ClientError) as info:
        put(logs, events)
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
    assert said in info.value.response["Error"]["Message"]


def test_a_batch_at_the_limits_is_taken(logs: Any) -> None:
    put(logs, [{"timestamp": NOW, "message": "x"}] * 10_000)
    put(logs, [{"timestamp": NOW, "message": "x" * (1_048_576 // 10 - 26)}] * 10)


def test_shipping_many_and_large_lines_keeps_within_the_limits(logs: Any) -> None:
    lines = [f"line {n}" for n in range(12_000)] + ["y" * 200_000] * 8
    assert ship(lines, group=GROUP, stream=STREAM, region=REGION) == len(lines)
