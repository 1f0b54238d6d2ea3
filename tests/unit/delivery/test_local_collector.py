"""The stand-in collector's parts: its configuration reading, span and scrape translation.

The configuration is the one the stacks render for each environment (tests/golden, its Fn::Sub
filled in as CloudFormation does), and the contract's minimal one written by hand
(tests/support/collector_config.py), changed part by part; what the stand-in does not model is
refused in one line. The span translation is checked against the awsxray exporter's translator
(segment.go, http.go, cause.go, aws.go in opentelemetry-collector-contrib), the scrape translation
against the prometheus receiver's names, the cumulativetodelta processor's tracker (tracker.go)
and the awsemf exporter (datapoint.go, metric_translator.go); the real app's /metrics, through
the rendered configuration, gives the names and dimension sets of
stacks/common/service_metrics.py.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Status
from prometheus_client.parser import text_string_to_metric_families

from app.observability.metrics import Metrics
from delivery.errors import DeliveryError
from delivery.local.collector import emf, xray
from delivery.local.collector.config import LOG_LEVELS, Address, CollectorConfig, parse
from delivery.local.task_definition import resolve
from stacks.common.service_metrics import HTTP_REQUESTS, SERVICE_METRICS, Kind
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
        (
            _with(
                ("processors", "memory_limiter"), {"check_interval": "1s", "limit_percentage": 75}
            ),
            "limit_percentage",
        ),
        (
            _with(
                ("processors", "cumulativetodelta"),
                {"include": {"metrics": ["a.*"], "match_type": "regexp"}, "initial_value": "keep"},
            ),
            "only strict",
        ),
        (
            _with(("processors", "cumulativetodelta"), {"initial_value": "auto"}),
            "'auto' is not one of",
        ),
        (
            _with(("exporters", "awsemf", "resource_to_telemetry_conversion"), {"enabled": True}),
            "enabled: true",
        ),
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
        "memory_limiter percentage",
        "cumulativetodelta regexp",
        "cumulativetodelta auto",
        "resource to telemetry",
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


def test_a_dollar_escape_is_refused_but_a_lone_dollar_is_kept() -> None:
    """The collector reads ``$$`` as ``$`` (confmap resolver.go escapeDollarSigns) and keeps a lone
    ``$``, the end anchor of every metric selector the stack renders."""
    with pytest.raises(DeliveryError, match=r"\$\$"):
        parse(text(contract_config()).replace(NAMESPACE, "cost$$"))
    declarations = [_selector("^a$")]
    anchored = parse(text(_with(("exporters", "awsemf", "metric_declarations"), declarations)))
    assert anchored.awsemf["awsemf"].metric_declarations[0].metric_name_selectors == ("^a$",)


def _selector(pattern: str) -> dict[str, Any]:
    return {"metric_name_selectors": [pattern], "dimensions": [[]]}


def _scrape(**job: Any) -> dict[str, Any]:
    base = contract_config()["receivers"]["prometheus"]["config"]["scrape_configs"][0]
    return {"config": {"scrape_configs": [{**base, **job}]}}


def _pipeline(processors: list[str]) -> dict[str, Any]:
    return {"receivers": ["otlp"], "processors": processors, "exporters": ["awsxray"]}


# What ADOT v0.49.0 (collector and contrib v0.156.0, as vendored in aws-otel-collector) refuses at
# start, each with where it refuses it.
@pytest.mark.parametrize(
    ("config", "named"),
    [
        # internal/memorylimiter/config.go: errCheckIntervalOutOfRange.
        (
            _with(
                ("processors", "memory_limiter"),
                {"check_interval": "0s", "limit_mib": 100, "spike_limit_mib": 20},
            ),
            "greater than zero",
        ),
        # cumulativetodeltaprocessor config.go: "metrics must be supplied if match_type is set".
        (
            _with(
                ("processors", "cumulativetodelta"),
                {"include": {"metrics": [], "match_type": "strict"}, "initial_value": "keep"},
            ),
            "no metrics",
        ),
        # service/pipelines/config.go: "references processor ... multiple times".
        (
            _with(("service", "pipelines", "traces"), _pipeline(["batch", "batch"])),
            "listed twice",
        ),
        # prometheus config/config.go ScrapeConfig.Validate.
        (
            _with(("receivers", "prometheus"), _scrape(scrape_interval="5s", scrape_timeout="10s")),
            "greater than scrape_interval",
        ),
        # prometheus config/config.go GlobalConfig: "global scrape timeout greater than ...".
        (
            _with(
                ("receivers", "prometheus", "config", "global"),
                {"scrape_interval": "5s", "scrape_timeout": "6s"},
            ),
            "greater than scrape_interval",
        ),
        # prometheus config/config.go: "found multiple scrape configs with job name".
        (
            _with(
                ("receivers", "prometheus", "config", "scrape_configs"),
                [_scrape()["config"]["scrape_configs"][0]] * 2,
            ),
            "used twice",
        ),
        # prometheus/common model/time.go ParseDuration: whole numbers only.
        (_with(("receivers", "prometheus"), _scrape(scrape_interval="1.5s")), "whole numbers"),
        # awsemf metric_declaration.go init: regexp.MustCompile (RE2 syntax) panics.
        (
            _with(("exporters", "awsemf", "metric_declarations"), [_selector("^(?!up$).*")]),
            "RE2",
        ),
        (
            _with(("exporters", "awsemf", "metric_declarations"), [_selector("^(http")]),
            "not a regular expression",
        ),
        # zapcore Level.UnmarshalText: "unrecognized level".
        (_with(("service", "telemetry"), {"logs": {"level": "verbose"}}), "zap's levels"),
    ],
    ids=[
        "memory_limiter check_interval 0",
        "cumulativetodelta match_type without metrics",
        "processor twice in a pipeline",
        "scrape timeout above interval",
        "global scrape timeout above interval",
        "job name twice",
        "fractional scrape interval",
        "lookahead selector",
        "broken selector",
        "unknown log level",
    ],
)
def test_what_the_collector_refuses_is_refused_in_one_line(
    config: dict[str, Any], named: str
) -> None:
    with pytest.raises(DeliveryError) as refused:
        parse(text(config))
    message = str(refused.value)
    assert named in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("job", "timeout_s"),
    [({"scrape_interval": "5s"}, 5.0), ({"scrape_interval": "60s"}, 10.0)],
    ids=["interval below the default timeout", "default"],
)
def test_a_jobs_timeout_is_the_default_one_at_most_its_interval(
    job: dict[str, Any], timeout_s: float
) -> None:
    """Prometheus: a job without scrape_timeout takes the global one, capped at its interval."""
    (read,) = parse(text(_with(("receivers", "prometheus"), _scrape(**job)))).prometheus[
        "prometheus"
    ]
    assert read.timeout_s == timeout_s


@pytest.mark.parametrize(
    ("level", "logging_level"),
    [("warn", "WARNING"), ("WARNING", "WARNING"), ("dpanic", "CRITICAL"), ("debug", "DEBUG")],
)
def test_every_zap_log_level_is_read_and_given_a_logging_level(
    level: str, logging_level: str
) -> None:
    read = parse(text(_with(("service", "telemetry"), {"logs": {"level": level}}))).log_level
    assert LOG_LEVELS[read] == logging_level


def rendered(env: str) -> str:
    """The rendered ``AOT_CONFIG_CONTENT`` of ``env`` as CloudFormation hands it to ECS: its
    ``Fn::Sub`` filled in, each parameter, resource or pseudo parameter standing for ``<name>``."""
    value = golden_collector_configs()[env]
    text = value if isinstance(value, str) else resolve(value, _Placeholders())
    assert text is not None, f"{env}: AOT_CONFIG_CONTENT is {value!r}, not text"
    return text


class _Placeholders(dict[str, str]):
    """Every parameter or resource name stands for ``<name>``."""

    def get(self, key: str, default: Any = None) -> str:
        return f"<{key}>"


def test_every_environment_renders_the_sidecar() -> None:
    assert sorted(golden_collector_configs()) == ["dev", "local", "prod"]


@pytest.mark.parametrize("env", sorted(golden_collector_configs()))
def test_the_rendered_configuration_is_one_the_stand_in_runs(env: str) -> None:
    # What the stacks render for each environment: the stand-in models all of it, and reads
    # what it honours.
    config = parse(rendered(env))
    assert {p.kind for p in config.pipelines} == {"traces", "metrics"}
    (metrics,) = [p for p in config.pipelines if p.kind == "metrics"]
    assert metrics.processors == ("memory_limiter", "cumulativetodelta", "batch")
    converter = config.cumulativetodelta["cumulativetodelta"]
    histograms = tuple(m.name for m in SERVICE_METRICS if m.kind is Kind.HISTOGRAM)
    assert (converter.metrics, converter.initial_value) == (histograms, "keep")
    assert config.memory_limiter["memory_limiter"].limit_mib > 0
    xray_exporter = config.awsxray["awsxray"]
    # The app's log group (the Fn::Sub variable AppLogGroup is a Ref to LogGroup).
    assert (xray_exporter.region, xray_exporter.aws_log_groups) == (
        "<AWS::Region>",
        ("<LogGroup>",),
    )
    exporter = config.awsemf["awsemf"]
    assert exporter.log_group_name == "<MetricsLogGroup>"
    assert exporter.retain_initial_value_of_delta_metric
    assert exporter.dimension_rollup_option == "NoDimensionRollup"
    assert [d.metric_name_selectors for d in exporter.metric_declarations] == [
        (f"^{m.name}$",) for m in SERVICE_METRICS
    ]


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


def test_the_exporters_log_groups_are_on_every_segment_unless_the_resource_names_its_own() -> None:
    request = ExportTraceServiceRequest()
    request.ParseFromString(request_payload(NOW))
    found = list(xray.spans(request))
    (segment,) = [json.loads(d) for d in xray.documents(found, log_groups=("/app/logs",), now=NOW)]
    assert segment["aws"] == {"cloudwatch_logs": [{"log_group": "/app/logs"}]}
    (resource, span) = found[0]
    arn = "arn:aws:logs:eu-north-1:123456789012:log-group:/own/logs"
    own = {**resource, "aws.log.group.arns": [arn]}
    (segment,) = [
        json.loads(d) for d in xray.documents([(own, span)], log_groups=("/app/logs",), now=NOW)
    ]
    assert segment["aws"] == {"cloudwatch_logs": [{"log_group": "/own/logs", "arn": arn}]}
    elsewhere = {**resource, "cloud.provider": "gcp"}
    (segment,) = [
        json.loads(d)
        for d in xray.documents([(elsewhere, span)], log_groups=("/app/logs",), now=NOW)
    ]
    assert "aws" not in segment


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


def _exported(config: CollectorConfig, scrapes: list[str]) -> list[list[dict[str, Any]]]:
    """The EMF events of each scrape through ``config``'s metrics pipeline: the receiver, its
    processors (memory_limiter and batch pass the points on), the exporter."""
    (pipeline,) = [p for p in config.pipelines if p.kind == "metrics"]
    converters = [
        emf.CumulativeToDelta(config.cumulativetodelta[p])
        for p in pipeline.processors
        if p in config.cumulativetodelta
    ]
    exporter = config.awsemf[pipeline.exporters[0]]
    deltas = emf.Deltas(exporter.retain_initial_value_of_delta_metric)
    made = []
    for index, scrape in enumerate(scrapes):
        found = emf.points(scrape, 1000 + 60000 * index)
        for converter in converters:
            found = converter.process(found)
        made.append(emf.events(deltas.adjust(found), exporter))
    return made


def _events(exporter_settings: dict[str, Any]) -> list[list[dict[str, Any]]]:
    config = _with(("exporters", "awsemf"), exporter_settings)
    return _exported(parse(text(config)), [SCRAPE_1, SCRAPE_2])


def _by_metric(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: event for event in events for name in event if name.startswith(("http_", "gun"))}


def test_a_scrape_becomes_emf_events_in_the_configured_namespace() -> None:
    settings = contract_config()["exporters"]["awsemf"]
    first, second = _events(settings)
    # Counters are deltas, their first scrape only the baseline; a histogram goes as it comes
    # (cumulative: awsemf converts only container insights' histograms).
    assert sorted(_by_metric(first)) == ["http_request_duration_seconds", "http_requests_in_flight"]
    by_metric = _by_metric(second)
    requests = by_metric["http_requests_total"]  # the family's name as exposed, _total kept
    assert requests["http_requests_total"] == 4.0
    assert requests["route"] == "/"
    assert requests["Version"] == "1"
    (directive,) = requests["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Metrics"] == [{"Name": "http_requests_total"}]
    assert directive["Dimensions"] == [["OTelLib", "method", "route", "status"]]
    assert requests["_aws"]["Timestamp"] == 61000
    latency = by_metric["http_request_duration_seconds"]["http_request_duration_seconds"]
    assert (latency["Count"], latency["Sum"]) == (7.0, pytest.approx(0.05))
    assert by_metric["http_requests_in_flight"]["http_requests_in_flight"] == 1.0


def test_the_first_value_of_a_counter_is_kept_when_the_exporter_retains_it() -> None:
    settings = {
        **contract_config()["exporters"]["awsemf"],
        "retain_initial_value_of_delta_metric": True,
    }
    first, second = _events(settings)
    assert _by_metric(first)["http_requests_total"]["http_requests_total"] == 3.0
    assert _by_metric(second)["http_requests_total"]["http_requests_total"] == 4.0


def _with_converter(initial_value: str) -> CollectorConfig:
    config = _with(
        ("processors", "cumulativetodelta"),
        {
            "include": {"metrics": ["http_request_duration_seconds"], "match_type": "strict"},
            "initial_value": initial_value,
        },
    )
    config["service"]["pipelines"]["metrics"]["processors"] = ["cumulativetodelta", "batch"]
    return parse(text(config))


@pytest.mark.parametrize(("initial_value", "first_count"), [("keep", 3.0), ("drop", None)])
def test_cumulativetodelta_turns_only_the_named_metrics_into_deltas(
    initial_value: str, first_count: float | None
) -> None:
    first, second = _exported(_with_converter(initial_value), [SCRAPE_1, SCRAPE_2])
    latency = _by_metric(first).get("http_request_duration_seconds")
    assert (latency and latency["http_request_duration_seconds"]["Count"]) == first_count
    delta = _by_metric(second)["http_request_duration_seconds"]["http_request_duration_seconds"]
    assert (delta["Count"], delta["Sum"]) == (4.0, pytest.approx(0.02))
    # The counter is not named: it reaches the exporter cumulative, which makes it a delta.
    assert _by_metric(second)["http_requests_total"]["http_requests_total"] == 4.0


def test_a_histogram_whose_count_fell_is_sent_whole_and_a_counter_reset_as_it_is() -> None:
    restarted = SCRAPE_1.replace("} 3.0", "} 1.0").replace("} 0.03", "} 0.01")
    _, _, third = _exported(_with_converter("keep"), [SCRAPE_1, SCRAPE_2, restarted])
    latency = _by_metric(third)["http_request_duration_seconds"]["http_request_duration_seconds"]
    assert (latency["Count"], latency["Sum"]) == (1.0, pytest.approx(0.01))
    assert _by_metric(third)["http_requests_total"]["http_requests_total"] == 1.0


def test_metric_declarations_choose_metrics_and_dimension_sets() -> None:
    settings = {
        **contract_config()["exporters"]["awsemf"],
        "metric_declarations": [
            {
                "dimensions": [[], ["route"], ["pod"]],
                "metric_name_selectors": ["^http_requests_total$"],
            }
        ],
    }
    _, second = _events(settings)
    extracted = [e for e in second if "_aws" in e]
    (event,) = extracted  # only the selected metric is extracted...
    (directive,) = event["_aws"]["CloudWatchMetrics"]
    # ...with the declared sets whose labels it has
    assert directive["Dimensions"] == [[], ["route"]]
    assert directive["Metrics"] == [{"Name": "http_requests_total"}]
    # The others are still written, as plain fields of an event CloudWatch extracts nothing from.
    assert sorted(_by_metric([e for e in second if "_aws" not in e])) == [
        "http_request_duration_seconds",
        "http_requests_in_flight",
    ]


def test_zero_and_single_rollup_adds_otellib_sets() -> None:
    settings = {
        **contract_config()["exporters"]["awsemf"],
        "dimension_rollup_option": "ZeroAndSingleDimensionRollup",
    }
    _, second = _events(settings)
    latency = next(e for e in second if "http_request_duration_seconds" in e)
    (directive,) = latency["_aws"]["CloudWatchMetrics"]
    # One label besides OTelLib: the single-label rollup is the whole set, sent once.
    assert directive["Dimensions"] == [["OTelLib"], ["OTelLib", "route"]]
    requests = next(e for e in second if "http_requests_total" in e)
    (directive,) = requests["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [
        ["OTelLib", "method", "route", "status"],
        ["OTelLib"],
        ["OTelLib", "method"],
        ["OTelLib", "route"],
        ["OTelLib", "status"],
    ]


# -- the real app's metrics, through the rendered configuration


def _app_scrapes() -> list[str]:
    """What the app's /metrics answers before and after a few requests (its real registry)."""
    metrics = Metrics("1.0", "abc", None)
    before = metrics.render().decode()
    for route, status, seconds in (
        ("/", "200", 0.01),
        ("/version", "200", 0.02),
        ("/", "500", 0.03),
    ):
        metrics.request_started()
        metrics.request_finished(route, "GET", status, seconds)
    return [before, metrics.render().decode()]


def test_the_apps_metrics_reach_emf_under_the_names_and_dimensions_service_metrics_gives() -> None:
    scrapes = _app_scrapes()
    exposed = {family.name for family in text_string_to_metric_families(scrapes[-1])}
    in_app = [m for m in SERVICE_METRICS if m.family in exposed]
    assert {m.name for m in in_app} >= {"http_requests_total", "http_request_duration_seconds"}
    batches = _exported(parse(rendered("local")), scrapes)
    directives = [
        d
        for batch in batches
        for e in batch
        for d in e.get("_aws", {}).get("CloudWatchMetrics", [])
    ]
    names = {metric["Name"] for d in directives for metric in d["Metrics"]}
    assert names == {m.name for m in in_app}
    for metric in in_app:
        sets = {
            tuple(dimensions)
            for d in directives
            if {"Name": metric.name} in d["Metrics"]
            for dimensions in d["Dimensions"]
        }
        assert sets == set(metric.dimension_sets), metric.name
    # The first request of each route and status counts (retained initial value): 3 requests.
    counted = [
        e[HTTP_REQUESTS.name]
        for batch in batches
        for e in batch
        if HTTP_REQUESTS.name in e
        and "_aws" in e
        and e["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    ]
    assert sum(counted) == 3.0
