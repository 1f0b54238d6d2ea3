"""Tracing: trace id formats, W3C and X-Ray propagation in and out, sampling, the access line.

The app is built as in production with the spans going to an in-memory exporter; the access
lines are read from the app's own access log.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from flask import Flask
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from app.config import SAMPLERS, AppConfig, TracingConfig, load_config
from app.factory import create_app
from app.observability import trace_context, tracing
from app.observability.deferred_tracing import DeferredTracing
from tests.support.fresh_python import run_python
from tests.support.http_server import serving

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
XRAY_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
XRAY_ROOT_HEX = "5759e988bd862e3fe1be46a994272793"
ENDPOINT = "http://127.0.0.1:9"  # never reached: the tests export in memory


def traceparent(trace_id: str = TRACE_ID, parent: str = PARENT_ID, flags: str = "01") -> str:
    """A W3C traceparent header value."""
    return f"00-{trace_id}-{parent}-{flags}"


# --- the headers, without OpenTelemetry ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (traceparent(), TRACE_ID),
        (f"  {traceparent(flags='00')} ", TRACE_ID),
        # A later version may append fields; version 00 may not.
        (f"01-{TRACE_ID}-{PARENT_ID}-01-extra", TRACE_ID),
        (f"{traceparent()}-extra", None),
        (f"ff-{TRACE_ID}-{PARENT_ID}-01", None),
        (traceparent(trace_id=TRACE_ID.upper()), None),
        (traceparent(trace_id="0" * 32), None),
        (traceparent(parent="0" * 16), None),
        (traceparent(trace_id=TRACE_ID[:-1]), None),
        (traceparent(flags="1"), None),
        ("garbage", None),
        ("", None),
    ],
)
def test_traceparent_is_read_as_w3c_says(value: str, expected: str | None) -> None:
    assert trace_context.from_traceparent(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"Root={XRAY_ROOT}", XRAY_ROOT_HEX),
        # What the load balancer sends when the client brought its own header.
        (f"Self=1-67891234-12456789abcdef012345678;Root={XRAY_ROOT}", XRAY_ROOT_HEX),
        (f"Root={XRAY_ROOT};Parent=53995c3f42cd8ad8;Sampled=1", XRAY_ROOT_HEX),
        (f" Parent=53995c3f42cd8ad8 ; Root={XRAY_ROOT.upper().replace('X', 'x')}", XRAY_ROOT_HEX),
        ("Root=1-5759e988-bd862e3fe1be46a99427279", None),
        ("Root=2-5759e988-bd862e3fe1be46a994272793", None),
        ("Root=1-5759e988-bd862e3fe1be46a99427279z", None),
        ("Root=1-00000000-000000000000000000000000", None),
        ("Parent=53995c3f42cd8ad8;Sampled=1", None),
        ("", None),
    ],
)
def test_xray_header_root_is_read(value: str, expected: str | None) -> None:
    assert trace_context.from_xray_header(value) == expected


@pytest.mark.parametrize(
    ("value", "parent", "sampled"),
    [
        (f"Root={XRAY_ROOT};Parent=53995C3F42CD8AD8;Sampled=1", "53995c3f42cd8ad8", True),
        (f"Root={XRAY_ROOT};Parent=53995c3f42cd8ad8", "53995c3f42cd8ad8", False),
        (f"Root={XRAY_ROOT};Parent=53995c3f42cd8ad8;Sampled=0", "53995c3f42cd8ad8", False),
        # X-Ray's "sampling requested" or a malformed parent: the Root alone still counts.
        (f"Root={XRAY_ROOT};Parent=53995c3f42cd8ad8;Sampled=?", None, False),
        (f"Root={XRAY_ROOT};Parent=53995c3f", None, False),
        (f"Root={XRAY_ROOT};Parent=0000000000000000;Sampled=1", None, False),
        (f"Root={XRAY_ROOT};Lineage=a87bd80c:1|68fd508a:5", None, False),
    ],
)
def test_xray_header_parent_counts_only_when_aws_would_accept_it(
    value: str, parent: str | None, sampled: bool
) -> None:
    assert trace_context.parse_xray_header(value) == trace_context.XRayHeader(
        XRAY_ROOT_HEX, parent, sampled
    )


def test_xray_form_is_the_same_128_bits() -> None:
    assert trace_context.xray_trace_id(XRAY_ROOT_HEX) == XRAY_ROOT
    assert trace_context.from_xray_trace_id(trace_context.xray_trace_id(TRACE_ID)) == TRACE_ID


def test_incoming_trace_id_prefers_a_valid_traceparent() -> None:
    both = {"HTTP_TRACEPARENT": traceparent(), "HTTP_X_AMZN_TRACE_ID": f"Root={XRAY_ROOT}"}
    assert trace_context.incoming_trace_id(both) == TRACE_ID
    bad_w3c = {**both, "HTTP_TRACEPARENT": "nonsense"}
    assert trace_context.incoming_trace_id(bad_w3c) == XRAY_ROOT_HEX
    assert trace_context.incoming_trace_id({}) is None


# --- configuration ------------------------------------------------------------------------------


def test_tracing_is_on_iff_the_endpoint_is_set_and_the_sdk_not_disabled() -> None:
    assert load_config({}).tracing is None
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318/"}
    assert load_config({**endpoint, "OTEL_SDK_DISABLED": "TRUE"}).tracing is None
    config = load_config({**endpoint, "OTEL_SDK_DISABLED": "false", "APP_VERSION": "3.1.4"})
    assert config.tracing == TracingConfig(
        endpoint="http://localhost:4318",
        sampler="parentbased_traceidratio",
        sample_ratio=1.0,
        resource=(("service.name", "flask-fargate"), ("service.version", "3.1.4")),
    )
    assert config.tracing.traces_url == "http://localhost:4318/v1/traces"


def test_tracing_settings_are_read_from_the_standard_variables() -> None:
    tracing_config = load_config(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.05",
            "OTEL_SERVICE_NAME": "svc",
            # service.name/version here lose to OTEL_SERVICE_NAME and APP_VERSION.
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=dev, team=a%20b,service.name=x,"
            "service.version=0",
            "APP_VERSION": "2.0.0",
        }
    ).tracing
    assert tracing_config is not None
    assert (tracing_config.sampler, tracing_config.sample_ratio) == ("traceidratio", 0.05)
    assert dict(tracing_config.resource) == {
        "deployment.environment": "dev",
        "team": "a b",
        "service.name": "svc",
        "service.version": "2.0.0",
    }


ON = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}


@pytest.mark.parametrize(
    ("env", "name", "accepted"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT", "URL"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://h:1"}, "OTEL_EXPORTER_OTLP_ENDPOINT", "URL"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:99999"}, "OTEL_EXPORTER_OTLP_ENDPOINT", "URL"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h/?a=1"}, "OTEL_EXPORTER_OTLP_ENDPOINT", "URL"),
        ({**ON, "OTEL_TRACES_SAMPLER": "xray"}, "OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ({**ON, "OTEL_TRACES_SAMPLER_ARG": "5%"}, "OTEL_TRACES_SAMPLER_ARG", "from 0 to 1"),
        ({**ON, "OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG", "from 0 to 1"),
        ({**ON, "OTEL_TRACES_SAMPLER_ARG": "nan"}, "OTEL_TRACES_SAMPLER_ARG", "from 0 to 1"),
        ({**ON, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/"),
        ({**ON, "OTEL_RESOURCE_ATTRIBUTES": "dev"}, "OTEL_RESOURCE_ATTRIBUTES", "key=value"),
        ({**ON, "OTEL_RESOURCE_ATTRIBUTES": "=dev"}, "OTEL_RESOURCE_ATTRIBUTES", "key=value"),
        ({**ON, "OTEL_SERVICE_NAME": "a\nb"}, "OTEL_SERVICE_NAME", "printable"),
        ({"OTEL_SDK_DISABLED": "yes"}, "OTEL_SDK_DISABLED", "true, false"),
    ],
)
def test_bad_tracing_values_raise_one_line(env: dict[str, str], name: str, accepted: str) -> None:
    from app.config import ConfigError  # noqa: PLC0415

    with pytest.raises(ConfigError) as info:
        load_config(env)
    assert info.value.name == name
    assert "\n" not in str(info.value)
    assert accepted in str(info.value)


# --- the service, traced ------------------------------------------------------------------------


@dataclass
class Traced:
    """An app built with tracing on, its exporter and a way to read its access lines."""

    app: Flask
    exporter: InMemorySpanExporter
    provider: TracerProvider
    _writes: list[bytes]

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        """GET ``path`` through the whole service (middleware included)."""
        return self.app.test_client().get(path, headers=headers or {})

    def spans(self) -> list[ReadableSpan]:
        """The spans exported so far."""
        self.provider.force_flush()
        return list(self.exporter.get_finished_spans())

    def access_lines(self) -> list[dict[str, Any]]:
        """The access lines written so far."""
        self.app.extensions["flask_fargate"]["access_log"].flush()
        return [json.loads(line) for line in b"".join(self._writes).splitlines()]


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Traced]]:
    """Build traced apps from TracingConfig overrides; providers shut down, urllib restored."""
    built: list[Traced] = []

    def build(exporter: SpanExporter | None = None, **overrides: Any) -> Traced:
        config = replace(
            AppConfig(app_version="1.2.3", enable_failing_route=True),
            tracing=replace(TracingConfig(endpoint=ENDPOINT), **overrides),
        )
        memory = InMemorySpanExporter()
        app = create_app(config, span_exporter=exporter or memory)
        writes: list[bytes] = []
        monkeypatch.setattr(app.extensions["flask_fargate"]["access_log"], "_write", writes.append)
        result = Traced(app, memory, app.extensions["flask_fargate"]["tracer_provider"], writes)
        built.append(result)
        return result

    yield build
    for result in built:
        result.provider.shutdown()
    tracing.untrace_urllib()


def _hex(value: int, width: int = 32) -> str:
    return f"{value:0{width}x}"


def test_an_incoming_traceparent_continues_its_trace(traced: Callable[..., Traced]) -> None:
    service = traced()
    response = service.get("/", {"traceparent": traceparent()})
    (span,) = service.spans()
    assert _hex(span.context.trace_id) == TRACE_ID
    assert span.parent is not None
    assert _hex(span.parent.span_id, 16) == PARENT_ID
    # The response carries the trace: W3C traceresponse, this service's span as the parent.
    assert response.headers["traceresponse"] == traceparent(parent=_hex(span.context.span_id, 16))
    (line,) = service.access_lines()
    assert (line["trace_id"], line["xray_trace_id"]) == (
        TRACE_ID,
        "1-0af76519-16cd43dd8448eb211c80319c",
    )


def test_an_incoming_xray_header_continues_its_trace(traced: Callable[..., Traced]) -> None:
    service = traced()
    service.get("/", {"X-Amzn-Trace-Id": f"Root={XRAY_ROOT};Parent=53995c3f42cd8ad8;Sampled=1"})
    (span,) = service.spans()
    assert _hex(span.context.trace_id) == XRAY_ROOT_HEX
    assert span.parent is not None
    assert _hex(span.parent.span_id, 16) == "53995c3f42cd8ad8"
    assert service.access_lines()[0]["xray_trace_id"] == XRAY_ROOT


def test_the_load_balancers_root_without_parent_becomes_the_trace_id(
    traced: Callable[..., Traced],
) -> None:
    service = traced()
    service.get(
        "/", {"X-Amzn-Trace-Id": f"Self=1-67891234-12456789abcdef012345678;Root={XRAY_ROOT}"}
    )
    (span,) = service.spans()
    assert _hex(span.context.trace_id) == XRAY_ROOT_HEX
    assert span.parent is None  # no parent invented
    assert service.access_lines()[0]["trace_id"] == XRAY_ROOT_HEX


def test_traceparent_wins_over_the_xray_header_as_without_tracing(
    traced: Callable[..., Traced],
) -> None:
    service = traced()
    headers = {
        "traceparent": traceparent(),
        "X-Amzn-Trace-Id": f"Root={XRAY_ROOT};Parent=53995c3f42cd8ad8;Sampled=1",
    }
    service.get("/", headers)
    (span,) = service.spans()
    environ = {"HTTP_TRACEPARENT": headers["traceparent"], "HTTP_X_AMZN_TRACE_ID": XRAY_ROOT}
    assert _hex(span.context.trace_id) == trace_context.incoming_trace_id(environ) == TRACE_ID


def test_spans_are_named_by_route_and_carry_the_http_conventions(
    traced: Callable[..., Traced],
) -> None:
    service = traced()
    # As the load balancer forwards it: the client's address last in X-Forwarded-For.
    alb = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Forwarded-Proto": "https"}
    service.get("/version", {"User-Agent": "probe/1", **alb})
    service.get("/nope")
    service.get("/_test/fail")
    ok, missing, failed = service.spans()
    assert ok.name == "GET /version"
    assert ok.kind == SpanKind.SERVER
    assert dict(ok.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": "/version",
        "url.scheme": "https",
        "network.protocol.version": "1.1",
        "server.address": "localhost",
        "network.peer.address": "127.0.0.1",
        "client.address": "198.51.100.7",
        "user_agent.original": "probe/1",
        "http.route": "/version",
        "http.response.status_code": 200,
    }
    assert ok.status.status_code == StatusCode.UNSET
    # No route matched: the span keeps the method as its name (no unbounded path names).
    assert (missing.name, (missing.attributes or {})["http.response.status_code"]) == ("GET", 404)
    assert missing.status.status_code == StatusCode.UNSET
    assert failed.name == "GET /_test/fail"
    assert failed.status.status_code == StatusCode.ERROR


def test_a_new_trace_has_an_xray_id_and_the_service_resource(
    traced: Callable[..., Traced],
) -> None:
    service = traced(resource=(("service.name", "svc"), ("deployment.environment", "dev")))
    before = int(time.time())
    service.get("/")
    (span,) = service.spans()
    # X-Ray refuses trace ids whose first 32 bits are not a recent epoch second.
    assert before <= span.context.trace_id >> 96 <= int(time.time())
    assert span.resource.attributes["service.name"] == "svc"
    assert span.resource.attributes["deployment.environment"] == "dev"
    (line,) = service.access_lines()
    assert line["trace_id"] == _hex(span.context.trace_id)
    assert trace_context.from_xray_trace_id(line["xray_trace_id"]) == line["trace_id"]


def test_unsampled_and_untraced_requests_still_log_a_trace_id(
    traced: Callable[..., Traced],
) -> None:
    service = traced(sample_ratio=0.0)
    service.get("/")
    service.get("/health/ready", {"traceparent": traceparent()})  # sampled parent, never recorded
    service.get("/metrics")
    assert service.spans() == []
    lines = service.access_lines()
    assert len(lines) == 3
    assert all(trace_context.from_xray_trace_id(line["xray_trace_id"]) for line in lines)
    assert lines[1]["trace_id"] == TRACE_ID


def test_the_sampling_ratio_decides_by_trace_id(traced: Callable[..., Traced]) -> None:
    ratio = 0.25
    service = traced(sample_ratio=ratio)
    for _ in range(200):
        service.get("/")
    exported = {_hex(span.context.trace_id) for span in service.spans()}
    logged = [line["trace_id"] for line in service.access_lines()]
    # TraceIdRatioBased: sampled iff the id's low 64 bits fall below ratio * 2**64.
    bound = round(ratio * 2**64)
    assert exported == {t for t in logged if int(t, 16) & (2**64 - 1) < bound}
    assert 0 < len(exported) < len(logged)


@pytest.mark.parametrize(
    ("ratio", "flags", "recorded"),
    [(0.0, "01", True), (1.0, "00", False)],
)
def test_the_callers_sampling_decision_is_followed(
    traced: Callable[..., Traced], ratio: float, flags: str, recorded: bool
) -> None:
    service = traced(sample_ratio=ratio)
    service.get("/", {"traceparent": traceparent(flags=flags)})
    assert len(service.spans()) == int(recorded)
    assert service.access_lines()[0]["trace_id"] == TRACE_ID


def test_outbound_urllib_requests_carry_both_headers(traced: Callable[..., Traced]) -> None:
    received: list[dict[str, str]] = []

    class Downstream(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    service = traced()
    with serving(Downstream) as downstream:

        def call_out() -> str:
            with urllib.request.urlopen(downstream + "/x", timeout=5) as reply:
                return str(reply.status)

        service.app.add_url_rule("/_test/out", "out", call_out)
        service.get("/_test/out", {"traceparent": traceparent()})
    spans = {span.name: span for span in service.spans()}
    client, server = spans["GET"], spans["GET /_test/out"]
    assert client.parent is not None
    assert client.parent.span_id == server.context.span_id
    (headers,) = received
    client_id = _hex(client.context.span_id, 16)
    assert headers["traceparent"] == traceparent(parent=client_id)
    assert headers["x-amzn-trace-id"] == (
        f"Root=1-0af76519-16cd43dd8448eb211c80319c;Parent={client_id};Sampled=1"
    )


class _Failing(SpanExporter):
    """A collector that is never there."""

    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        raise ConnectionRefusedError("collector down")

    def shutdown(self) -> None:
        """Nothing to release."""


def test_a_failing_export_never_reaches_a_request(traced: Callable[..., Traced]) -> None:
    failing = _Failing()
    service = traced(exporter=failing)
    assert service.get("/").status_code == 200
    service.provider.force_flush()
    assert failing.calls == 1
    assert service.get("/").status_code == 200


class _Stuck(SpanExporter):
    """A collector that takes the processor's thread and does not give it back until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(30)
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.release.set()


