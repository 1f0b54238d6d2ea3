"""The service's own metrics as they land in CloudWatch: names, dimension sets, usable statistics.

The one home of these facts: the collector's configuration (stacks/service/collector_config.py)
selects exactly these metrics and dimension sets, and the dashboard and alarms read them from here.

How a metric gets there: the app exposes Prometheus metrics on ``/metrics``
(app/observability/metrics.py); the ADOT collector sidecar scrapes them with the ``prometheus``
receiver and its ``awsemf`` exporter writes them as embedded metric format (EMF) log events, from
which CloudWatch extracts the metrics into the namespace ``<project>/<environment>``
(:func:`metric_namespace`). What each step does to a metric, checked against the source:

- Names. The prometheus receiver keeps the exposed sample names unless ``trim_metric_suffixes``
  is set (experimental, default false; receiver/prometheusreceiver README, and
  https://github.com/open-telemetry/opentelemetry-collector-contrib/pull/24256). A counter
  declared as ``http_requests`` is exposed by prometheus-client as ``http_requests_total``
  (https://github.com/prometheus/client_python/issues/677), so the CloudWatch metric is
  ``http_requests_total``. A histogram's ``_bucket``/``_sum``/``_count`` series become ONE
  OTLP histogram named after the family (``http_request_duration_seconds``). A gauge keeps its
  name. prometheus-client's ``*_created`` series are separate gauges; no declaration selects them,
  so awsemf drops them.
- Counters (cumulative OTLP sums): awsemf converts them to the delta since the previous scrape
  (exporter/awsemfexporter/datapoint.go, ``adjustToDelta`` for cumulative sums). By default it
  drops each series' first point (the baseline); the collector sets
  ``retain_initial_value_of_delta_metric`` so the first request of a new route and status counts
  too (stacks/service/collector_config.py). In CloudWatch, ``Sum`` over a period is the number of
  events in it.
- Histograms (explicit buckets): awsemf sends a statistic set (SampleCount, Sum, Min, Max), never
  the buckets: CloudWatch gets no percentiles from an explicit-bucket histogram (percentiles need
  EMF ``Values``/``Counts``, which awsemf writes only for exponential histograms, and
  prometheus-client has none; https://github.com/aws-observability/aws-otel-collector/issues/918).
  Min and Max: a Prometheus histogram carries neither, so both arrive as 0 and mean nothing.
  awsemf does NOT turn a prometheus-receiver histogram into deltas (only container-insights ones,
  datapoint.go ``getDataPoints``), so the collector's ``cumulativetodelta`` processor does it
  first; then ``SampleCount`` is the requests in the period, ``Sum`` their total seconds, and
  ``Average`` the mean latency. A period without requests has no useful latency point: alarms on
  it treat missing data as not breaching. Latency percentiles in CloudWatch therefore come from
  the load balancer's ``TargetResponseTime`` (per target group, not per route); per-route
  percentiles are what the local Prometheus shows from the same histogram.
- Gauges: sent as scraped, one value per scrape interval: ``Maximum`` and ``Average``.
- Dimensions: the exporter runs with ``dimension_rollup_option: NoDimensionRollup`` (any other
  option ADDS rollups of every label, e.g. ``[method]`` and ``[status]`` alone, to the declared
  sets: metric_translator.go ``groupedMetricToCWMeasurementsWithFilters``), and
  ``resource_to_telemetry_conversion`` off, so the scrape's ``service.instance.id`` (the task's
  address) never becomes a dimension. A data point counts towards every declared set whose
  labels it has, and CloudWatch aggregates all data points of one dimension combination: the
  ``[route]`` series of a counter is the sum over methods and statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """The Prometheus type of a metric, which decides what awsemf sends (module docstring)."""

    COUNTER = "counter"
    HISTOGRAM = "histogram"
    GAUGE = "gauge"


# The app's label names (app/observability/metrics.py), bounded by construction: routes are URL
# rule templates (or one "<unmatched>"), methods one of seven (or "other"), statuses HTTP codes.
# How often each task's collector scrapes the app's /metrics (stacks/service/collector_config.py):
# one gauge value per task per interval, which the monitoring stack counts reporting tasks by.
SCRAPE_INTERVAL_SECONDS = 60
ROUTE = "route"
METHOD = "method"
STATUS = "status"

DimensionSet = tuple[str, ...]
# The dimensionless series: the whole service.
SERVICE_WIDE: DimensionSet = ()

# What CloudWatch gets for each kind that means something (module docstring).
COUNTER_STATISTICS = ("Sum",)
HISTOGRAM_STATISTICS = ("Average", "SampleCount", "Sum")
GAUGE_STATISTICS = ("Maximum", "Average")
_STATISTICS = {
    Kind.COUNTER: COUNTER_STATISTICS,
    Kind.HISTOGRAM: HISTOGRAM_STATISTICS,
    Kind.GAUGE: GAUGE_STATISTICS,
}


@dataclass(frozen=True)
class ServiceMetric:
    """One of the service's metrics as CloudWatch has it.

    Attributes:
        name: the CloudWatch metric name (the Prometheus sample name; ``_total`` for counters).
        family: the metric's name in the app's Prometheus registry (without ``_total``).
        kind: the Prometheus type.
        labels: the labels the app puts on every sample.
        dimension_sets: the dimension sets CloudWatch gets; each a subset of ``labels``, never a
            request, task or trace id.
        unit: what one unit of the value is (awsemf sends no unit: the text exposition has none).
    """

    name: str
    family: str
    kind: Kind
    labels: tuple[str, ...]
    dimension_sets: tuple[DimensionSet, ...]
    unit: str

    @property
    def statistics(self) -> tuple[str, ...]:
        """The CloudWatch statistics of this metric that mean something (module docstring)."""
        return _STATISTICS[self.kind]


HTTP_REQUESTS = ServiceMetric(
    name="http_requests_total",
    family="http_requests",
    kind=Kind.COUNTER,
    labels=(ROUTE, METHOD, STATUS),
    dimension_sets=(SERVICE_WIDE, (ROUTE,), (STATUS,), (ROUTE, STATUS)),
    unit="requests",
)
HTTP_REQUEST_DURATION = ServiceMetric(
    name="http_request_duration_seconds",
    family="http_request_duration_seconds",
    kind=Kind.HISTOGRAM,
    labels=(ROUTE, METHOD),
    dimension_sets=(SERVICE_WIDE, (ROUTE,)),
    unit="seconds",
)
HTTP_REQUESTS_IN_FLIGHT = ServiceMetric(
    name="http_requests_in_flight",
    family="http_requests_in_flight",
    kind=Kind.GAUGE,
    labels=(),
    dimension_sets=(SERVICE_WIDE,),
    unit="requests",
)
WORKER_RESTARTS = ServiceMetric(
    name="gunicorn_worker_restarts_total",
    family="gunicorn_worker_restarts",
    kind=Kind.COUNTER,
    labels=(),
    dimension_sets=(SERVICE_WIDE,),
    unit="restarts",
)

SERVICE_METRICS: tuple[ServiceMetric, ...] = (
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS_IN_FLIGHT,
    WORKER_RESTARTS,
)


def metric_namespace(project: str, environment: str) -> str:
    """The CloudWatch namespace of ``environment``'s service metrics (the monitoring stack's)."""
    return f"{project}/{environment}"
