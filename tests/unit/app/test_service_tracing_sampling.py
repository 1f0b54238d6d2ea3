"""The tracing middleware's own sampling path is the SDK's, decision for decision and id for id.

TracingMiddleware decides with SamplingRule and builds an unsampled request's span itself, off
the SDK's path, for speed (see its docstring). These tests hold that shortcut to what the SDK's
samplers (app.observability.tracing.sampler) and ``Tracer.start_span`` do for the same request,
with the same ids: every configurable sampler, ratios at and between the ends, every kind of
parent the propagators read, traced and untraced paths.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased

from app.config import SAMPLERS, TracingConfig
from app.observability import tracing

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ENDPOINT = "http://127.0.0.1:9"  # never reached: nothing is exported
EPOCH = 0x5759E988
RATIOS = (0.0, 0.05, 0.5, 1.0)
LOW_64 = 2**64 - 1
PATHS = ("/", "/health")  # traced, and one of tracing.UNTRACED_PATHS
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
# Request headers (as a WSGI environ) of every kind of parent the propagators read.
PARENTS: dict[str, dict[str, str]] = {
    "none": {},
    "w3c sampled, with trace state": {
        "HTTP_TRACEPARENT": f"00-{TRACE_ID}-{PARENT_ID}-01",
        "HTTP_TRACESTATE": "vendor=value",
    },
    "w3c unsampled, with trace state": {
        "HTTP_TRACEPARENT": f"00-{TRACE_ID}-{PARENT_ID}-00",
        "HTTP_TRACESTATE": "vendor=value",
    },
    "w3c unsampled, random trace id flag": {"HTTP_TRACEPARENT": f"00-{TRACE_ID}-{PARENT_ID}-02"},
    "w3c unsampled and x-ray sampled (w3c wins)": {
        "HTTP_TRACEPARENT": f"00-{TRACE_ID}-{PARENT_ID}-00",
        "HTTP_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;"
        "Parent=53995c3f42cd8ad8;Sampled=1",
    },
    "x-ray sampled": {
        "HTTP_X_AMZN_TRACE_ID": f"Root=1-{TRACE_ID[:8]}-{TRACE_ID[8:]};Parent={PARENT_ID};Sampled=1"
    },
    "x-ray unsampled": {
        "HTTP_X_AMZN_TRACE_ID": f"Root=1-{TRACE_ID[:8]}-{TRACE_ID[8:]};Parent={PARENT_ID};Sampled=0"
    },
}


# A span's trace id, span id, flags, trace state header and whether it records.
Identity = tuple[int, int, int, str, bool]


class SeededIds(tracing.XRayIdGenerator):
    """X-Ray-shaped ids from a seeded generator: two of them with one seed give the same ids."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)  # noqa: S311 - ids for a test, not secrets

    def new_trace_id(self) -> int:
        """The epoch, then 96 seeded bits."""
        return (EPOCH << 96) | self._random.getrandbits(96)

    def generate_span_id(self) -> int:
        """64 seeded bits, never 0 (invalid)."""
        return self._random.getrandbits(64) or 1


def config(name: str, ratio: float) -> TracingConfig:
    """Tracing settings with sampler ``name`` at ``ratio``."""
    return TracingConfig(endpoint=ENDPOINT, sampler=name, sample_ratio=ratio)


def provider(settings: TracingConfig, seed: int) -> TracerProvider:
    """A provider as the service builds it (its sampler), with seeded ids and no processor."""
    return TracerProvider(sampler=tracing.sampler(settings), id_generator=SeededIds(seed))


def environ(path: str, headers: dict[str, str]) -> dict[str, Any]:
    """A GET of ``path`` with ``headers``."""
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, **headers}


def through_middleware(settings: TracingConfig, seed: int, request: dict[str, Any]) -> Identity:
    """What counts of the span that is current while the app runs, when the middleware
    serves ``request`` (read then: a span ends, and stops recording, with the request)."""
    seen: list[Identity] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(what_counts(trace.get_current_span()))
        start_response("200 OK", [])
        return [b""]

    middleware = tracing.TracingMiddleware(
        app, provider(settings, seed), tracing.SamplingRule.of(settings)
    )
    middleware(request, _ignore_response)
    (identity,) = seen
    return identity


