"""The stand-in collector's parts: its configuration reading, span and scrape translation.

The configuration is the contract's, written by hand (tests/support/collector_config.py); what
the stand-in does not model is refused in one line. The span translation is checked against the
awsxray exporter's translator (segment.go, http.go, cause.go in opentelemetry-collector-contrib),
the scrape translation against the awsemf exporter's (datapoint.go, metric_translator.go).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from delivery.errors import DeliveryError
from delivery.local.collector import emf, xray
from delivery.local.collector.config import Address, parse
from delivery.local.task_definition import resolve
from tests.support.collector_config import (
    LOG_GROUP,
    LOG_STREAM,
    NAMESPACE,
    contract_config,
    golden_collector_configs,
)
from tests.support.otlp import IDENTIFIER, PARENT_ID, SPAN_ID, request_payload

NOW = 1_790_000_000  # a fixed "now" for the trace id's time range


def text(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config)


# -- the configuration


def test_the_contract_configuration_is_read_whole() -> None:
    config = parse(text(contract_config()))
    assert config.otlp == {"otlp": Address("0.0.0.0", 4318)}
    (job,) = config.prometheus["prometheus"]
    assert (job.name, job.targets, job.metrics_path, job.interval_s) == (
        "app",
        (Address("localhost", 8000),),
        "/metrics",
        60.0,
    )
    assert config.batch["batch"].timeout_s == pytest.approx(0.2)
    assert config.awsemf["awsemf"].namespace == NAMESPACE
    assert config.awsemf["awsemf"].log_group_name == LOG_GROUP
    assert config.awsemf["awsemf"].log_stream_name == LOG_STREAM
    assert config.health_check == {"health_check": Address("0.0.0.0", 13133)}
    assert sorted((p.kind, p.receivers, p.exporters) for p in config.pipelines) == [
        ("metrics", ("prometheus",), ("awsemf",)),
        ("traces", ("otlp",), ("awsxray",)),
    ]
    assert config.ports() == (4318, 13133)


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    config = copy.deepcopy(contract_config())
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


@pytest.mark.parametrize(
    ("config", "named"),
    [
        (_with(("processors", "memory_limiter"), {"limit_mib": 100}), "memory_limiter"),
        (_with(("receivers", "otlp", "protocols", "grpc"), {}), "grpc"),
        (_with(("exporters", "awsemf", "log_stream_name"), "{TaskId}"), "placeholder"),
        (_with(("exporters", "awsxray", "telemetry"), {"enabled": True}), "telemetry"),
        (_with(("exporters", "debug"), {}), "debug"),
        (_with(("extensions", "pprof"), {}), "pprof"),
        (_with(("exporters", "awsemf", "dimension_rollup_option"), "All"), "All"),
        (
            _with(
                ("service", "pipelines", "logs"),
                {"receivers": ["otlp"], "exporters": ["awsxray"]},
            ),
            "logs pipeline",
        ),
        (
            _with(
                ("service", "pipelines", "traces"),
                {"receivers": ["prometheus"], "exporters": ["awsxray"]},
            ),
            "does not serve traces",
        ),
        (
            _with(
                ("service", "pipelines", "metrics"),
                {"receivers": ["prometheus"], "exporters": ["awsemf/other"]},
            ),
            "not declared",
        ),
    ],
    ids=[
        "memory_limiter",
        "grpc",
        "stream placeholder",
        "unknown setting",
        "debug exporter",
        "pprof extension",
        "unknown rollup",
        "logs pipeline",
        "wrong kind",
        "undeclared exporter",
    ],
)
def test_what_is_not_modelled_is_refused_in_one_line(config: dict[str, Any], named: str) -> None:
    with pytest.raises(DeliveryError) as refused:
        parse(text(config))
    message = str(refused.value)
    assert named in message
    assert "\n" not in message


def test_the_collectors_own_telemetry_is_read_as_far_as_it_is_modelled() -> None:
    quiet = _with(
        ("service", "telemetry"), {"logs": {"level": "warn"}, "metrics": {"level": "none"}}
    )
    assert parse(text(quiet)).log_level == "warn"
    detailed = _with(("service", "telemetry"), {"metrics": {"level": "detailed"}})
    with pytest.raises(DeliveryError, match="own metrics"):
        parse(text(detailed))


def test_environment_substitution_is_refused() -> None:
    with pytest.raises(DeliveryError, match="substitution"):
        parse(text(contract_config()).replace(NAMESPACE, "${env:NAMESPACE}"))


@pytest.mark.skipif(
    not golden_collector_configs(),
    reason="the service template has no otel-collector container yet (the issue-13 sidecar)",
)
@pytest.mark.parametrize("env", sorted(golden_collector_configs()) or ["none"])
def test_the_rendered_configuration_is_one_the_stand_in_runs(env: str) -> None:
    # What the stacks render for each environment: the stand-in must model all of it. A value
    # the template computes (a log group's Ref in it, say) is read with placeholders for what
    # only CloudFormation knows.
    value = golden_collector_configs()[env]
    text = value if isinstance(value, str) else resolve(value, _Placeholders())
    assert text is not None, f"{env}: AOT_CONFIG_CONTENT is {value!r}, not text"
    config = parse(text)
    assert {p.kind for p in config.pipelines} == {"traces", "metrics"}


class _Placeholders(dict[str, str]):
    """Every parameter or resource name stands for ``<name>``."""

    def get(self, key: str, default: Any = None) -> str:
        return f"<{key}>"


# -- spans to segments


def _segments(payload: bytes, now: float = NOW) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(payload)
    return [json.loads(document) for document in xray.segments(request, now=now)]


def test_a_request_span_becomes_a_segment_with_its_trace_parent_and_http() -> None:
    (segment,) = _segments(request_payload(NOW))
    assert segment["trace_id"] == f"1-{NOW - 5:08x}-{IDENTIFIER}"
    assert segment["id"] == SPAN_ID.hex()
    assert segment["parent_id"] == PARENT_ID.hex()
    assert "type" not in segment  # a server span is a segment, not a subsegment
    assert segment["name"] == "flask-fargate"  # the resource's service.name
    assert segment["http"]["request"] == {
        "method": "GET",
        "user_agent": "curl/8",
        "url": "http://127.0.0.1:8000/",
    }
    assert segment["http"]["response"]["status"] == 200
    assert segment["end_time"] - segment["start_time"] == pytest.approx(0.0025, abs=1e-6)
    assert (segment["fault"], segment["error"], segment["throttle"]) == (False, False, False)
    assert segment["service"] == {"version": "1.2.3"}
    assert segment["metadata"]["default"]["http.route"] == "/"
    assert segment["metadata"]["default"]["otel.resource.service.name"] == "flask-fargate"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (500, Status.STATUS_CODE_ERROR, (True, False, False)),
        (429, Status.STATUS_CODE_ERROR, (False, True, True)),
        (404, Status.STATUS_CODE_ERROR, (False, True, False)),
        (404, Status.STATUS_CODE_UNSET, (False, False, False)),
    ],
)
def test_faults_and_errors_follow_the_status_as_the_exporter_decides(
    status: int, code: Status.StatusCode.ValueType, expected: tuple[bool, bool, bool]
) -> None:
    (segment,) = _segments(request_payload(NOW, status, code))
    assert (segment["fault"], segment["error"], segment["throttle"]) == expected


def test_a_trace_id_out_of_x_rays_time_range_is_dropped() -> None:
    assert _segments(request_payload(NOW), now=NOW + 29 * 24 * 3600) == []
    assert _segments(request_payload(NOW), now=NOW - 10 * 60) == []


# -- a scrape to EMF

SCRAPE_1 = """\
# HELP http_requests_total Requests
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/",status="200"} 3.0
# HELP http_requests_in_flight In flight
# TYPE http_requests_in_flight gauge
http_requests_in_flight 1.0
# HELP http_request_duration_seconds Latency
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1",route="/"} 3.0
http_request_duration_seconds_bucket{le="+Inf",route="/"} 3.0
http_request_duration_seconds_count{route="/"} 3.0
http_request_duration_seconds_sum{route="/"} 0.03
"""
SCRAPE_2 = SCRAPE_1.replace("} 3.0", "} 7.0").replace("} 0.03", "} 0.05")


def _events(exporter_settings: dict[str, Any]) -> list[list[dict[str, Any]]]:
    config = _with(("exporters", "awsemf"), exporter_settings)
    exporter = parse(text(config)).awsemf["awsemf"]
    deltas = emf.Deltas()
    return [
        emf.events(emf.points(SCRAPE_1, 1000, deltas), exporter),
        emf.events(emf.points(SCRAPE_2, 61000, deltas), exporter),
    ]


def test_a_scrape_becomes_emf_events_in_the_configured_namespace() -> None:
    settings = contract_config()["exporters"]["awsemf"]
    first, second = _events(settings)
    # Counters and histograms are deltas: the first scrape is their baseline only.
    assert [sorted(k for k in e if not k.startswith("_")) for e in first] == [
        ["OTelLib", "http_requests_in_flight"]
    ]
    by_metric = {name: event for event in second for name in event if name.startswith("http_")}
    requests = by_metric["http_requests"]  # the receiver trims a counter's _total
    assert requests["http_requests"] == 4.0
    assert requests["route"] == "/"
    (directive,) = requests["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Metrics"] == [{"Name": "http_requests"}]
    assert directive["Dimensions"] == [["OTelLib", "method", "route", "status"]]
    assert requests["_aws"]["Timestamp"] == 61000
    latency = by_metric["http_request_duration_seconds"]["http_request_duration_seconds"]
    assert latency["Count"] == 4.0
    assert latency["Sum"] == pytest.approx(0.02)
    assert by_metric["http_requests_in_flight"]["http_requests_in_flight"] == 1.0


def test_metric_declarations_choose_metrics_and_dimension_sets() -> None:
    settings = {
        **contract_config()["exporters"]["awsemf"],
        "metric_declarations": [
            {"dimensions": [[], ["route"]], "metric_name_selectors": ["^http_requests$"]}
        ],
    }
    _, second = _events(settings)
    (event,) = second  # only the selected metric is sent
    (directive,) = event["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [[], ["route"]]
    assert directive["Metrics"] == [{"Name": "http_requests"}]


def test_zero_and_single_rollup_adds_otellib_sets() -> None:
    settings = {
        **contract_config()["exporters"]["awsemf"],
        "dimension_rollup_option": "ZeroAndSingleDimensionRollup",
    }
    _, second = _events(settings)
    latency = next(e for e in second if "http_request_duration_seconds" in e)
    (directive,) = latency["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["OTelLib", "route"], ["OTelLib"]]
