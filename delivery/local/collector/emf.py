"""A Prometheus scrape as the awsemf exporter writes it: embedded-metric-format log events.

Follows the prometheus receiver and the awsemf exporter
(https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/exporter/awsemfexporter:
datapoint.go, metric_translator.go, grouped_metric.go):

- the scrape's ``job`` and ``instance`` labels become the resource (service.name,
  service.instance.id), not data point labels; a counter's ``_total`` is trimmed from its name
  (the receiver's name normalization);
- every data point gets the ``OTelLib`` label, the receiver's instrumentation scope name;
- a counter (cumulative) is sent as the delta since the previous scrape, and its first scrape is
  only the baseline (not sent); a value below the previous one counts as a reset (sent as is);
  a histogram is sent as a statistic set (Count, Sum, Min, Max) of the delta of its count and sum,
  first scrape again only the baseline (Prometheus histograms carry no min or max: 0);
  a gauge as is;
- without ``metric_declarations``, the dimension set is every label; with them, only metrics a
  declaration's ``metric_name_selectors`` (regular expressions) match are sent, with the
  declaration's dimension sets whose labels the point has; either way ``dimension_rollup_option``
  adds ``[OTelLib]`` (Zero) and ``[OTelLib, label]`` per label (Single);
- points of the same labels and timestamp are one event: ``{"_aws": {"Timestamp",
  "CloudWatchMetrics": [{"Namespace", "Dimensions", "Metrics"}]}, <label>: <value>...,
  <metric>: <value>...}``.

Not modelled: units (a Prometheus text exposition has none), summaries (the app has none),
``_created`` series (dropped here; the receiver would see them as gauges, which a declaration's
selectors leave out).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from delivery.local.collector.config import EmfExporter

# The prometheus receiver's instrumentation scope name (its metadata.ScopeName).
OTEL_LIB = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver"
OTEL_LIB_KEY = "OTelLib"
_RESOURCE_LABELS = ("job", "instance")


@dataclass(frozen=True)
class Stats:
    """A statistic set, as CloudWatch takes a histogram's values."""

    count: float
    sum: float
    min: float = 0.0
    max: float = 0.0

    def emf(self) -> dict[str, float]:
        """Its EMF form."""
        return {"Count": self.count, "Sum": self.sum, "Max": self.max, "Min": self.min}


@dataclass(frozen=True)
class Point:
    """One data point as the exporter groups it."""

    name: str
    value: float | Stats
    labels: tuple[tuple[str, str], ...]
    timestamp_ms: int


@dataclass
class Deltas:
    """The previous cumulative values, by metric and labels: the exporter's delta calculator."""

    _previous: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, float]] = field(
        default_factory=dict
    )

    def delta(
        self, name: str, labels: tuple[tuple[str, str], ...], count: float, total: float = 0.0
    ) -> tuple[float, float] | None:
        """The change since the last scrape; None on the first (the baseline)."""
        key = (name, labels)
        previous = self._previous.get(key)
        self._previous[key] = (count, total)
        if previous is None:
            return None
        if count < previous[0]:  # a reset: the value is what accumulated since
            return count, total
        return count - previous[0], total - previous[1]


def _labels(
    sample_labels: dict[str, str], drop: tuple[str, ...] = ()
) -> tuple[tuple[str, str], ...]:
    kept = {k: v for k, v in sample_labels.items() if k not in _RESOURCE_LABELS and k not in drop}
    return tuple(sorted({**kept, OTEL_LIB_KEY: OTEL_LIB}.items()))


def points(text: str, timestamp_ms: int, deltas: Deltas) -> list[Point]:
    """The data points the exporter sends from one scrape's ``text`` (see the module docstring)."""
    found: list[Point] = []
    for family in text_string_to_metric_families(text):
        if family.type == "counter":
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue  # _created
                labels = _labels(sample.labels)
                change = deltas.delta(family.name, labels, float(sample.value))
                if change is not None:
                    found.append(Point(family.name, change[0], labels, timestamp_ms))
        elif family.type == "gauge":
            for sample in family.samples:
                labels = _labels(sample.labels)
                found.append(Point(family.name, float(sample.value), labels, timestamp_ms))
        elif family.type == "histogram":
            found.extend(_histograms(family.name, family.samples, timestamp_ms, deltas))
    return [p for p in found if isinstance(p.value, Stats) or math.isfinite(p.value)]