def _ignore_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def through_the_sdk(settings: TracingConfig, seed: int, request: dict[str, Any]) -> trace.Span:
    """The span the SDK's ``start_span`` builds for ``request``, from the same headers."""
    carrier = {
        name: request[key]
        for name, key in (
            ("traceparent", "HTTP_TRACEPARENT"),
            ("tracestate", "HTTP_TRACESTATE"),
            ("X-Amzn-Trace-Id", "HTTP_X_AMZN_TRACE_ID"),
        )
        if key in request
    }
    parent = tracing.PROPAGATOR.extract(carrier)
    attributes = {tracing.METHOD: "GET", tracing.PATH: request["PATH_INFO"]}
    tracer = provider(settings, seed).get_tracer(__name__)
    return tracer.start_span("GET", parent, trace.SpanKind.SERVER, attributes)


def what_counts(span: trace.Span) -> Identity:
    """Everything of a span's identity that leaves the process or decides its fate."""
    context = span.get_span_context()
    return (
        context.trace_id,
        context.span_id,
        context.trace_flags,
        context.trace_state.to_header(),
        span.is_recording(),
    )


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("ratio", RATIOS)
def test_the_middleware_builds_the_span_the_sdk_would(name: str, ratio: float) -> None:
    settings = config(name, ratio)
    for parent, path in itertools.product(sorted(PARENTS), PATHS):
        # Enough seeds that at 50% new traces land on both sides of the ratio.
        for seed in range(25):
            request = environ(path, PARENTS[parent])
            expected = what_counts(through_the_sdk(settings, seed, dict(request)))
            assert through_middleware(settings, seed, dict(request)) == expected, (parent, path)


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("ratio", RATIOS)
def test_the_rule_decides_as_the_sdks_sampler_on_either_side_of_the_bound(
    name: str, ratio: float
) -> None:
    settings = config(name, ratio)
    rule = tracing.SamplingRule.of(settings)
    sdk = tracing.sampler(settings)
    bound = TraceIdRatioBased.get_bound_for_rate(ratio)
    # The trace ids whose low 64 bits sit just around the ratio's bound, and random ones.
    rng = random.Random(7)  # noqa: S311 - test data
    low_bits = {0, 1, LOW_64, *(b for b in (bound - 1, bound, bound + 1) if 0 <= b <= LOW_64)}
    low_bits |= {rng.getrandbits(64) for _ in range(200)}
    for low in low_bits:
        trace_id = (EPOCH << 96) | (rng.getrandbits(32) << 64) | low
        for path in PATHS:
            for parent_sampled in (None, True, False):
                if parent_sampled is None:
                    context = None
                else:
                    flags = trace.TraceFlags(0x01 if parent_sampled else 0x00)
                    remote = trace.SpanContext(trace_id, 0xB7AD6B7169203331, True, flags)
                    context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
                expected = sdk.should_sample(
                    context, trace_id, "GET", trace.SpanKind.SERVER, {tracing.PATH: path}
                ).decision in {Decision.RECORD_AND_SAMPLE}
                assert rule.sampled(path, trace_id, parent_sampled) is expected, (
                    name,
                    ratio,
                    hex(low),
                    path,
                    parent_sampled,
                )


def test_the_load_balancers_root_is_the_trace_of_a_sampled_and_an_unsampled_request() -> None:
    root = "5759e988bd862e3fe1be46a994272793"
    request = environ("/", {"HTTP_X_AMZN_TRACE_ID": f"Root=1-{root[:8]}-{root[8:]}"})
    for ratio, recording in ((1.0, True), (0.0, False)):
        trace_id, _span_id, flags, _state, records = through_middleware(
            config("parentbased_traceidratio", ratio), 1, dict(request)
        )
        assert f"{trace_id:032x}" == root
        assert records is recording
        assert trace.TraceFlags(flags).sampled is recording


def test_the_rule_refuses_a_sampler_the_configuration_would_not_accept() -> None:
    with pytest.raises(KeyError):
        tracing.SamplingRule.of(config("jaeger_remote", 0.5))
