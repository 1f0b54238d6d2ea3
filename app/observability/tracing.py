"""Request tracing with OpenTelemetry, exported over OTLP/HTTP to the collector beside the app.

Imported only when tracing is on (``AppConfig.tracing``, see app.config): with tracing off,
nothing of OpenTelemetry is loaded. What is built here, per process:

- a TracerProvider whose resource is the service's (service.name, service.version,
  OTEL_RESOURCE_ATTRIBUTES), whose sampler is the configured one (OTEL_TRACES_SAMPLER/_ARG),
  never recording the health checks and the metrics scrape, and whose ids X-Ray accepts
  (AwsXRayIdGenerator: the first 32 bits are the epoch second);
- a BatchSpanProcessor (bounded queue, its own thread) exporting OTLP/HTTP protobuf to
  ``<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces``. The exporter is imported on its first export, on
  that thread: its import (requests, protobuf) would otherwise add to every worker's start-up.
  A collector that is down costs failed exports on that thread and dropped spans, never a
  request;
- propagation of W3C ``traceparent`` and AWS X-Ray ``X-Amzn-Trace-Id``, in and out;
- Flask (inbound) and urllib (outbound) instrumentation.

The processor's thread starts when the app is built: under gunicorn that is in each worker,
after the fork (app.gunicorn_conf never preloads the app), never in the master.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.flask import _ENVIRON_SPAN_KEY, FlaskInstrumentor
from opentelemetry.instrumentation.propagators import (
    TraceResponsePropagator,
    set_global_response_propagator,
)
from opentelemetry.instrumentation.urllib import URLLibInstrumentor
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
from app.observability.trace_context import XRAY_HEADER, from_xray_header, incoming_trace_id

log = logging.getLogger(__name__)

# Asked for every few seconds by the load balancer and every minute by the collector's scrape:
# a trace of them says nothing and costs X-Ray's per-trace price. They still get a trace id.
UNTRACED_PATHS = frozenset({"/health", "/health/ready", "/metrics"})
# The request path as the Flask/WSGI instrumentation gives it to the sampler: url.path in the
# stable HTTP conventions, http.target (path and query) in the older default ones.
_PATH_ATTRIBUTES = ("url.path", "http.target")
# The trace id of an X-Amzn-Trace-Id that has a Root but no Parent (what the load balancer sends).
_XRAY_ROOT_KEY = otel_context.create_key("flask_fargate.xray_root")

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
        if attributes:
            for key in _PATH_ATTRIBUTES:
                if attributes.get(key) in self._paths:
                    return SamplingResult(Decision.DROP)
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


class XRayPropagator(AwsXRayPropagator):
    """AWS's X-Ray propagator, which also keeps a ``Root`` that comes without a ``Parent``.

    The load balancer adds ``X-Amzn-Trace-Id: Root=...`` with no ``Parent``; AWS's propagator
    then extracts nothing, and the request would start an unrelated trace. Here the root's trace
    id is kept in the context, and :class:`XRayIdGenerator` gives it to the request's span: the
    trace continues the load balancer's id, with no invented parent.
    """

    def extract(
        self,
        carrier: CarrierT,
        context: otel_context.Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> otel_context.Context:
        """Extract as AWS's propagator does; keep a parentless ``Root`` for the id generator."""
        extracted = super().extract(carrier, context=context, getter=getter)
        if trace.get_current_span(extracted).get_span_context().is_valid:
            return extracted
        values = getter.get(carrier, XRAY_HEADER)
        root = from_xray_header(values[0]) if values and len(values) == 1 else None
        if root is None:
            return extracted
        return otel_context.set_value(_XRAY_ROOT_KEY, int(root, 16), extracted)


