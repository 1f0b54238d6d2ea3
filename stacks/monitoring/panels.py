"""The dashboard's panels, defined once.

Two dashboards are generated from :data:`PANELS`: the CloudWatch dashboard of the monitoring
stack (stacks/monitoring/dashboard.py) and the local Grafana dashboard over Prometheus
(docgen/grafana.py -> compose/grafana/, ``invoke docs``). A panel is a title and its series; a
series names where its metric comes from, the metric, the statistic and the dimensions it is
split by. Grafana shows the panels whose series exist locally (the service's own metrics);
the load balancer's and ECS's exist only in AWS.

Every series on a service metric is checked against what CloudWatch has of it
(``own_metrics.checked``) when this module is imported, so a panel cannot ask for a statistic
awsemf does not deliver.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from stacks.common.service_metrics import (
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    HTTP_REQUESTS_IN_FLIGHT,
    ROUTE,
    STATUS,
    WORKER_RESTARTS,
    ServiceMetric,
)
from stacks.monitoring.own_metrics import (
    ERROR_LOG_LINES,
    REQUEST_DURATION_MS,
    ROUTE_DIMENSION,
    checked,
)

# Every panel's period, in CloudWatch and (as the rate window) in Grafana.
PERIOD_SECONDS = 60


class Source(StrEnum):
    """Where a series' metric comes from."""

    ALB = "AWS/ApplicationELB"
    ECS = "AWS/ECS"
    CONTAINER_INSIGHTS = "ECS/ContainerInsights"
    # The service's Prometheus metrics, through the collector's awsemf exporter (namespace
    # <project>/<environment>); locally, the same metrics in Prometheus.
    SERVICE = "service"
    # Metrics the monitoring stack's filters extract from the app's log lines (same namespace).
    LOGS = "logs"


@dataclass(frozen=True)
class Series:
    """One line (or, split by ``by``, one line per dimension value) of a panel.

    Attributes:
        source: where the metric comes from.
        metric: the CloudWatch metric name.
        stat: the CloudWatch statistic (``Sum``, ``Average``, ``p99``...).
        by: dimensions to split by (a search expression in CloudWatch); service and log metrics.
        label: the legend; empty for a split series (each line is named by its dimension value).
    """

    source: Source
    metric: str
    stat: str
    by: tuple[str, ...] = ()
    label: str = ""

    @property
    def quantile(self) -> float | None:
        """``p99`` -> 0.99; None for a statistic that is no percentile."""
        if self.stat.startswith("p"):
            return float(self.stat[1:]) / 100
        return None


@dataclass(frozen=True)
class Panel:
    """A graph: its title, series and the unit of its values (Grafana's unit id)."""

    title: str
    series: tuple[Series, ...]
    unit: str = "short"


def aws(source: Source, metric: str, stat: str, label: str = "") -> Series:
    """A series of an AWS service's metric, for the service's own resources."""
    return Series(source, metric, stat, label=label or metric)


def service(metric: ServiceMetric, stat: str, by: tuple[str, ...] = (), label: str = "") -> Series:
    """A series of one of the service's own metrics, refused if CloudWatch lacks it."""
    checked(metric, stat, by)
    return Series(Source.SERVICE, metric.name, stat, by, label)


def access_log_latency(stat: str) -> Series:
    """Request latency (ms) by route from the access lines: percentiles (own_metrics)."""
    return Series(Source.LOGS, REQUEST_DURATION_MS, stat, (ROUTE_DIMENSION,))


ALB = Source.ALB
PANELS: tuple[Panel, ...] = (
    Panel("Requests (ALB)", (aws(ALB, "RequestCount", "Sum"),)),
    Panel(
        "5xx (ALB and app)",
        (aws(ALB, "HTTPCode_ELB_5XX_Count", "Sum"), aws(ALB, "HTTPCode_Target_5XX_Count", "Sum")),
    ),
    Panel(
        "Latency p50 / p99 at the ALB (s)",
        (
            aws(ALB, "TargetResponseTime", "p50", "p50"),
            aws(ALB, "TargetResponseTime", "p99", "p99"),
        ),
        unit="s",
    ),
    Panel("Latency p99 by route, in the app (ms)", (access_log_latency("p99"),), unit="ms"),
    Panel("Requests by route", (service(HTTP_REQUESTS, "Sum", (ROUTE,)),)),
    Panel("Requests by status", (service(HTTP_REQUESTS, "Sum", (STATUS,)),)),
    Panel(
        "Mean latency by route, in the app (s)",
        (service(HTTP_REQUEST_DURATION, "Average", (ROUTE,)),),
        unit="s",
    ),
    Panel(
        "In-flight requests (per task)",
        (
            service(HTTP_REQUESTS_IN_FLIGHT, "Maximum", label="max"),
            service(HTTP_REQUESTS_IN_FLIGHT, "Average", label="average"),
        ),
    ),
    Panel("Worker restarts", (service(WORKER_RESTARTS, "Sum", label="restarts"),)),
    Panel("Error log lines", (Series(Source.LOGS, ERROR_LOG_LINES, "Sum", label="ERROR"),)),
    Panel(
        "CPU / memory (%)",
        (
            aws(Source.ECS, "CPUUtilization", "Average"),
            aws(Source.ECS, "MemoryUtilization", "Average"),
        ),
        unit="percent",
    ),
    Panel(
        "Tasks: running vs desired",
        (
            aws(Source.CONTAINER_INSIGHTS, "RunningTaskCount", "Average"),
            aws(Source.CONTAINER_INSIGHTS, "DesiredTaskCount", "Average"),
        ),
    ),
)
