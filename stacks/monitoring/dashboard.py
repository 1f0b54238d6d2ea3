"""A CloudWatch dashboard of the golden signals: traffic, errors, latency, saturation, tasks."""

from __future__ import annotations

import json
from typing import Any

from troposphere import Sub, Template, cloudwatch

LB = ["LoadBalancer", "${LoadBalancerFullName}"]
SERVICE = ["ClusterName", "${ClusterName}", "ServiceName", "${ServiceName}"]


def _widget(title: str, metrics: list[list[Any]], stat: str, x: int, y: int) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "stat": stat,
            "period": 60,
            "view": "timeSeries",
            "metrics": metrics,
        },
    }


def body() -> str:
    """The dashboard JSON with ``${...}`` placeholders for ``Fn::Sub``."""
    alb = "AWS/ApplicationELB"
    widgets = [
        _widget("Requests", [[alb, "RequestCount", *LB]], "Sum", 0, 0),
        _widget(
            "5xx (ALB and app)",
            [[alb, "HTTPCode_ELB_5XX_Count", *LB], [alb, "HTTPCode_Target_5XX_Count", *LB]],
            "Sum",
            12,
            0,
        ),
        _widget(
            "Latency p50 / p99 (s)",
            [
                [alb, "TargetResponseTime", *LB, {"stat": "p50"}],
                [alb, "TargetResponseTime", *LB, {"stat": "p99"}],
            ],
            "p99",
            0,
            6,
        ),
        _widget(
            "CPU / memory (%)",
            [["AWS/ECS", "CPUUtilization", *SERVICE], ["AWS/ECS", "MemoryUtilization", *SERVICE]],
            "Average",
            12,
            6,
        ),
        _widget(
            "Tasks: running vs desired",
            [
                ["ECS/ContainerInsights", "RunningTaskCount", *SERVICE],
                ["ECS/ContainerInsights", "DesiredTaskCount", *SERVICE],
            ],
            "Average",
            0,
            12,
        ),
        _widget(
            "Error log lines",
            [["${MetricNamespace}", "ErrorLogLines"]],
            "Sum",
            12,
            12,
        ),
    ]
    return json.dumps({"widgets": widgets}, sort_keys=True)


def add_dashboard(template: Template, namespace: str) -> None:
    """The dashboard; dimensions come from the stack's parameters through ``Fn::Sub``."""
    template.add_resource(
        cloudwatch.Dashboard("Dashboard", DashboardBody=Sub(body(), MetricNamespace=namespace))
    )
