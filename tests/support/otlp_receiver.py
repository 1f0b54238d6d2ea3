"""A tiny OTLP/HTTP trace receiver on 127.0.0.1, in a thread: what a collector's ``otlp``
receiver (protocols.http) accepts, decoded with opentelemetry-proto.

It answers ``POST /v1/traces`` (``application/x-protobuf``, optionally gzip) with an empty
``ExportTraceServiceResponse`` and keeps every span it was sent. Use::

    with receiving() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        ...
        span = receiver.wait_for_span(lambda s: s.trace_id == trace_id, timeout=30)
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.support.http_server import serving

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as a collector received it (ids as lowercase hex)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    attributes: dict[str, object]
    resource: dict[str, object]


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


@dataclass
class Receiver:
    """What the receiver got; its ``endpoint`` is the value for OTEL_EXPORTER_OTLP_ENDPOINT."""

    endpoint: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def add(self, body: bytes) -> None:
        """Decode one export request and keep its spans."""
        request = ExportTraceServiceRequest.FromString(body)
        spans: list[ReceivedSpan] = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                spans.extend(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=span.kind,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        resource=resource,
                    )
                    for span in scope_spans.spans
                )
        with self._changed:
            self.requests += 1
            self.spans.extend(spans)
            self._changed.notify_all()

    def wait_for_span(
        self, matches: Callable[[ReceivedSpan], bool], timeout: float
    ) -> ReceivedSpan:
        """The first received span that ``matches``, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for span in self.spans:
                    if matches(span):
                        return span
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    names = [(s.name, s.trace_id) for s in self.spans]
                    raise AssertionError(f"no matching span within {timeout} s; got {names}")
                self._changed.wait(remaining)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class OtlpHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != TRACES_PATH:
                self.send_error(404)
                return
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            receiver.add(body)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test's output is the service's."""

    return OtlpHandler


@contextlib.contextmanager
def receiving() -> Iterator[Receiver]:
    """An OTLP/HTTP trace receiver on a free 127.0.0.1 port, for the ``with`` block."""
    receiver = Receiver()
    with serving(_handler(receiver)) as base:
        receiver.endpoint = base
        yield receiver
