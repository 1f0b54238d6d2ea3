"""A request's incoming trace id, read from its headers without OpenTelemetry.

Two headers carry a trace id into the service:

- W3C ``traceparent``: ``<version>-<32 hex trace id>-<16 hex parent id>-<2 hex flags>``
  (https://www.w3.org/TR/trace-context/#traceparent-header);
- AWS X-Ray ``X-Amzn-Trace-Id``: ``Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>``,
  in any order, other keys allowed. The load balancer adds ``Root`` (and ``Self``) but no
  ``Parent`` (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-request-tracing.html).

The X-Ray form of a trace id is the same 128 bits as the W3C form, split after the first
8 hex digits (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html#xray-api-traceids).

This module is what the access line uses when tracing is off, and what tracing falls back to for
a request it made no span for; it is also the one home of the X-Ray id format. It imports
nothing of OpenTelemetry, so the service pays nothing for it when tracing is off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TRACEPARENT_ENVIRON = "HTTP_TRACEPARENT"
XRAY_ENVIRON = "HTTP_X_AMZN_TRACE_ID"
XRAY_HEADER = "X-Amzn-Trace-Id"
_HEX = frozenset("0123456789abcdef")
_INVALID_TRACE_ID = "0" * 32
# "Root=1-" + 8 + "-" + 24
_ROOT_PREFIX = "Root="
_XRAY_ID_LENGTH = 35


def _is_trace_id(value: str) -> bool:
    return len(value) == 32 and _HEX.issuperset(value) and value != _INVALID_TRACE_ID


def from_traceparent(value: str) -> str | None:
    """The trace id (32 lowercase hex) of a valid ``traceparent`` header value, else None.

    Follows the W3C rules a receiver applies: version ``ff`` is invalid, version ``00`` has
    exactly four fields, a later version may append fields; ids are lowercase hex, not all zero.
    """
    parts = value.strip().split("-")
    if len(parts) < 4:
        return None
    version, trace_id, parent_id, flags = parts[:4]
    if len(version) != 2 or not _HEX.issuperset(version) or version == "ff":
        return None
    if version == "00" and len(parts) != 4:
        return None
    if len(parent_id) != 16 or not _HEX.issuperset(parent_id) or parent_id == "0" * 16:
        return None
    if len(flags) != 2 or not _HEX.issuperset(flags):
        return None
    return trace_id if _is_trace_id(trace_id) else None


def from_xray_header(value: str) -> str | None:
    """The trace id (32 lowercase hex) of an ``X-Amzn-Trace-Id`` value's ``Root``, else None."""
    for raw_pair in value.split(";"):
        pair = raw_pair.strip()
        if pair.startswith(_ROOT_PREFIX):
            return from_xray_trace_id(pair[len(_ROOT_PREFIX) :])
    return None


def from_xray_trace_id(value: str) -> str | None:
    """``1-<8 hex>-<24 hex>`` as a 32-hex trace id, or None if it is not that shape."""
    if len(value) != _XRAY_ID_LENGTH or not value.startswith("1-") or value[10] != "-":
        return None
    # X-Ray writes lowercase; int(..., 16) in the X-Ray propagator accepts either case.
    trace_id = (value[2:10] + value[11:]).lower()
    return trace_id if _is_trace_id(trace_id) else None


def incoming_trace_id(environ: Mapping[str, Any]) -> str | None:
    """The trace id a request brought: ``traceparent`` first, else the X-Ray ``Root``, else None.

    The same precedence as the tracing propagators (app.observability.tracing), so a request's
    trace id is the same whether tracing is on or off.
    """
    traceparent = environ.get(TRACEPARENT_ENVIRON)
    if traceparent is not None:
        trace_id = from_traceparent(traceparent)
        if trace_id is not None:
            return trace_id
    xray = environ.get(XRAY_ENVIRON)
    if xray is not None:
        return from_xray_header(xray)
    return None


def xray_trace_id(trace_id: str) -> str:
    """The X-Ray form ``1-<8 hex>-<24 hex>`` of a 32-hex trace id."""
    return f"1-{trace_id[:8]}-{trace_id[8:]}"
