"""PutTraceSegments on the emulator keeps X-Ray's rules (delivery.strict_xray).

moto 5.2.5 stores any segment with the required keys. X-Ray requires a trace id
``1-<8 hex>-<24 hex>``, segment ids of 16 hex digits and a document of at most 64 kB
(https://docs.aws.amazon.com/xray/latest/api/API_PutTraceSegments.html,
https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html). The figures are
written out here, not imported: the test states AWS's rules on its own.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from delivery.emulator import Emulator

pytestmark = [pytest.mark.emulator]

REGION = "eu-north-1"
NOW = time.time()
TRACE = f"1-{int(NOW):08x}-{'a' * 24}"


def document(**changes: Any) -> str:
    segment = {
        "id": "0123456789abcdef",
        "trace_id": TRACE,
        "name": "app",
        "start_time": NOW - 1,
        "end_time": NOW,
        **changes,
    }
    return json.dumps(segment)


def put(documents: list[str]) -> list[dict[str, Any]]:
    client: Any = boto3.client("xray", region_name=REGION)
    answer = client.put_trace_segments(TraceSegmentDocuments=documents)
    return list(answer["UnprocessedTraceSegments"])


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"trace_id": "4efaaf4d1e8720b39541901950019ee5"}, "trace_id"),
        ({"trace_id": "1-4efaaf4d-1e8720b3"}, "trace_id"),
        ({"id": "123"}, "16 hexadecimal"),
        ({"parent_id": "not-hex-at-all!!"}, "16 hexadecimal"),
        ({"metadata": {"default": {"blob": "x" * (64 * 1024)}}}, "at most 65536"),
    ],
    ids=["w3c trace id", "short trace id", "short id", "bad parent id", "over 64 kB"],
)
def test_a_segment_x_ray_refuses_is_unprocessed(
    aws: Emulator, changes: dict[str, Any], said: str
) -> None:
    (unprocessed,) = put([document(**changes)])
    assert said in unprocessed["Message"]


def test_a_valid_segment_is_stored(aws: Emulator) -> None:
    assert put([document(parent_id="fedcba9876543210")]) == []
    client: Any = boto3.client("xray", region_name=REGION)
    traces = client.batch_get_traces(TraceIds=[TRACE])["Traces"]
    assert [trace["Id"] for trace in traces] == [TRACE]