class XRayIdGenerator(AwsXRayIdGenerator):
    """X-Ray-compatible ids; a new trace takes the load balancer's ``Root`` if it brought one.

    The SDK asks for a trace id only for a span without a valid parent, in the context the
    instrumentation attached from the request's headers (see :class:`XRayPropagator`).
    """

    def generate_trace_id(self) -> int:
        """The incoming parentless X-Ray root, else a new X-Ray-compatible id."""
        root = otel_context.get_value(_XRAY_ROOT_KEY)
        if isinstance(root, int):
            return root
        return super().generate_trace_id()


# X-Ray first, W3C second: the last propagator that finds a parent wins, so a W3C
# traceparent takes precedence, as in app.observability.trace_context.incoming_trace_id.
PROPAGATOR = CompositePropagator([XRayPropagator(), TraceContextTextMapPropagator()])


class LazyOtlpExporter(SpanExporter):
    """The OTLP/HTTP protobuf span exporter, imported and built on its first use.

    Only the processor's thread calls :meth:`export`, so the import never delays start-up or
    a request. Everything but the URL (timeout, headers, compression) the exporter reads from
    OpenTelemetry's standard variables itself.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._exporter: SpanExporter | None = None
        self._lock = threading.Lock()
        # False while an export is under way or after one failed: the collector is not answering.
        self._answering = True
        self._shut_down = False

    def _get(self) -> SpanExporter:
        with self._lock:
            if self._exporter is None:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415 - see the class docstring
                    OTLPSpanExporter,
                )

                self._exporter = OTLPSpanExporter(endpoint=self.url)
            return self._exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send ``spans`` to the collector (the exporter retries, within its timeout)."""
        exporter = self._get()
        self._answering = False
        result = exporter.export(spans)
        self._answering = result is SpanExportResult.SUCCESS
        return result

    def stop_if_not_answering(self) -> None:
        """At exit: stop retrying a collector that is not answering, and drop what is left.

        Otherwise the SDK's shutdown would sit out the exporter's retries (its timeout, 10 s by
        default) batch after batch, for up to 30 s, and a worker would outlast gunicorn's
        graceful timeout whenever the collector is down. Against a collector that answers,
        nothing changes: the SDK's shutdown exports what is queued.
        """
        if not self._answering:
            log.warning("the trace collector is not answering: spans still queued are dropped")
            self.shutdown()

    def shutdown(self) -> None:
        """Shut the exporter down if it was ever built (once)."""
        with self._lock:
            if self._exporter is not None and not self._shut_down:
                self._shut_down = True
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
        otlp = exporter = LazyOtlpExporter(config.traces_url)
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
        # The response carries the trace (W3C traceresponse), for a client reporting a problem.
        set_global_response_propagator(TraceResponsePropagator())  # type: ignore[no-untyped-call]
        urllib = URLLibInstrumentor()
        if urllib.is_instrumented_by_opentelemetry:
            urllib.uninstrument()
        urllib.instrument(tracer_provider=provider)


def instrument(
    app: Flask, config: TracingConfig, exporter: SpanExporter | None = None
) -> TracerProvider:
    """Trace ``app``'s requests (call before wrapping ``app.wsgi_app`` in more middleware).

    Returns:
        the TracerProvider (its ``force_flush``/``shutdown`` for tests and tooling).
    """
    provider = build_provider(config, exporter)
    install(provider)
    FlaskInstrumentor.instrument_app(app, tracer_provider=provider)  # type: ignore[no-untyped-call]
    log.debug("tracing to %s", config.traces_url)
    return provider


def request_trace_id(environ: Mapping[str, Any]) -> str | None:
    """The trace id (32 hex) of the request's span, else the one it brought, else None.

    Read after the request: the Flask instrumentation leaves its span in the WSGI environ.
    Unsampled requests have a span too (not recorded), so they get their trace id as well.
    """
    span = environ.get(_ENVIRON_SPAN_KEY)
    if span is not None:
        span_context = span.get_span_context()
        if span_context.is_valid:
            return f"{span_context.trace_id:032x}"
    return incoming_trace_id(environ)