def test_a_full_queue_drops_spans_with_one_log_line_not_one_per_span(
    traced: Callable[..., Traced],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
    stuck = _Stuck()
    service = traced(exporter=stuck)
    tracer = service.provider.get_tracer("test")
    try:
        tracer.start_span("first").end()
        tracer.start_span("second").end()  # a full batch wakes the thread, which gets stuck
        assert stuck.entered.wait(10)
        with caplog.at_level(logging.WARNING):
            for _ in range(50):
                tracer.start_span("dropped").end()
            assert service.get("/").status_code == 200
    finally:
        stuck.release.set()
    full = [r for r in caplog.records if "Queue full" in r.getMessage()]
    # The SDK logs a repeated message at most once per interval (its DuplicateFilter): a collector
    # that is down must not cost a log line per request on the request's thread.
    assert len(full) <= 1


def test_with_tracing_off_nothing_of_opentelemetry_is_imported() -> None:
    # A fresh interpreter: this test process has imported OpenTelemetry for the other tests.
    code = (
        "import sys; from app.config import load_config; from app.factory import create_app;"
        "app = create_app(load_config({}));"
        f"r = app.test_client().get('/', headers={{'traceparent': '{traceparent()}'}});"
        "assert r.status_code == 200;"
        "print('MODULES', sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    assert "MODULES []" in run_python(code).splitlines()


def test_with_tracing_off_the_access_line_has_the_incoming_trace_id(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    writes: list[bytes] = []
    monkeypatch.setattr(app.extensions["flask_fargate"]["access_log"], "_write", writes.append)
    client = app.test_client()
    client.get("/", headers={"traceparent": traceparent()})
    client.get("/", headers={"X-Amzn-Trace-Id": f"Root={XRAY_ROOT}"})
    client.get("/")
    app.extensions["flask_fargate"]["access_log"].flush()
    lines = [json.loads(line) for line in b"".join(writes).splitlines()]
    assert [(line["trace_id"], line["xray_trace_id"]) for line in lines] == [
        (TRACE_ID, "1-0af76519-16cd43dd8448eb211c80319c"),
        (XRAY_ROOT_HEX, XRAY_ROOT),
        (None, None),
    ]
    assert "traceresponse" not in client.get("/").headers


def test_the_trace_id_comes_from_the_span_else_the_headers() -> None:
    assert tracing.request_trace_id({"HTTP_X_AMZN_TRACE_ID": f"Root={XRAY_ROOT}"}) == XRAY_ROOT_HEX
    assert tracing.request_trace_id({}) is None


def test_urllibs_instrumentation_is_loaded_by_the_first_outbound_call() -> None:
    # A fresh interpreter: start-up must not import it; the first call must be traced.
    code = (
        "import sys, urllib.request\n"
        "from app.config import load_config\n"
        "from app.factory import create_app\n"
        "from tests.support.http_server import serving\n"
        "from http.server import BaseHTTPRequestHandler\n"
        "seen = []\n"
        "class H(BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        seen.append(self.headers.get('traceparent'))\n"
        "        self.send_response(204); self.end_headers()\n"
        "    def log_message(self, *a): pass\n"
        "env = {'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://127.0.0.1:9',"
        " 'OTEL_TRACES_SAMPLER': 'always_off'}\n"
        "app = create_app(load_config(env))\n"
        "loaded = lambda: 'opentelemetry.instrumentation.urllib' in sys.modules\n"
        "print('BEFORE', loaded())\n"
        "with serving(H) as url:\n"
        "    app.add_url_rule('/out', 'out', lambda: str(urllib.request.urlopen(url).status))\n"
        "    app.test_client().get('/out')\n"
        "print('AFTER', loaded(), seen[0] is not None)\n"
    )
    lines = run_python(code).splitlines()
    assert "BEFORE False" in lines
    assert "AFTER True True" in lines


def test_the_exporter_is_loaded_with_tracing_not_by_the_first_export() -> None:
    # Loaded by the first export, its import (~170 ms holding the GIL) stalled a serving worker.
    code = (
        "import sys\n"
        "from app.config import load_config\n"
        "from app.factory import create_app\n"
        "create_app(load_config({'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://127.0.0.1:9'}))\n"
        "print('LOADED', 'opentelemetry.exporter.otlp.proto.http' in sys.modules)\n"
    )
    assert "LOADED True" in run_python(code).splitlines()


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_the_configuration_accepts_is_built(name: str) -> None:
    built = tracing.sampler(TracingConfig(endpoint=ENDPOINT, sampler=name, sample_ratio=0.5))
    description = built.get_description()
    assert description.startswith("SkipPaths{")
    assert ("TraceIdRatioBased{0.5}" in description) == name.endswith("traceidratio")
    assert description.startswith("SkipPaths{ParentBased") == name.startswith("parentbased")


def test_deferred_tracing_serves_untraced_until_installed_then_traces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gunicorn entry's way (app.wsgi): tracing arrives on a thread, after the first answer."""
    release = threading.Event()
    real_traced = tracing.traced

    def held_traced(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(10), "the test never released the install"
        return real_traced(*args, **kwargs)

    monkeypatch.setattr(tracing, "traced", held_traced)
    memory = InMemorySpanExporter()
    config = replace(AppConfig(app_version="1.2.3"), tracing=TracingConfig(endpoint=ENDPOINT))
    app = create_app(config, span_exporter=memory, defer_tracing=True)
    extensions = app.extensions["flask_fargate"]
    writes: list[bytes] = []
    monkeypatch.setattr(extensions["access_log"], "_write", writes.append)
    client = app.test_client()
    try:
        # Before the install: served untraced, the access line still has the incoming trace id.
        first = client.get("/", headers={"traceparent": traceparent(), "X-Request-ID": "r1"})
        assert first.status_code == 200
        assert "traceresponse" not in first.headers
        assert app.extensions["flask_fargate"]["tracer_provider"] is None
        release.set()
        assert extensions["tracing_installed"].wait(10)
        second = client.get("/", headers={"traceparent": traceparent(), "X-Request-ID": "r2"})
        assert "traceresponse" in second.headers
        provider: TracerProvider = extensions["tracer_provider"]
        provider.force_flush()
        (span,) = memory.get_finished_spans()
        assert _hex(span.context.trace_id) == TRACE_ID
        extensions["access_log"].flush()
        lines = {
            line["request_id"]: line for line in map(json.loads, b"".join(writes).splitlines())
        }
        assert lines["r1"]["trace_id"] == lines["r2"]["trace_id"] == TRACE_ID
    finally:
        release.set()
        if extensions["tracer_provider"] is not None:
            extensions["tracer_provider"].shutdown()
        tracing.untrace_urllib()


def test_a_worker_whose_tracing_fails_to_install_serves_untraced_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(app: Any) -> Any:
        raise ImportError("no opentelemetry here")

    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"ok"]

    def start_response(*_: Any) -> Any:
        return None

    deferred = DeferredTracing(app, broken)
    with caplog.at_level(logging.ERROR, logger="app.observability.deferred_tracing"):
        thread = deferred.start()
        assert list(deferred({"PATH_INFO": "/"}, start_response)) == [b"ok"]
        thread.join(10)
    assert not thread.is_alive()
    assert not deferred.installed.is_set()
    assert "tracing could not be installed" in caplog.text
    assert list(deferred({"PATH_INFO": "/x"}, start_response)) == [b"ok"]
    assert calls == ["/", "/x"]
    assert deferred.trace_id({"HTTP_TRACEPARENT": traceparent()}) == TRACE_ID


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_at_exit_a_worker_that_never_exported_drops_its_spans_when_no_collector_answers() -> None:
    """The worker's final export would otherwise sit out the exporter's retries against a dead
    collector (the SDK joins its thread up to 30 s): a worker whose spans were all still queued
    when it stopped exited after 30 s."""
    exporter = tracing.CollectorExporter(f"http://127.0.0.1:{_free_port()}/v1/traces")
    exporter.stop_if_not_answering()  # nothing was ever exported: the collector is probed
    started = time.monotonic()
    assert exporter.export([]) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 0.1  # no exporter built, no retries
    assert exporter._exporter is None


def test_at_exit_a_collector_that_takes_connections_gets_the_final_export() -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"http://127.0.0.1:{listening.getsockname()[1]}/v1/traces"
        exporter = tracing.CollectorExporter(url)
        exporter.stop_if_not_answering()
        assert not exporter._shut_down  # the SDK's shutdown exports what is queued
