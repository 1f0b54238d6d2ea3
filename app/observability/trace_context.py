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
from typing import Any, NamedTuple

TRACEPARENT_ENVIRON = "HTTP_TRACEPARENT"
XRAY_ENVIRON = "HTTP_X_AMZN_TRACE_ID"
XRAY_HEADER = "X-Amzn-Trace-Id"
_HEX = frozenset("0123456789abcdef")
_INVALID_TRACE_ID = "0" * 32
_XRAY_ID_LENGTH = 35  # "1-" + 8 + "-" + 24


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
    parsed = parse_xray_header(value)
    return None if parsed is None else parsed.trace_id


class XRayHeader(NamedTuple):
    """What an ``X-Amzn-Trace-Id`` header says: its trace, and its parent if it names one."""

    trace_id: str  # 32 lowercase hex
    parent_id: str | None  # 16 lowercase hex; None: a Root alone (the load balancer's)
    sampled: bool


def parse_xray_header(value: str) -> XRayHeader | None:
    """Read an ``X-Amzn-Trace-Id`` value; None without a valid ``Root``.

    A ``Parent`` counts only if it is 16 hex digits (not all zero) and ``Sampled``, if present,
    is ``0`` or ``1``, as AWS's X-Ray propagator requires; otherwise the header still gives its
    ``Root`` as the trace id, with no parent.
    """
    trace_id = parent = sampled = None
    for raw_pair in value.split(";"):
        key, _, field_value = raw_pair.partition("=")
        key = key.strip()
        if key == "Root":
            trace_id = from_xray_trace_id(field_value.strip())
        elif key == "Parent":
            parent = field_value.strip().lower()
        elif key == "Sampled":
            sampled = field_value.strip()
    if trace_id is None:
        return None
    valid_parent = (
        parent is not None
        and len(parent) == 16
        and _HEX.issuperset(parent)
        and parent != "0" * 16
        and sampled in {None, "0", "1"}
    )
    if not valid_parent:
        return XRayHeader(trace_id, None, False)
    return XRayHeader(trace_id, parent, sampled == "1")


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
