"""Alarms on the service's own measurements: latency of the main route, worker restarts, and the
absence of the metrics themselves.

Missing data, per alarm (TreatMissingData,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsData.html#alarms-and-missing-data):

- ``MainRouteLatencyP99Alarm`` and ``WorkerRestartsAlarm``: ``notBreaching``. No access line for
  the route in a minute is no slow request; no restart count is no restart. Neither may stand
  for "the measurements are gone": that is ServiceMetricsMissingAlarm's one job, so a collector
  that dies pages once, under its own name, instead of leaving these two quietly OK.
- ``ServiceMetricsMissingAlarm``: ``breaching``. It compares the tasks ECS runs with the tasks
  whose collector delivers metrics; with no data at all (no collector anywhere, or no Container
  Insights) it cannot tell, and silence is what it exists to catch.

An environment whose tasks run no collector (the service stack's ``collector.enabled: false``)
has no service metrics to miss: the parameter ``CollectorEnabled`` (the service stack's output
of that name; "true" when not passed) leaves the two alarms on collector metrics out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from troposphere import Equals, Parameter, Ref, Template

from stacks.common.alarms import Alarm, Metric, add_alarm
from stacks.common.service_metrics import (
    HTTP_REQUESTS_IN_FLIGHT,
    SCRAPE_INTERVAL_SECONDS,
    WORKER_RESTARTS,
)
from stacks.monitoring.own_metrics import (
    DATA_POINTS,
    MAIN_ROUTE,
    REQUEST_DURATION_MS,
    ROUTE_DIMENSION,
    service_metric,
)
from stacks.monitoring.settings import Settings

# The period over which the reporting tasks are counted: several scrapes, so that one late or
# early batch does not count a task as silent.
REPORTING_PERIOD_SECONDS = 300
# Tasks whose collector delivered no metrics: the tasks ECS reports running (Container Insights)
# minus the in-flight gauge's data points over the period, counted in scrape intervals.
SILENT_TASKS = f"m1 - FILL(m0, 0) / {REPORTING_PERIOD_SECONDS // SCRAPE_INTERVAL_SECONDS}"
# Above half a task: one task of any count whose collector is gone. Jitter of a scrape in or out
# of the period moves the count by a fraction of a task.
SILENT_TASKS_THRESHOLD = 0.5
SERVICE_ALARMS = ("MainRouteLatencyP99Alarm", "WorkerRestartsAlarm", "ServiceMetricsMissingAlarm")
# Whether the service's tasks run the collector, and the condition the alarms on its metrics
# carry; the access-log latency alarm needs no collector.
COLLECTOR_PARAMETER = "CollectorEnabled"
COLLECTOR_RUNS = "CollectorRuns"
ON_COLLECTOR_METRICS = ("WorkerRestartsAlarm", "ServiceMetricsMissingAlarm")


def _service_dimensions() -> dict[str, Any]:
    return {"ClusterName": Ref("ClusterName"), "ServiceName": Ref("ServiceName")}


def service_alarms(template: Template, settings: Settings, namespace: str, topic: Any) -> None:
    """The three alarms, notifying ``topic`` on ALARM and OK."""
    latency, restarts, missing = SERVICE_ALARMS
    alarms = {
        latency: Alarm(
            description=f"p99 latency of {MAIN_ROUTE} measured by the app (ms, access lines)",
            metrics=[Metric(namespace, REQUEST_DURATION_MS, {ROUTE_DIMENSION: MAIN_ROUTE}, "p99")],
            # The same objective as the ALB's LatencyP99Alarm, measured inside the app: the ALB's
            # alone alarming points at queueing before the app, both at the app itself.
            threshold=round(settings.p99_latency_seconds * 1000, 3),
        ),
        restarts: Alarm(
            description="gunicorn workers that exited unexpectedly and were replaced, in 5 min",
            metrics=[service_metric(namespace, WORKER_RESTARTS, "Sum", {})],
            threshold=0,
            period=300,
            periods=1,
            datapoints=1,
        ),
        missing: Alarm(
            description="tasks whose collector sends no metrics (sidecar stopped or failing)",
            metrics=[
                service_metric(namespace, HTTP_REQUESTS_IN_FLIGHT, DATA_POINTS, {}),
                Metric(
                    "ECS/ContainerInsights", "RunningTaskCount", _service_dimensions(), "Average"
                ),
            ],
            expression=SILENT_TASKS,
            threshold=SILENT_TASKS_THRESHOLD,
            period=REPORTING_PERIOD_SECONDS,
            # 15 minutes: tasks that start during a deploy report after their first scrape.
            periods=3,
            datapoints=3,
            missing="breaching",
        ),
    }
    template.add_parameter(
        Parameter(
            COLLECTOR_PARAMETER,
            Type="String",
            AllowedValues=["true", "false"],
            Default="true",
            Description="service stack output CollectorEnabled: whether its tasks run the "
            "collector that sends the service's metrics",
        )
    )
    template.add_condition(COLLECTOR_RUNS, Equals(Ref(COLLECTOR_PARAMETER), "true"))
    for logical_id, alarm in alarms.items():
        added = add_alarm(template, logical_id, replace(alarm, actions=[Ref(topic)]))
        if logical_id in ON_COLLECTOR_METRICS:
            added.Condition = COLLECTOR_RUNS
