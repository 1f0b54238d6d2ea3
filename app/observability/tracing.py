"""Request tracing with OpenTelemetry, exported over OTLP/HTTP to the collector beside the app.

Imported only when tracing is on (``AppConfig.tracing``, see app.config): with tracing off,
nothing of OpenTelemetry is loaded. What is built here, per process:

- a TracerProvider whose resource is the service's (service.name, service.version,
  OTEL_RESOURCE_ATTRIBUTES), whose sampler is the configured one (OTEL_TRACES_SAMPLER/_ARG),
  never recording the health checks and the metrics scrape, and whose ids X-Ray accepts
  (AwsXRayIdGenerator: the first 32 bits are the epoch second);
- a BatchSpanProcessor (bounded queue, its own thread) exporting OTLP/HTTP protobuf to
  ``<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces`` (:class:`CollectorExporter`). A collector that is
  down costs failed exports on that thread and dropped spans, never a request;
- propagation of W3C ``traceparent`` and AWS X-Ray ``X-Amzn-Trace-Id``, in and out;
- a span per inbound request (:class:`TracingMiddleware`) and urllib's instrumentation
  (opentelemetry-instrumentation-urllib) for outbound calls, loaded on the first one
  (:func:`trace_urllib`).

The processor's thread starts when tracing is installed: under gunicorn that is in each worker,
after the fork (app.gunicorn_conf never preloads the app), never in the master, just after the
worker's first answer (app.observability.deferred_tracing).
"""

from __future__ import annotations

import atexit
import functools
import logging
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import OpenerDirector

