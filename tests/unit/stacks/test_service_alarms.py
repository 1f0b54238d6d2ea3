"""The monitoring stack's alarms and dashboard on the service's own metrics.

What CloudWatch has of each metric is stacks.common.service_metrics' (awsemf's behaviour, cited
there); these tests hold the alarms and panels to it, evaluate the alarms' metric math, and run
the latency filter's pattern against an access line the app really writes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app.config import AppConfig
from app.factory import create_app
from stacks.common.service_metrics import (
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    HTTP_REQUESTS_IN_FLIGHT,
    ROUTE,
    SERVICE_METRICS,
    STATUS,
)
from stacks.monitoring import dashboard
from stacks.monitoring.own_metrics import (
    ACCESS_LOG_PATTERN,
    MAIN_ROUTE,
    REQUEST_DURATION_MS,
    checked,
)
from stacks.monitoring.panels import PANELS, Series, Source, service
from stacks.monitoring.service_alarms import SERVICE_ALARMS, SILENT_TASKS_THRESHOLD
from tests.support.cfn import Template, resources
from tests.support.metric_math import evaluate

Rendered = dict[str, dict[str, Template]]
BY_NAME = {metric.name: metric for metric in SERVICE_METRICS}


def alarm(rendered: Rendered, env: str, logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = resources(rendered[env]["monitoring"], "AWS::CloudWatch::Alarm")[
        logical_id
    ]["Properties"]
    return props


# --- what CloudWatch has of each service metric ----------------------------------------------


def test_a_percentile_of_the_request_histogram_is_refused() -> None:
    """awsemf sends the histogram as a statistic set with Min = Max = 0: CloudWatch answers its
    p99, with 0. A latency alarm or panel on it would read 0 for ever."""
    with pytest.raises(ValueError, match="no meaningful p99 of a histogram"):
        checked(HTTP_REQUEST_DURATION, "p99", (ROUTE,))
    with pytest.raises(ValueError, match="no meaningful p99"):
        service(HTTP_REQUEST_DURATION, "p99", (ROUTE,))
    with pytest.raises(ValueError, match="no meaningful Maximum of a histogram"):
        checked(HTTP_REQUEST_DURATION, "Maximum", ())
    checked(HTTP_REQUEST_DURATION, "Average", (ROUTE,))


def test_a_dimension_set_the_collector_does_not_send_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no dimension set \['method'\]"):
        checked(HTTP_REQUESTS, "Sum", ("method",))
    with pytest.raises(ValueError, match="no dimension set"):
        checked(HTTP_REQUESTS_IN_FLIGHT, "Maximum", (ROUTE,))
    checked(HTTP_REQUESTS, "Sum", (ROUTE, STATUS))


def test_every_service_series_of_every_panel_is_one_cloudwatch_has() -> None:
    series = [s for panel in PANELS for s in panel.series if s.source is Source.SERVICE]
    assert {s.metric for s in series} == set(BY_NAME), "a service metric has no panel"
    for one in series:
        checked(BY_NAME[one.metric], one.stat, one.by)


# --- the alarms --------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "seconds"), [("prod", 1.0), ("dev", 1.5)])
def test_the_main_route_p99_comes_from_the_access_lines(
    rendered: Rendered, env: str, seconds: float
) -> None:
    props = alarm(rendered, env, "MainRouteLatencyP99Alarm")
    assert (props["MetricName"], props["ExtendedStatistic"]) == (REQUEST_DURATION_MS, "p99")
    assert props["Namespace"] == f"flask-fargate/{env}"
    assert props["Dimensions"] == [{"Name": "route", "Value": MAIN_ROUTE}]
    # The ALB's LatencyP99Alarm objective, in milliseconds (the access lines' unit).
    alb = alarm(rendered, env, "LatencyP99Alarm")
    assert alb["Threshold"] == seconds
    assert props["Threshold"] == pytest.approx(seconds * 1000)
    assert props["TreatMissingData"] == "notBreaching"
    latency = resources(rendered[env]["monitoring"], "AWS::Logs::MetricFilter")
    (transformation,) = latency["RequestDurationFilter"]["Properties"]["MetricTransformations"]
    assert transformation["MetricNamespace"] == props["Namespace"]
    assert transformation["Unit"] == "Milliseconds"
    assert "DefaultValue" not in transformation


def test_a_worker_restart_alarms_within_five_minutes(rendered: Rendered) -> None:
    props = alarm(rendered, "prod", "WorkerRestartsAlarm")
    assert (props["MetricName"], props["Statistic"]) == ("gunicorn_worker_restarts_total", "Sum")
    assert props["Dimensions"] == []
    assert (props["Period"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (300, 1, 1)
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
    assert props["TreatMissingData"] == "notBreaching"
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]


def _silent_tasks(rendered: Rendered, points: float | None, running: float | None) -> float | None:
    """ServiceMetricsMissingAlarm's value for one 5-minute period."""
    metrics = alarm(rendered, "prod", "ServiceMetricsMissingAlarm")["Metrics"]
    names = {m["Id"]: m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m}
    values = {"http_requests_in_flight": points, "RunningTaskCount": running}
    (expression,) = [m["Expression"] for m in metrics if m.get("ReturnData")]
    return evaluate(expression, {id_: values[name] for id_, name in names.items()})


