"""CloudWatch alarm factory: one shape for plain-metric and metric-math alarms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from troposphere import Template, cloudwatch

Comparison = Literal[
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric with its statistic (``p99`` and friends are extended statistics)."""

    namespace: str
    name: str
    dimensions: Mapping[str, Any]
    statistic: str = "Sum"

    def dimension_list(self) -> list[cloudwatch.MetricDimension]:
        """The dimensions as troposphere objects."""
        return [cloudwatch.MetricDimension(Name=k, Value=v) for k, v in self.dimensions.items()]


@dataclass(frozen=True)
class Alarm:
    """What an alarm watches and when it fires.

    ``expression`` set: metric math over ``metrics`` (ids ``m0``, ``m1``...); else the single
    metric ``metrics[0]``. ``datapoints`` of ``periods`` must breach (M of N) to alarm.
    """

    description: str
    metrics: Sequence[Metric]
    threshold: float
    comparison: Comparison = "GreaterThanThreshold"
    period: int = 60
    periods: int = 3
    datapoints: int = 3
    expression: str | None = None
    # Missing data means no traffic or no tasks reporting; per alarm it is good or bad.
    missing: Literal["notBreaching", "breaching", "ignore", "missing"] = "notBreaching"
    actions: Sequence[Any] = field(default_factory=tuple)


def _single(alarm: Alarm) -> dict[str, Any]:
    metric = alarm.metrics[0]
    props: dict[str, Any] = {
        "Namespace": metric.namespace,
        "MetricName": metric.name,
        "Dimensions": metric.dimension_list(),
        "Period": alarm.period,
    }
    if metric.statistic.startswith("p"):
        props["ExtendedStatistic"] = metric.statistic
    else:
        props["Statistic"] = metric.statistic
    return props


def _math(alarm: Alarm) -> dict[str, Any]:
    queries = [
        cloudwatch.MetricDataQuery(
            Id=f"m{index}",
            ReturnData=False,
            MetricStat=cloudwatch.MetricStat(
                Metric=cloudwatch.Metric(
                    Namespace=metric.namespace,
                    MetricName=metric.name,
                    Dimensions=metric.dimension_list(),
                ),
                Period=alarm.period,
                Stat=metric.statistic,
            ),
        )
        for index, metric in enumerate(alarm.metrics)
    ]
    queries.append(
        cloudwatch.MetricDataQuery(
            Id="e0", Expression=alarm.expression, Label=alarm.description, ReturnData=True
        )
    )
    return {"Metrics": queries}


def add_alarm(template: Template, logical_id: str, alarm: Alarm) -> cloudwatch.Alarm:
    """Add ``alarm`` to ``template``; alarm and OK notifications go to ``alarm.actions``."""
    props = _math(alarm) if alarm.expression else _single(alarm)
    props.update(
        AlarmDescription=alarm.description,
        ComparisonOperator=alarm.comparison,
        Threshold=alarm.threshold,
        EvaluationPeriods=alarm.periods,
        DatapointsToAlarm=alarm.datapoints,
        TreatMissingData=alarm.missing,
    )
    if alarm.actions:
        props["AlarmActions"] = list(alarm.actions)
        props["OKActions"] = list(alarm.actions)
    return template.add_resource(cloudwatch.Alarm(logical_id, **props))
