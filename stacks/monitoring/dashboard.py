"""The CloudWatch dashboard, generated from the panels (stacks/monitoring/panels.py).

Placeholders ``${...}`` are filled by ``Fn::Sub`` from the stack's parameters (the service
stack's outputs) and the metric namespace. A series split by a dimension is a search expression:
its dimension values (the routes, the statuses) are not known when the template is built.
Search syntax: a namespace with characters other than letters and digits goes in double quotes
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html).
"""

from __future__ import annotations

import json
from typing import Any

from troposphere import Sub, Template, cloudwatch

from stacks.monitoring.panels import PANELS, PERIOD_SECONDS, Panel, Series, Source

NAMESPACE = "${MetricNamespace}"
LB = ["LoadBalancer", "${LoadBalancerFullName}"]
SERVICE = ["ClusterName", "${ClusterName}", "ServiceName", "${ServiceName}"]
# The dimensions of each AWS source's series: this environment's load balancer or ECS service.
AWS_DIMENSIONS = {
    Source.ALB: LB,
    Source.ECS: SERVICE,
    Source.CONTAINER_INSIGHTS: SERVICE,
}
WIDTH, HEIGHT = 12, 6


def search(series: Series) -> str:
    """The search expression of a split series: one line per value of its dimensions."""
    schema = ",".join([f'"{NAMESPACE}"', *series.by])
    return (
        f"SEARCH('{{{schema}}} MetricName=\"{series.metric}\"', '{series.stat}', {PERIOD_SECONDS})"
    )


def metric_row(series: Series, index: int) -> list[Any]:
    """One entry of a widget's ``metrics`` array."""
    if series.by:
        return [{"expression": search(series), "id": f"e{index}", "label": series.label}]
    options = {"stat": series.stat, "label": series.label}
    if series.source in AWS_DIMENSIONS:
        return [series.source.value, series.metric, *AWS_DIMENSIONS[series.source], options]
    return [NAMESPACE, series.metric, options]


def widget(panel: Panel, x: int, y: int) -> dict[str, Any]:
    """A time-series widget for ``panel`` at grid position (x, y)."""
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": panel.title,
            "region": "${AWS::Region}",
            "stat": panel.series[0].stat,
            "period": PERIOD_SECONDS,
            "view": "timeSeries",
            "metrics": [metric_row(s, i) for i, s in enumerate(panel.series)],
        },
    }


def body(panels: tuple[Panel, ...] = PANELS) -> str:
    """The dashboard JSON with ``${...}`` placeholders for ``Fn::Sub``: two panels a row."""
    widgets = [widget(panel, (i % 2) * WIDTH, (i // 2) * HEIGHT) for i, panel in enumerate(panels)]
    return json.dumps({"widgets": widgets}, sort_keys=True)


def add_dashboard(template: Template, namespace: str) -> None:
    """The dashboard; dimensions come from the stack's parameters through ``Fn::Sub``."""
    template.add_resource(
        cloudwatch.Dashboard("Dashboard", DashboardBody=Sub(body(), MetricNamespace=namespace))
    )