@pytest.mark.parametrize(
    ("points", "running", "alarms"),
    [
        (20, 4, False),  # 4 tasks, one in-flight value each per 60 s scrape
        (19, 4, False),  # a scrape just outside the period
        (21, 4, False),  # ...or one more inside it
        (15, 4, True),  # one task's collector is gone
        (55, 12, True),  # one of twelve
        (None, 3, True),  # no collector anywhere: no data point at all
        (0, 0, False),  # no task, nothing to report
    ],
)
def test_the_missing_metrics_alarm_counts_tasks_whose_collector_is_silent(
    rendered: Rendered, points: float | None, running: float, alarms: bool
) -> None:
    value = _silent_tasks(rendered, points, running)
    assert value is not None
    assert (value > SILENT_TASKS_THRESHOLD) is alarms


def test_the_missing_metrics_alarm_treats_no_data_as_breaching(rendered: Rendered) -> None:
    props = alarm(rendered, "prod", "ServiceMetricsMissingAlarm")
    # No Container Insights data either: the expression has no value, and that is an alarm.
    assert _silent_tasks(rendered, None, None) is None
    assert props["TreatMissingData"] == "breaching"
    stats = {m["MetricStat"]["Stat"] for m in props["Metrics"] if "MetricStat" in m}
    assert stats == {"SampleCount", "Average"}
    assert {m["MetricStat"]["Period"] for m in props["Metrics"] if "MetricStat" in m} == {300}
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (3, 3)


# --- the latency filter against a real access line ---------------------------------------------

TERM = re.compile(r'\$\.(\w+) = (\*|"[^"]*")')


def matches(pattern: str, line: dict[str, Any]) -> bool:
    """A JSON filter pattern of ``$.field = "value"`` / ``$.field = *`` terms joined by ``&&``."""
    body = pattern.strip().removeprefix("{").removesuffix("}").strip()
    terms = [TERM.fullmatch(term.strip()) for term in body.split("&&")]
    assert all(terms), f"pattern outside what this test reads: {pattern}"
    return all(
        t[1] in line and (t[2] == "*" or line[t[1]] == json.loads(t[2]))
        for t in terms
        if t is not None
    )


def test_the_latency_filter_takes_every_access_line_and_nothing_else(
    capfd: pytest.CaptureFixture[str],
) -> None:
    config = AppConfig(app_version="1.2.3", git_sha="abc123", build_time="2026-01-01T00:00:00Z")
    flask_app = create_app(config)
    capfd.readouterr()
    flask_app.test_client().get(MAIN_ROUTE, headers={"X-Request-ID": "a" * 32})
    flask_app.extensions["flask_fargate"]["access_log"].flush()
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line]
    (access,) = [line for line in lines if line.get("request_id") == "a" * 32]
    assert matches(ACCESS_LOG_PATTERN, access)
    assert access["route"] == MAIN_ROUTE
    assert isinstance(access["duration_ms"], int | float)
    assert not matches(ACCESS_LOG_PATTERN, {**access, "logger": "app.errors"})
    assert not matches(ACCESS_LOG_PATTERN, {"logger": "app.access", "message": "x"})


# --- the CloudWatch dashboard --------------------------------------------------------------------


