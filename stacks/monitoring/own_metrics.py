"""The service's own measurements as the monitoring stack reads them.

Two routes bring them to CloudWatch, each for what it can carry:

- the collector sidecar's ``awsemf`` exporter: request counts, mean latency, in-flight requests
  and worker restarts, with the statistics ``stacks.common.service_metrics`` lists per metric;
- the access lines, through a metric filter here (:func:`add_latency_filter`): every request's
  ``duration_ms`` by ``route``. A metric filter publishes each matching log event's value as a
  raw data point, so CloudWatch computes true percentiles of it. The request histogram cannot
  give them: awsemf sends an explicit-bucket histogram as a statistic set whose Min and Max are
  both 0 (service_metrics' docstring), and CloudWatch answers percentiles of a statistic set
  only when its SampleCount is 1 or its Min equals its Max: "CloudWatch needs raw data points to
  calculate percentile statistics. If you publish data using a statistic set instead, you can
  only retrieve percentile statistics for this data if ... The Min and the Max values of the
  statistic set are equal"
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html).
  Min = Max = 0 meets that condition, so a p99 of the histogram would be answered, and be 0: a
  latency alarm on it could never fire. :func:`checked` refuses such a statistic.
"""

from __future__ import annotations

from troposphere import Ref, Template, logs

from stacks.common.alarms import Metric
from stacks.common.service_metrics import DimensionSet, ServiceMetric

# ERROR-level log lines, counted by the monitoring stack's ErrorLogFilter.
ERROR_LOG_LINES = "ErrorLogLines"
# The access-log latency metric (milliseconds, one data point per request) and its one dimension.
# The route is the URL rule template (or "<unmatched>"): bounded, never a path, id or address.
# CloudWatch Logs disables a metric filter that makes 1000 dimension values
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-logs-metricfilter-dimension.html).
REQUEST_DURATION_MS = "RequestDurationMs"
ROUTE_DIMENSION = "route"
LATENCY_FILTER = "RequestDurationFilter"
# The access logger's name (app.observability.logging's ACCESS_LOGGER): only access lines count.
# A field taken as the value must be matched by the pattern, if only as `= *`
# (https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk.aws_logs/MetricFilterOptions.html).
ACCESS_LOG_PATTERN = '{ $.logger = "app.access" && $.duration_ms = * }'
# The route whose p99 pages (MainRouteLatencyP99Alarm): the service's one business endpoint.
MAIN_ROUTE = "/"
# SampleCount: how many data points arrived. It means that for every kind of metric (for a
# gauge, one per task per scrape), whatever the kind's statistics of the value are.
DATA_POINTS = "SampleCount"


def checked(metric: ServiceMetric, statistic: str, dimensions: DimensionSet) -> None:
    """Refuse (ValueError) a statistic or dimension set CloudWatch does not have for ``metric``.

    A percentile of the request histogram is the case this exists for (module docstring): it is
    answered, and always 0.
    """
    if statistic not in (*metric.statistics, DATA_POINTS):
        raise ValueError(
            f"{metric.name}: CloudWatch has no meaningful {statistic} of a {metric.kind} "
            f"through awsemf; use one of {', '.join(metric.statistics)}"
        )
    if tuple(dimensions) not in metric.dimension_sets:
        raise ValueError(
            f"{metric.name}: no dimension set {list(dimensions)} in CloudWatch; the collector "
            f"sends {[list(d) for d in metric.dimension_sets]}"
        )


def service_metric(
    namespace: str, metric: ServiceMetric, statistic: str, dimensions: dict[str, str]
) -> Metric:
    """``metric`` in ``namespace`` as an alarm reads it, after :func:`checked`."""
    checked(metric, statistic, tuple(dimensions))
    return Metric(namespace, metric.name, dimensions, statistic)


def add_latency_filter(template: Template, namespace: str) -> logs.MetricFilter:
    """Every access line's ``duration_ms`` as ``RequestDurationMs`` by ``route``, in ms."""
    return template.add_resource(
        logs.MetricFilter(
            LATENCY_FILTER,
            LogGroupName=Ref("LogGroupName"),
            FilterPattern=ACCESS_LOG_PATTERN,
            MetricTransformations=[
                logs.MetricTransformation(
                    MetricNamespace=namespace,
                    MetricName=REQUEST_DURATION_MS,
                    MetricValue="$.duration_ms",
                    Unit="Milliseconds",
                    # No DefaultValue: a line that does not match is no request, not a 0 ms one.
                    Dimensions=[logs.Dimension(Key=ROUTE_DIMENSION, Value="$.route")],
                )
            ],
        )
    )
