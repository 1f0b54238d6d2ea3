"""Golden-signal alarms and SLO burn-rate alarms for the service, all notifying one topic."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from troposphere import Ref, Sub, Template, cloudwatch

from stacks.common.alarms import Alarm, Metric, add_alarm
from stacks.monitoring.settings import Settings

ALB = "AWS/ApplicationELB"

# Multi-window burn-rate alerting (Google SRE workbook, ch. 5): page when the error budget of
# 30 days burns fast (2 % of it in 1 h = 14.4x) or steadily (5 % in 6 h = 6x). The short window
# (1/12 of the long one) makes the alarm reset soon after the problem is fixed.
BURN_WINDOWS = (
    # (name, long period s, short period s, burn rate)
    ("Fast", 3600, 300, 14.4),
    ("Slow", 21600, 1800, 6.0),
)
# The error budget's window (the SRE workbook's 30 days), over which the SLO holds.
SLO_WINDOW_DAYS = 30
# Logical ids of the burn-rate composite alarms, one per window pair: the alarms that page, and
# the ones delivery's SLO gate reads (delivery/alarms.py).
BURN_RATE_ALARMS = tuple(f"{name}BurnRateAlarm" for name, *_ in BURN_WINDOWS)


def _lb() -> dict[str, Any]:
    return {"LoadBalancer": Ref("LoadBalancerFullName")}


def _service() -> dict[str, Any]:
    return {"ClusterName": Ref("ClusterName"), "ServiceName": Ref("ServiceName")}


def _target_groups(metric: str, statistic: str) -> list[Metric]:
    return [
        Metric(
            ALB,
            metric,
            {"TargetGroup": Ref(f"{color}TargetGroupFullName"), **_lb()},
            statistic=statistic,
        )
        for color in ("Blue", "Green")
    ]


def golden_signals(template: Template, settings: Settings, topic: Any) -> None:
    """Errors, latency, saturation and task health, each one alarm on the topic."""
    actions = [Ref(topic)]
    alarms = {
        "LoadBalancer5xxAlarm": Alarm(
            description="ALB-generated 5xx per minute (no healthy target, timeouts)",
            metrics=[Metric(ALB, "HTTPCode_ELB_5XX_Count", _lb())],
            threshold=settings.elb_5xx_per_minute,
        ),
        "Target5xxAlarm": Alarm(
            description="app 5xx per minute",
            metrics=[Metric(ALB, "HTTPCode_Target_5XX_Count", _lb())],
            threshold=settings.target_5xx_per_minute,
        ),
        "LatencyP99Alarm": Alarm(
            description="p99 target response time (seconds)",
            metrics=[Metric(ALB, "TargetResponseTime", _lb(), statistic="p99")],
            threshold=settings.p99_latency_seconds,
        ),
        "UnhealthyHostsAlarm": Alarm(
            description="unhealthy targets in the live target group",
            metrics=_target_groups("UnHealthyHostCount", "Maximum"),
            expression="MAX([FILL(m0, 0), FILL(m1, 0)])",
            threshold=0,
        ),
        "RunningBelowDesiredAlarm": Alarm(
            description="running tasks below the desired count for 5 minutes",
            metrics=[
                Metric("ECS/ContainerInsights", "DesiredTaskCount", _service(), "Average"),
                Metric("ECS/ContainerInsights", "RunningTaskCount", _service(), "Average"),
            ],
            expression="m0 - m1",
            threshold=0,
            periods=5,
            datapoints=5,
            # No Container Insights data means no tasks report at all: that is bad.
            missing="breaching",
        ),
        "CpuAlarm": Alarm(
            description="service CPU utilization (average over tasks)",
            metrics=[Metric("AWS/ECS", "CPUUtilization", _service(), "Average")],
            threshold=settings.cpu_percent,
            periods=5,
            datapoints=5,
        ),
        "MemoryAlarm": Alarm(
            description="service memory utilization (average over tasks)",
            metrics=[Metric("AWS/ECS", "MemoryUtilization", _service(), "Average")],
            threshold=settings.memory_percent,
            periods=5,
            datapoints=5,
        ),
    }
    for logical_id, alarm in alarms.items():
        add_alarm(template, logical_id, replace(alarm, actions=actions))


# Failed requests over all requests. RequestCount counts only requests the ALB routed to a target
# ("requests that are rejected before a target is chosen are not reflected in this metric"):
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
# The ALB's own 5xx (no healthy target, say) are failed requests too: they go into numerator and
# denominator, so the ratio stays within 0..1 even when no request reaches a target.
# m0, m1 and m2 of ERROR_RATIO, all Sum over the load balancer (``status`` reads them too).
ERROR_RATIO_METRICS = ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "RequestCount")
ERROR_RATIO = (
    "IF(FILL(m2, 0) + FILL(m1, 0) > 0, "
    "(FILL(m0, 0) + FILL(m1, 0)) / (FILL(m2, 0) + FILL(m1, 0)), 0)"
)


def _error_ratio(period: int, burn: float, settings: Settings, label: str) -> Alarm:
    threshold = round(burn * (1 - settings.availability_slo), 6)
    return Alarm(
        description=f"{label}: 5xx ratio above {burn}x the error budget",
        metrics=[Metric(ALB, metric, _lb()) for metric in ERROR_RATIO_METRICS],
        expression=ERROR_RATIO,
        threshold=threshold,
        period=period,
        periods=1,
        datapoints=1,
    )


def burn_rate(template: Template, settings: Settings, topic: Any) -> None:
    """Per window pair: long and short error-ratio alarms, ANDed by a composite that notifies."""
    for (name, long_period, short_period, burn), composite in zip(
        BURN_WINDOWS, BURN_RATE_ALARMS, strict=True
    ):
        long = add_alarm(
            template,
            f"{name}BurnLongAlarm",
            _error_ratio(long_period, burn, settings, f"{name} burn, {long_period // 60} min"),
        )
        short = add_alarm(
            template,
            f"{name}BurnShortAlarm",
            _error_ratio(short_period, burn, settings, f"{name} burn, {short_period // 60} min"),
        )
        template.add_resource(
            cloudwatch.CompositeAlarm(
                composite,
                AlarmDescription=(
                    f"SLO {settings.availability_slo:.2%}: error budget burning at {burn}x "
                    f"over {long_period // 3600} h and {short_period // 60} min"
                ),
                AlarmRule=Sub(
                    'ALARM("${Long}") AND ALARM("${Short}")', Long=Ref(long), Short=Ref(short)
                ),
                AlarmActions=[Ref(topic)],
                OKActions=[Ref(topic)],
            )
        )