from flask import Flask
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import set_global_textmap
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import CarrierT, Getter, default_getter
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from app.config import TracingConfig
from app.observability.trace_context import (
    TRACEPARENT_ENVIRON,
    XRAY_ENVIRON,
    XRAY_HEADER,
    incoming_trace_id,
    parse_xray_header,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

# Asked for every few seconds by the load balancer and every minute by the collector's scrape:
# a trace of them says nothing and costs X-Ray's per-trace price. They still get a trace id.
UNTRACED_PATHS = frozenset({"/health", "/health/ready", "/metrics"})
# Attribute names of OpenTelemetry's (stable) HTTP server conventions
# (https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-server), which the
# collector's awsxray exporter turns into the segment's http block (method, URL, status, client,
# user agent; opentelemetry-collector-contrib,
# exporter/awsxrayexporter/internal/translator/http.go).
METHOD = "http.request.method"
PATH = "url.path"
ROUTE = "http.route"
STATUS = "http.response.status_code"
# Where the request's trace id (32 hex) is left in the WSGI environ, for the access line.
TRACE_ID_ENVIRON_KEY = "flask_fargate.trace_id"
TRACERESPONSE_HEADER = "traceresponse"
# How each process's log says that its requests are traced from now on (followed by the URL).
TRACING_ON = "tracing: on, spans go to "
# The trace id of an X-Amzn-Trace-Id that has a Root but no Parent (what the load balancer sends).
_XRAY_ROOT_KEY = otel_context.create_key("flask_fargate.xray_root")
# The trace id TracingMiddleware chose for a sampled request that starts a trace (XRayIdGenerator).
_NEW_TRACE_ID_KEY = otel_context.create_key("flask_fargate.new_trace_id")

_install_lock = threading.Lock()
_global_provider_set = False


class SkipPaths(Sampler):
    """Never record requests for ``paths``; leave every other decision to ``sampler``."""

    def __init__(self, sampler: Sampler, paths: frozenset[str] = UNTRACED_PATHS) -> None:
        self._sampler = sampler
        self._paths = paths

    def should_sample(  # noqa: PLR0917 - the SDK's signature
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        """DROP for an untraced path, else whatever the wrapped sampler decides."""
        if attributes and attributes.get(PATH) in self._paths:
            # The parent's trace state carries on, as with every sampler of the SDK.
            parent = trace.get_current_span(parent_context).get_span_context()
            return SamplingResult(Decision.DROP, trace_state=parent.trace_state)
        return self._sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        """Named like the SDK's samplers."""
        return f"SkipPaths{{{self._sampler.get_description()}}}"


def sampler(config: TracingConfig) -> Sampler:
    """The sampler OTEL_TRACES_SAMPLER names, with OTEL_TRACES_SAMPLER_ARG as its ratio."""
    ratio = TraceIdRatioBased(config.sample_ratio)
    roots: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": ratio,
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(ratio),
    }
    return SkipPaths(roots[config.sampler])


# TraceIdRatioBased decides on a trace id's low 64 bits.
_LOW_64_BITS = TraceIdRatioBased.TRACE_ID_LIMIT
_NEVER, _ALWAYS = 0, TraceIdRatioBased.TRACE_ID_LIMIT + 1


@dataclass(frozen=True, slots=True)
class SamplingRule:
    """What :func:`sampler` decides for a request, as plain arithmetic the middleware applies.

    The SDK's samplers decide through several objects per request (a SamplingResult, parent
    lookups, a SpanContext), which is most of what tracing costs an unsampled request. This rule
    decides the same, decision for decision (tested against :func:`sampler`): an untraced path
    is never sampled; a ``parentbased_*`` sampler follows a valid parent's sampled flag; else
    the trace id decides as TraceIdRatioBased does, sampled iff its low 64 bits are below
    ``bound`` (always_on: 2**64, always_off: 0).
    """

    bound: int
    follows_parent: bool
    untraced: frozenset[str] = UNTRACED_PATHS

    @classmethod
    def of(cls, config: TracingConfig) -> SamplingRule:
        """The rule of the sampler ``config`` names."""
        root = config.sampler.removeprefix("parentbased_")
        bound = {
            "always_on": _ALWAYS,
            "always_off": _NEVER,
            "traceidratio": TraceIdRatioBased.get_bound_for_rate(config.sample_ratio),
        }[root]
        return cls(bound, config.sampler.startswith("parentbased_"))

    def sampled(self, path: str, trace_id: int, parent_sampled: bool | None) -> bool:
        """Whether a request for ``path`` in trace ``trace_id`` is sampled.

        Args:
            path: the request's path.
            trace_id: the parent's trace id, else the new trace's.
            parent_sampled: the valid parent's sampled flag; None without a valid parent.
        """
        if path in self.untraced:
            return False
        if parent_sampled is not None and self.follows_parent:
            return parent_sampled
        return trace_id & _LOW_64_BITS < self.bound


class XRayPropagator(AwsXRayPropagator):
    """AWS's X-Ray propagator, reading the header as app.observability.trace_context does, and
    keeping a ``Root`` that comes without a ``Parent``.

    The load balancer adds ``X-Amzn-Trace-Id: Root=...`` with no ``Parent``; AWS's propagator
    then extracts nothing, and the request would start an unrelated trace. Here the root's trace
    id is kept in the context, and :class:`XRayIdGenerator` gives it to the request's span: the
    trace continues the load balancer's id, with no invented parent. Injecting is AWS's.
    """

    def extract(
        self,
        carrier: CarrierT,
        context: otel_context.Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> otel_context.Context:
        """The context with the header's parent span, or its parentless root, or unchanged."""
        if context is None:
            context = otel_context.Context()
        values = getter.get(carrier, XRAY_HEADER)
        if not values or len(values) != 1:
            return context
        parent, root = read_xray_header(values[0])
        if parent is not None:
            return trace.set_span_in_context(trace.NonRecordingSpan(parent), context)
        if root is not None:
            return otel_context.set_value(_XRAY_ROOT_KEY, root, context)
        return context


def read_xray_header(value: str) -> tuple[trace.SpanContext | None, int | None]:
    """What an ``X-Amzn-Trace-Id`` value gives a request: its remote parent's span context, or
    else the trace id of a ``Root`` that came without a parent, or neither (a malformed value).
    """
    header = parse_xray_header(value)
    if header is None:
        return None, None
    trace_id = int(header.trace_id, 16)
    if header.parent_id is None:
        return None, trace_id
    flags = trace.TraceFlags(trace.TraceFlags.SAMPLED if header.sampled else 0)
    return trace.SpanContext(trace_id, int(header.parent_id, 16), True, flags), None


class XRayIdGenerator(AwsXRayIdGenerator):
    """X-Ray-compatible ids; a new trace takes the id :class:`TracingMiddleware` chose for it.

    The SDK asks for a trace id only for a span without a valid parent. The middleware has
    chosen that id already, to decide on it (the load balancer's parentless ``Root``, see
    :class:`XRayPropagator`, or a new X-Ray-compatible id), and leaves it in the current context
    for the SDK to take here: the decision and the span are about the same id.
    """

    def generate_trace_id(self) -> int:
        """The trace id chosen for the new trace, else a new X-Ray-compatible id."""
        chosen = otel_context.get_value(_NEW_TRACE_ID_KEY)
        if isinstance(chosen, int):
            return chosen
        return self.new_trace_id()

    def new_trace_id(self) -> int:
        """A new X-Ray-compatible trace id (the first 32 bits are the epoch second)."""
        return super().generate_trace_id()


# X-Ray first, W3C second: the last propagator that finds a parent wins, so a W3C
# traceparent takes precedence, as in app.observability.trace_context.incoming_trace_id.
PROPAGATOR = CompositePropagator([XRayPropagator(), TraceContextTextMapPropagator()])


# At exit, how long a collector that may be down is given to take a connection (loopback: it
# answers in microseconds when it is up).
EXIT_PROBE_S = 0.5


class CollectorExporter(SpanExporter):
    """OpenTelemetry's OTLP/HTTP protobuf span exporter, to the collector beside the app, with an
    exit that does not wait on a collector that is down (:meth:`stop_if_not_answering`).

    The exporter is imported (requests, protobuf: ~170 ms of CPU, holding the GIL) by
    :meth:`load`, which :func:`build_provider` calls: under gunicorn that runs on the worker's
    tracing-install thread, after its first answer and before the load balancer sends it any
    traffic (app.observability.deferred_tracing). Imported on the first export instead, it
    stalled every request of the worker for that long, a few seconds into serving. Everything
    but the URL (timeout, headers, compression) the exporter reads from OpenTelemetry's
    standard variables itself.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._exporter: SpanExporter | None = None
        self._lock = threading.Lock()
        # False while an export is under way or after one failed: the collector is not answering.
        self._answering = True
        self._shut_down = False

    def load(self) -> None:
        """Import and build the exporter now (else the first export does)."""
        self._get()

    def _get(self) -> SpanExporter:
        with self._lock:
            if self._exporter is None:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415 - only when tracing is on
                    OTLPSpanExporter,
                )

                self._exporter = OTLPSpanExporter(endpoint=self.url)
            return self._exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send ``spans`` to the collector (the exporter retries, within its timeout)."""
        if self._shut_down:
            return SpanExportResult.FAILURE
        exporter = self._get()
        self._answering = False
        result = exporter.export(spans)
        self._answering = result is SpanExportResult.SUCCESS
        return result

    def stop_if_not_answering(self) -> None:
        """At exit: stop retrying a collector that is not answering, and drop what is left.

        Otherwise the SDK's shutdown would sit out the exporter's retries (its timeout, 10 s by
        default) batch after batch, for up to 30 s, and a worker would outlast gunicorn's
        graceful timeout whenever the collector is down. That includes a worker that has not
        tried an export yet (its spans still queued for the final one): so unless the last
        export succeeded and the collector still takes a connection, nothing more is tried.
        Against a collector that answers, nothing changes: the SDK's shutdown exports what is
        queued.
        """
        if not self._answering or not self._reachable():
            log.warning("the trace collector is not answering: spans still queued are dropped")
            self.shutdown()

    def _reachable(self) -> bool:
        """Whether the collector's address takes a TCP connection now (within EXIT_PROBE_S)."""
        address = urlsplit(self.url)
        port = address.port or (443 if address.scheme == "https" else 80)
        try:
            with socket.create_connection((address.hostname or "", port), EXIT_PROBE_S):
                return True
        except OSError:
            return False

    def shutdown(self) -> None:
        """No export from now on; the exporter, if it was ever built, shut down (once)."""
        with self._lock:
            if not self._shut_down:
                self._shut_down = True
                if self._exporter is not None:
                    self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here."""
        return True


def build_provider(config: TracingConfig, exporter: SpanExporter | None = None) -> TracerProvider:
    """A TracerProvider for ``config`` whose processor thread is already running.

    Args:
        config: the validated tracing settings.
        exporter: where spans go; default the OTLP/HTTP exporter to ``config.traces_url``.
    """
    provider = TracerProvider(
        sampler=sampler(config),
        resource=Resource.create(dict(config.resource)),
        id_generator=XRayIdGenerator(),
    )
    if exporter is None:
        otlp = exporter = CollectorExporter(config.traces_url)
        otlp.load()
        # atexit runs last-registered first: this before the provider's own shutdown.
        atexit.register(otlp.stop_if_not_answering)
    # Queue size, batch size and delays: the SDK's defaults or OTEL_BSP_* (a bounded queue).
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def install(provider: TracerProvider) -> None:
    """Make ``provider`` and the propagators this process's, and trace outbound urllib calls.

    The first provider installed becomes the global one (OpenTelemetry allows one per process);
    the propagators and urllib's instrumentation follow the latest call (tests build several).
    """
    global _global_provider_set  # noqa: PLW0603 - once per process, by design
    with _install_lock:
        if not _global_provider_set:
            trace.set_tracer_provider(provider)
            _global_provider_set = True
        set_global_textmap(PROPAGATOR)
        trace_urllib(provider)


# Marks OpenerDirector.open while urllib's instrumentation waits for its first use.
_WAITING = "flask_fargate_trace_on_first_use"
# Set by opentelemetry-instrumentation-urllib on the OpenerDirector.open it installs.
_INSTRUMENTED = "opentelemetry_instrumentation_urllib_applied"
_urllib_provider: TracerProvider | None = None


def trace_urllib(provider: TracerProvider) -> None:
    """Trace outbound urllib calls with opentelemetry-instrumentation-urllib, from the first one.

    Importing that instrumentation (and the opentelemetry-instrumentation, wrapt and semantic
    convention modules under it) measured ~45 ms, over half of what tracing adds to a worker's
    start-up, for a service that makes no outbound call today. So ``OpenerDirector.open`` is
    replaced by a stand-in that, on its first call, puts the original back, lets the
    instrumentation wrap it, and goes through the wrapped one: every outbound call is traced,
    and only a process that makes one pays for the import.
    """
    global _urllib_provider  # noqa: PLW0603 - the provider the stand-in will use
    _urllib_provider = provider
    current = OpenerDirector.open
    if getattr(current, _WAITING, False):
        return
    if getattr(current, _INSTRUMENTED, False):  # instrumented earlier: use the new provider
        instrumentor = _urllib_instrumentor()
        instrumentor.uninstrument()
        instrumentor.instrument(tracer_provider=provider)
        return
    original = current
    lock = threading.Lock()

    @functools.wraps(original)
    def open_traced_from_now_on(opener: OpenerDirector, *args: Any, **kwargs: Any) -> Any:
        with lock:
            if OpenerDirector.open is open_traced_from_now_on:
                OpenerDirector.open = original  # type: ignore[method-assign]
                _urllib_instrumentor().instrument(tracer_provider=_urllib_provider)
        return OpenerDirector.open(opener, *args, **kwargs)

    setattr(open_traced_from_now_on, _WAITING, True)
    OpenerDirector.open = open_traced_from_now_on  # type: ignore[method-assign,assignment]


def untrace_urllib() -> None:
    """Give urllib back its own ``OpenerDirector.open`` (for tests)."""
    current = OpenerDirector.open
    if getattr(current, _WAITING, False):
        OpenerDirector.open = current.__wrapped__  # type: ignore[attr-defined,method-assign]
    elif getattr(current, _INSTRUMENTED, False):
        _urllib_instrumentor().uninstrument()


def _urllib_instrumentor() -> Any:
    from opentelemetry.instrumentation.urllib import (  # noqa: PLC0415 - see trace_urllib
        URLLibInstrumentor,
    )

    return URLLibInstrumentor()


# The headers the propagators read, as WSGI environ keys (looked up, not computed, per request).
_ENVIRON_KEYS: Mapping[str, str] = {
    "traceparent": TRACEPARENT_ENVIRON,
    "tracestate": "HTTP_TRACESTATE",
    XRAY_HEADER: XRAY_ENVIRON,
}


class _EnvironGetter(Getter[Mapping[str, Any]]):
    """Reads request headers from a WSGI environ for the propagators."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        """The header's value as a one-item list, or None."""
        environ_key = _ENVIRON_KEYS.get(key) or "HTTP_" + key.upper().replace("-", "_")
        value = carrier.get(environ_key)
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        """The request's header names."""
        return [k[5:].lower().replace("_", "-") for k in carrier if k.startswith("HTTP_")]


_GETTER = _EnvironGetter()
_EMPTY_CONTEXT = otel_context.Context()
_NO_PARENT = trace.INVALID_SPAN_CONTEXT
_SERVER = trace.SpanKind.SERVER
_ERROR = trace.Status(trace.StatusCode.ERROR)
_RANDOM_TRACE_ID = trace.TraceFlags.RANDOM_TRACE_ID


class TracingMiddleware:
    """Give every request a server span: its trace continued from the headers, or a new one.

    A lean WSGI wrapper rather than opentelemetry-instrumentation-flask: that one cost ~125 us
    of CPU per request even unsampled (measured: Flask request hooks, the URL rebuilt three
    times, attributes collected twice, metric instruments), more than the whole service adds to
    a request. Only a sampled request gets its attributes (OpenTelemetry's stable HTTP server
    conventions).

    Most requests are not sampled (production samples 5%), and for them the SDK's path (its
    samplers, then ``Tracer.start_span``) was most of what tracing cost the service's
    throughput. So the middleware decides with :class:`SamplingRule`, on the trace id the span
    will have, and builds an unsampled request's non-recording span itself, as ``start_span``
    builds it on a DROP: the parent's trace id or a new one from the provider's id generator, a
    new span id, the parent's random-id flag and trace state (tested against the SDK's). A
    sampled request goes through ``start_span``, which takes the trace id chosen here
    (:class:`XRayIdGenerator`). Unsampled requests skip only the SDK's own span-count metrics,
    which are off unless ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`` is set.

    The span is current while the app runs (so an outbound call is its child, or carries its
    unsampled decision on), ends when the app returns, and its trace id stays in the environ
    under :data:`TRACE_ID_ENVIRON_KEY` for the access line.
    """

    def __init__(self, app: WSGIApplication, provider: TracerProvider, rule: SamplingRule) -> None:
        self.app = app
        self._start_span = provider.get_tracer(__name__).start_span
        ids = provider.id_generator
        if not isinstance(ids, XRayIdGenerator):
            raise TypeError(f"the provider's ids must come from XRayIdGenerator, not {ids!r}")
        self._new_trace_id = ids.new_trace_id
        self._new_span_id = ids.generate_span_id
        self._random_ids = trace.TraceFlags(_RANDOM_TRACE_ID if ids.is_trace_id_random() else 0)
        self._sampled = rule.sampled
        self._extract = PROPAGATOR.extract

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request inside its span."""
        path = environ.get("PATH_INFO", "")
        parent, parent_span_context, root = self._parent(environ)
        if parent_span_context.is_valid:
            trace_id = parent_span_context.trace_id
            sampled = self._sampled(path, trace_id, parent_span_context.trace_flags.sampled)
        else:
            trace_id = root if root is not None else self._new_trace_id()
            sampled = self._sampled(path, trace_id, None)
        if sampled:
            return self._serve_recorded(environ, start_response, parent, trace_id, path)
        if parent_span_context.is_valid:
            flags = trace.TraceFlags(parent_span_context.trace_flags & _RANDOM_TRACE_ID)
            trace_state = parent_span_context.trace_state
        else:
            flags, trace_state = self._random_ids, None
        span = trace.NonRecordingSpan(
            trace.SpanContext(trace_id, self._new_span_id(), False, flags, trace_state)
        )
        return self._serve(environ, start_response, span, parent)

    def _parent(
        self, environ: WSGIEnvironment
    ) -> tuple[otel_context.Context, trace.SpanContext, int | None]:
        """The context the request's headers give, its parent span's context (invalid without
        one) and the trace id of a load balancer's parentless ``Root``, if that is all it has."""
        if TRACEPARENT_ENVIRON in environ:
            parent = self._extract(environ, getter=_GETTER)
            root = parent.get(_XRAY_ROOT_KEY)
            return (
                parent,
                trace.get_current_span(parent).get_span_context(),
                root if isinstance(root, int) else None,
            )
        xray = environ.get(XRAY_ENVIRON)
        if xray is None:
            return _EMPTY_CONTEXT, _NO_PARENT, None
        # X-Amzn-Trace-Id alone, as the load balancer sends on every request: read as
        # XRayPropagator reads it, without a pass through every propagator.
        remote, root = read_xray_header(xray)
        if remote is None:
            return _EMPTY_CONTEXT, _NO_PARENT, root
        return trace.set_span_in_context(trace.NonRecordingSpan(remote)), remote, None

    def _serve_recorded(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        parent: otel_context.Context,
        trace_id: int,
        path: str,
    ) -> Iterable[bytes]:
        """Serve a sampled request in a span of the SDK's, with its attributes."""
        method = environ.get("REQUEST_METHOD", "")
        attributes = _request_attributes(environ, method, path)
        # For a new trace, XRayIdGenerator gives start_span the trace id the rule decided on;
        # a span with a parent takes the parent's, and the generator is not asked.
        token = otel_context.attach(otel_context.set_value(_NEW_TRACE_ID_KEY, trace_id, parent))
        try:
            span = self._start_span(method, parent, _SERVER, attributes)
        finally:
            otel_context.detach(token)

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            _response_attributes(span, environ, method, status)
            return start_response(status, headers, exc_info)

        try:
            return self._serve(environ, capture, span, parent)
        except BaseException as error:
            span.record_exception(error)
            span.set_status(_ERROR)
            raise
        finally:
            span.end()

    def _serve(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        span: trace.Span,
        parent: otel_context.Context,
    ) -> Iterable[bytes]:
        """Run the app with ``span`` current; answer with its ``traceresponse``."""
        span_context = span.get_span_context()
        trace_hex = f"{span_context.trace_id:032x}"
        environ[TRACE_ID_ENVIRON_KEY] = trace_hex
        traceresponse = f"00-{trace_hex}-{span_context.span_id:016x}-{span_context.trace_flags:02x}"

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append((TRACERESPONSE_HEADER, traceresponse))
            return start_response(status, headers, exc_info)

        active = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            return self.app(environ, capture)
        finally:
            otel_context.detach(active)


def _request_attributes(environ: WSGIEnvironment, method: str, path: str) -> dict[str, str]:
    """A sampled request's attributes, given to the span at its start (one bulk copy, rather
    than a locked ``set_attribute`` each)."""
    # Only the load balancer reaches the tasks (its security group), so its X-Forwarded-*
    # headers are trusted: in its default "append" mode the last X-Forwarded-For entry is the
    # address it saw the request come from, and X-Forwarded-Proto the client's scheme
    # (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html).
    attributes = {
        METHOD: method,
        PATH: path,
        "url.scheme": environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", ""),
        "network.protocol.version": environ.get("SERVER_PROTOCOL", "")[5:],
    }
    host = environ.get("HTTP_HOST")
    if host:
        attributes["server.address"] = host.rsplit(":", 1)[0]
    peer = environ.get("REMOTE_ADDR")
    if peer:
        attributes["network.peer.address"] = peer
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    client = forwarded.rsplit(",", 1)[-1].strip() if forwarded else peer
    if client:
        attributes["client.address"] = client
    agent = environ.get("HTTP_USER_AGENT")
    if agent:
        attributes["user_agent.original"] = agent
    return attributes


def _response_attributes(
    span: trace.Span, environ: WSGIEnvironment, method: str, status: str
) -> None:
    code = int(status[:3])
    # Flask calls start_response inside its request context: the matched rule is known here.
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    if rule is None:
        span.set_attribute(STATUS, code)
    else:
        span.set_attributes({STATUS: code, ROUTE: rule.rule})
        span.update_name(f"{method} {rule.rule}")
    if code >= 500:
        span.set_status(_ERROR)


def traced(
    app: WSGIApplication, config: TracingConfig, exporter: SpanExporter | None = None
) -> tuple[TracingMiddleware, TracerProvider]:
    """``app`` with its requests traced, and the TracerProvider (installed for the process).

    The provider's ``force_flush``/``shutdown`` are for tests and tooling.
    """
    provider = build_provider(config, exporter)
    install(provider)
    middleware = TracingMiddleware(app, provider, SamplingRule.of(config))
    log.info("%s%s", TRACING_ON, config.traces_url)
    return middleware, provider


def instrument(
    app: Flask, config: TracingConfig, exporter: SpanExporter | None = None
) -> TracerProvider:
    """Trace ``app``'s requests (call before wrapping ``app.wsgi_app`` in more middleware).

    Returns:
        the TracerProvider (its ``force_flush``/``shutdown`` for tests and tooling).
    """
    app.wsgi_app, provider = traced(app.wsgi_app, config, exporter)  # type: ignore[method-assign]
    return provider


def request_trace_id(environ: Mapping[str, Any]) -> str | None:
    """The trace id (32 hex) of the request's span, else the one it brought, else None.

    Read after the request, from what :class:`TracingMiddleware` left in the environ.
    Unsampled requests have a span too (not recorded), so they get their trace id as well.
    """
    trace_id: str | None = environ.get(TRACE_ID_ENVIRON_KEY)
    return trace_id if trace_id is not None else incoming_trace_id(environ)