def _histograms(
    name: str, samples: Iterable[Any], timestamp_ms: int, deltas: Deltas
) -> Iterable[Point]:
    counts: dict[tuple[tuple[str, str], ...], float] = {}
    sums: dict[tuple[tuple[str, str], ...], float] = {}
    for sample in samples:
        labels = _labels(sample.labels, drop=("le",))
        if sample.name == f"{name}_count":
            counts[labels] = float(sample.value)
        elif sample.name == f"{name}_sum":
            sums[labels] = float(sample.value)
    for labels, count in counts.items():
        change = deltas.delta(name, labels, count, sums.get(labels, 0.0))
        if change is not None:
            yield Point(name, Stats(count=change[0], sum=change[1]), labels, timestamp_ms)


def _rollup(option: str, labels: dict[str, str]) -> list[list[str]]:
    """dimensionRollup: ``[OTelLib]`` and ``[OTelLib, label]`` per label, as the option says."""
    zero = [OTEL_LIB_KEY] if OTEL_LIB_KEY in labels else []
    others = sorted(k for k in labels if k != OTEL_LIB_KEY)
    sets: list[list[str]] = []
    if option == "ZeroAndSingleDimensionRollup" and others:
        sets.append(zero)
    if option in ("ZeroAndSingleDimensionRollup", "SingleDimensionRollupOnly"):
        sets.extend([*zero, label] for label in others)
    return sets


def _dimension_sets(point: Point, exporter: EmfExporter) -> list[list[str]] | None:
    """The point's dimension sets; None when a declaration is required and none matches."""
    labels = dict(point.labels)
    if exporter.metric_declarations:
        sets: list[list[str]] = []
        matched = False
        for declaration in exporter.metric_declarations:
            if any(re.search(s, point.name) for s in declaration.metric_name_selectors):
                matched = True
                sets.extend(list(d) for d in declaration.dimensions if set(d) <= set(labels))
        if not matched:
            return None
    else:
        sets = [sorted(labels)]
    unique: list[list[str]] = []
    for candidate in [*sets, *_rollup(exporter.dimension_rollup_option, labels)]:
        if sorted(candidate) not in [sorted(u) for u in unique]:
            unique.append(candidate)
    return unique


def events(found: Iterable[Point], exporter: EmfExporter) -> list[dict[str, Any]]:
    """The EMF log events of these points for ``exporter`` (one per labels and timestamp)."""
    grouped: dict[tuple[tuple[tuple[str, str], ...], int], list[tuple[Point, list[list[str]]]]] = {}
    for point in found:
        sets = _dimension_sets(point, exporter)
        if sets is None:
            continue
        grouped.setdefault((point.labels, point.timestamp_ms), []).append((point, sets))
    made = []
    for (labels, timestamp_ms), members in grouped.items():
        directives = []
        for point, sets in members:
            directives.append(
                {
                    "Namespace": exporter.namespace,
                    "Dimensions": sets,
                    "Metrics": [{"Name": point.name}],
                }
            )
        event: dict[str, Any] = {
            "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": _merged(directives)},
            **dict(labels),
        }
        for point, _ in members:
            event[point.name] = point.value.emf() if isinstance(point.value, Stats) else point.value
        made.append(event)
    return made


def _merged(directives: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Directives with the same namespace and dimension sets, as one with all their metrics."""
    merged: list[dict[str, Any]] = []
    for directive in directives:
        for existing in merged:
            if existing["Dimensions"] == directive["Dimensions"]:
                existing["Metrics"].extend(directive["Metrics"])
                break
        else:
            merged.append({**directive, "Metrics": list(directive["Metrics"])})
    return merged
