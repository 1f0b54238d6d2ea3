"""X-Ray's PutTraceSegments on the emulator, as strict as X-Ray where moto is kinder.

moto 5.2.5 stores any segment document with an ``id``, a ``name``, a ``trace_id``, a
``start_time`` and an ``end_time`` (or ``in_progress``), whatever their form or size. X-Ray
requires (https://docs.aws.amazon.com/xray/latest/api/API_PutTraceSegments.html and
https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html):

- a ``trace_id`` of three parts, ``1-<8 hex digits>-<24 hex digits>`` (a W3C trace id "must be
  formatted in the X-Ray trace ID format when sending to X-Ray"; the time part is "not required
  or validated", so it is not checked here either);
- an ``id`` (and a ``parent_id``, when there is one) of 16 hexadecimal digits;
- a document of at most 64 kB ("A segment document can be up to 64 kB").

Here a document that breaks one of these is not stored and comes back in
``UnprocessedTraceSegments`` with a message naming the rule, as moto reports its own refusals
(X-Ray's own error codes for these cases are not documented: the codes here are moto's style).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from moto.xray.exceptions import BadSegmentException
from moto.xray.models import XRayBackend

MAX_DOCUMENT_BYTES = 64 * 1024
TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
SEGMENT_ID = re.compile(r"^[0-9a-f]{16}$")


def check(document: str) -> None:
    """X-Ray's rules for one segment document (module docstring); BadSegmentException if broken."""
    size = len(document.encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES:
        raise BadSegmentException(
            code="InvalidSegment",
            message=f"segment document of {size} bytes: at most {MAX_DOCUMENT_BYTES}",
        )
    try:
        data = json.loads(document)
    except ValueError:
        return  # moto's own check answers this
    if not isinstance(data, dict):
        return
    segment_id = data.get("id")
    trace_id = data.get("trace_id")
    if trace_id is not None and not TRACE_ID.match(str(trace_id)):
        raise BadSegmentException(
            seg_id=segment_id,
            code="InvalidTraceId",
            message=f"trace_id {trace_id!r} is not 1-<8 hex>-<24 hex>",
        )
    for key in ("id", "parent_id"):
        value = data.get(key)
        if value is not None and not SEGMENT_ID.match(str(value)):
            raise BadSegmentException(
                seg_id=segment_id,
                code="InvalidSegmentId",
                message=f"{key} {value!r} is not 16 hexadecimal digits",
            )


def _checked(process: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    def process_segment(self: Any, doc: Any) -> None:
        check(str(doc))
        process(self, doc)

    return process_segment


def install() -> None:
    """Patch moto's X-Ray backend in this process (before the server starts)."""
    XRayBackend.process_segment = _checked(XRayBackend.process_segment)  # type: ignore[method-assign,assignment]
