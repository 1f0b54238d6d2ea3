"""stacks/common/service_metrics.py names what the app really exposes, as awsemf will name it."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.observability.metrics import Metrics
from stacks.common.service_metrics import (
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    HTTP_REQUESTS_IN_FLIGHT,
    SERVICE_METRICS,
    WORKER_RESTARTS,
    Kind,
    ServiceMetric,
)

# The metrics the app's own registry holds (the worker restarts are the gunicorn master's).
APP_REGISTRY = (HTTP_REQUESTS, HTTP_REQUEST_DURATION, HTTP_REQUESTS_IN_FLIGHT)
# Labels no dimension may be: unbounded, or one per task.
FORBIDDEN_DIMENSIONS = {"request_id", "trace_id", "task_id", "instance", "pid"}


def _exposition() -> dict[str, tuple[str, set[str], set[str]]]:
    """family -> (type, sample names, label names) of what the app's /metrics answers."""
    metrics = Metrics("1.0", "abc", None)
    metrics.request_started()
    metrics.request_finished("/", "GET", "200", 0.01)
    families = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        samples = [s for s in family.samples if not s.name.endswith("_created")]
        labels = {label for s in samples for label in s.labels} - {"le"}
        families[family.name] = (family.type, {s.name for s in samples}, labels)
    return families


@pytest.mark.parametrize("metric", APP_REGISTRY, ids=lambda m: m.name)
def test_each_metric_is_what_the_app_exposes(metric: ServiceMetric) -> None:
    kind, samples, labels = _exposition()[metric.family]
    assert kind == metric.kind
    assert labels == set(metric.labels)
    if metric.kind is Kind.COUNTER:
        # The prometheus receiver keeps the sample's name: the counter's "_total".
        assert samples == {metric.name}
    else:
        # A histogram's _bucket/_sum/_count become one OTLP histogram named after the family.
        assert metric.name == metric.family


@pytest.mark.parametrize("metric", SERVICE_METRICS, ids=lambda m: m.name)
def test_names_follow_the_receivers_rules_and_dimensions_stay_low_cardinality(
    metric: ServiceMetric,
) -> None:
    expected = f"{metric.family}_total" if metric.kind is Kind.COUNTER else metric.family
    assert metric.name == expected
    assert () in metric.dimension_sets  # every metric has its service-wide series
    for dimensions in metric.dimension_sets:
        assert set(dimensions) <= set(metric.labels)
        assert not set(dimensions) & FORBIDDEN_DIMENSIONS
    assert len(set(metric.dimension_sets)) == len(metric.dimension_sets)


def test_the_worker_restarts_counter_is_service_wide() -> None:
    assert WORKER_RESTARTS.labels == ()
    assert WORKER_RESTARTS.statistics == ("Sum",)