def test_the_dashboard_has_every_panel_and_splits_by_search(rendered: Rendered) -> None:
    (resource,) = resources(rendered["prod"]["monitoring"], "AWS::CloudWatch::Dashboard").values()
    text, variables = resource["Properties"]["DashboardBody"]["Fn::Sub"]
    assert variables == {"MetricNamespace": "flask-fargate/prod"}
    widgets = json.loads(text)["widgets"]
    assert [w["properties"]["title"] for w in widgets] == [p.title for p in PANELS]
    positions = {(w["x"], w["y"]) for w in widgets}
    assert len(positions) == len(widgets), "two widgets in one place"
    rows = [row for w in widgets for row in w["properties"]["metrics"]]
    searches = [row[0]["expression"] for row in rows if isinstance(row[0], dict)]
    assert (
        "SEARCH('{\"${MetricNamespace}\",route} MetricName=\"RequestDurationMs\"', 'p99', 60)"
        in searches
    )
    assert (
        "SEARCH('{\"${MetricNamespace}\",route} MetricName=\"http_requests_total\"', 'Sum', 60)"
        in searches
    )
    # Every plain service-metric row asks for a statistic CloudWatch has of it.
    for row in rows:
        if row[0] == "${MetricNamespace}" and row[1] in BY_NAME:
            checked(BY_NAME[row[1]], row[-1]["stat"], ())


def test_a_split_series_is_one_search_per_dimension_set() -> None:
    series = Series(Source.SERVICE, "m", "Sum", (ROUTE, STATUS))
    assert dashboard.search(series) == (
        "SEARCH('{\"${MetricNamespace}\",route,status} MetricName=\"m\"', 'Sum', 60)"
    )
    assert dashboard.metric_row(series, 3) == [
        {"expression": dashboard.search(series), "id": "e3", "label": ""}
    ]


# --- what PutMetricAlarm refuses, which the emulator (moto) accepts ------------------------------

# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html:
# "Statistic: The statistic for the metric specified in MetricName, other than percentile. For
# percentile statistics, use ExtendedStatistic. When you call PutMetricAlarm and specify a
# MetricName, you must specify either Statistic or ExtendedStatistic, but not both."
# "If you use the Metrics parameter, you cannot include the Namespace, MetricName, Dimensions,
# Period, Unit, Statistic, or ExtendedStatistic parameters of PutMetricAlarm in the same
# operation."
STATISTICS = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"}
SINGLE_METRIC_ONLY = {
    "Namespace",
    "MetricName",
    "Dimensions",
    "Period",
    "Unit",
    "Statistic",
    "ExtendedStatistic",
}
PERCENTILE = re.compile(r"p(\d{1,2}(\.\d{1,2})?|100)")


def refusals(props: dict[str, Any]) -> list[str]:
    """What CloudWatch's PutMetricAlarm would refuse in an alarm's properties."""
    if "Metrics" in props:
        return sorted(f"{key} with Metrics" for key in SINGLE_METRIC_ONLY & set(props))
    found = []
    if ("Statistic" in props) == ("ExtendedStatistic" in props):
        found.append("exactly one of Statistic and ExtendedStatistic")
    if "Statistic" in props and props["Statistic"] not in STATISTICS:
        found.append(f"Statistic {props['Statistic']}")
    if "ExtendedStatistic" in props and not PERCENTILE.fullmatch(props["ExtendedStatistic"]):
        found.append(f"ExtendedStatistic {props['ExtendedStatistic']}")
    return found


def test_the_refusals_are_found() -> None:
    single = {"Namespace": "N", "MetricName": "M", "Period": 60}
    assert refusals({**single, "Statistic": "Sum", "ExtendedStatistic": "p99"})
    assert refusals(single)
    assert refusals({**single, "Statistic": "p99"}) == ["Statistic p99"]
    assert refusals({"Metrics": [], "Period": 60}) == ["Period with Metrics"]
    assert refusals({**single, "ExtendedStatistic": "p99.9"}) == []


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_every_monitoring_alarm_is_one_put_metric_alarm_accepts(
    rendered: Rendered, env: str
) -> None:
    for logical_id, resource in resources(
        rendered[env]["monitoring"], "AWS::CloudWatch::Alarm"
    ).items():
        assert refusals(resource["Properties"]) == [], logical_id


def test_the_alarms_on_collector_metrics_exist_only_where_a_collector_runs(
    rendered: Rendered,
) -> None:
    monitoring = rendered["prod"]["monitoring"]
    parameter = monitoring["Parameters"]["CollectorEnabled"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("true", ["true", "false"])
    assert monitoring["Conditions"]["CollectorRuns"] == {
        "Fn::Equals": [{"Ref": "CollectorEnabled"}, "true"]
    }
    conditions = {
        logical_id: resource.get("Condition")
        for logical_id, resource in resources(monitoring, "AWS::CloudWatch::Alarm").items()
        if logical_id in SERVICE_ALARMS
    }
    assert conditions == {
        "MainRouteLatencyP99Alarm": None,  # the access lines need no collector
        "WorkerRestartsAlarm": "CollectorRuns",
        "ServiceMetricsMissingAlarm": "CollectorRuns",
    }
