"""OTLP/HTTP trace export requests shaped like the Flask instrumentation's, for the collector's
tests: one server span for ``GET /`` with a remote parent (the traceparent a client sent)."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

PARENT_ID = bytes.fromhex("53995c3f42cd8ad8")
SPAN_ID = bytes.fromhex("0102030405060708")
IDENTIFIER = "1e8720b39541901950019ee5"  # the 96 random bits of the trace id


def trace_id(epoch: int) -> bytes:
    """An X-Ray-compatible W3C trace id: its first 4 bytes are ``epoch`` (AwsXRayIdGenerator)."""
    return bytes.fromhex(f"{epoch:08x}{IDENTIFIER}")


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    return AnyValue(string_value=str(value))


def _attributes(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_value(v)) for k, v in values.items()]


def request_payload(
    epoch: int,
    status: int = 200,
    code: Status.StatusCode.ValueType = Status.STATUS_CODE_UNSET,
) -> bytes:
    """An export request of one ``GET /`` server span that started at ``epoch`` - 1 and took
    2.5 ms, answering ``status``, its span status ``code``."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        _attributes({"service.name": "flask-fargate", "service.version": "1.2.3"})
    )
    span = resource_spans.scope_spans.add().spans.add()
    span.trace_id = trace_id(epoch - 5)
    span.span_id = SPAN_ID
    span.parent_span_id = PARENT_ID
    span.name = "GET /"
    span.kind = Span.SPAN_KIND_SERVER
    span.start_time_unix_nano = (epoch - 1) * 10**9
    span.end_time_unix_nano = (epoch - 1) * 10**9 + 2_500_000
    span.status.code = code
    span.attributes.extend(
        _attributes(
            {
                "http.method": "GET",
                "http.scheme": "http",
                "http.host": "127.0.0.1:8000",
                "http.target": "/",
                "http.status_code": status,
                "http.user_agent": "curl/8",
                "http.route": "/",
            }
        )
    )
    return request.SerializeToString()
