"""A Prometheus scrape as the receiver, the cumulativetodelta processor and the awsemf exporter
make it: embedded-metric-format log events.

Follows the prometheus receiver, the processor
(processor/cumulativetodeltaprocessor/internal/tracking/tracker.go) and the awsemf exporter
(https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/exporter/awsemfexporter:
datapoint.go, metric_translator.go, grouped_metric.go):

- names: the receiver keeps each family's name as the exposition's ``# TYPE`` line gives it
  (no suffix trimming: ``trim_metric_suffixes`` is off by default, receiver/prometheusreceiver
  README), so prometheus-client's counter ``http_requests`` is ``http_requests_total``; a
  histogram's ``_bucket``/``_count``/``_sum`` series are one histogram named after the family;
- the scrape's ``job`` and ``instance`` labels become the resource (service.name,
  service.instance.id), not data point labels (``resource_to_telemetry_conversion`` off); every
  data point gets the ``OTelLib`` label, the receiver's instrumentation scope name;
- counters are cumulative sums, histograms cumulative (count, sum), gauges as they are;
  :class:`CumulativeToDelta` turns the metrics it names into deltas (first point kept or dropped
  as ``initial_value`` says);
- the exporter (:class:`Deltas`) turns the remaining cumulative sums into the delta since the
  previous scrape (first point dropped, or sent whole with
  ``retain_initial_value_of_delta_metric``; a value below the previous one is a reset, sent as
  is); histograms it sends as a statistic set (Count, Sum, Min, Max) as they come, cumulative or
  not (Prometheus histograms carry no min or max: 0);
- points of the same labels, timestamp and type are one event: the labels and the values as
  fields, and, when any of its metrics is to be extracted, ``Version: "1"`` and ``_aws``
  (``Timestamp``, ``CloudWatchMetrics``): without ``metric_declarations`` every label is the
  dimension set; with them only the metrics their ``metric_name_selectors`` select, each with the
  declared dimension sets whose labels the event has; ``dimension_rollup_option`` adds
  ``[OTelLib]`` (Zero) and ``[OTelLib, label]`` per label (Single).

Not modelled: units (a Prometheus text exposition has none), summaries (the app has none), the
receiver's own series (``up``, ``scrape_duration_seconds``...), its start-time adjustment, and the
expiry of the exporter's and processor's state; ``_created`` series of a counter family are
dropped (in the 0.0.4 text format prometheus-client exposes them as gauges of their own, which no
declaration selects).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from delivery.local.collector import config
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


SUM = "sum"
HISTOGRAM = "histogram"
GAUGE = "gauge"
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Point:
    """One data point as the receiver makes it and the processors and exporter pass it on.

    ``kind`` is the OTLP type (``sum`` for a Prometheus counter); ``cumulative`` says whether
    its value (a sum's, a histogram's count and sum) is the total since the series started, or
    a delta (what cumulativetodelta makes of it).
    """

    name: str
    value: float | Stats
    labels: Labels
    timestamp_ms: int
    kind: str = GAUGE
    cumulative: bool = False


def _exposed_types(text: str) -> set[str]:
    """The metric family names as the exposition's ``# TYPE`` lines spell them."""
    return {
        parts[2]
        for line in text.splitlines()
        if (parts := line.split())[:2] == ["#", "TYPE"] and len(parts) >= 3
    }


def points(text: str, timestamp_ms: int) -> list[Point]:
    """The data points the prometheus receiver makes of one scrape's ``text``: counters as
    cumulative sums, histograms as cumulative histograms, gauges as they are."""
    exposed = _exposed_types(text)
    found: list[Point] = []
    for family in text_string_to_metric_families(text):
        if family.type == "counter":
            # prometheus-client's parser trims a counter's _total from its family name; the
            # receiver keeps the name the TYPE line gives (module docstring).
            name = f"{family.name}_total" if f"{family.name}_total" in exposed else family.name
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                labels = _labels(sample.labels)
                found.append(Point(name, float(sample.value), labels, timestamp_ms, SUM, True))
        elif family.type == "gauge":
            for sample in family.samples:
                labels = _labels(sample.labels)
                found.append(Point(family.name, float(sample.value), labels, timestamp_ms))
        elif family.type == "histogram":
            found.extend(_histograms(family.name, family.samples, timestamp_ms))
    return [p for p in found if isinstance(p.value, Stats) or math.isfinite(p.value)]


def _labels(sample_labels: dict[str, str], drop: tuple[str, ...] = ()) -> Labels:
    kept = {k: v for k, v in sample_labels.items() if k not in _RESOURCE_LABELS and k not in drop}
    return tuple(sorted({**kept, OTEL_LIB_KEY: OTEL_LIB}.items()))


def _histograms(name: str, samples: Iterable[Any], timestamp_ms: int) -> Iterable[Point]:
    counts: dict[Labels, float] = {}
    sums: dict[Labels, float] = {}
    for sample in samples:
        labels = _labels(sample.labels, drop=("le",))
        if sample.name == f"{name}_count":
            counts[labels] = float(sample.value)
        elif sample.name == f"{name}_sum":
            sums[labels] = float(sample.value)
    for labels, count in counts.items():
        stats = Stats(count=count, sum=sums.get(labels, 0.0))
        yield Point(name, stats, labels, timestamp_ms, HISTOGRAM, True)


def _amounts(value: float | Stats) -> tuple[float, float]:
    return (value.count, value.sum) if isinstance(value, Stats) else (value, 0.0)


def _with_amounts(point: Point, count: float, total: float) -> Point:
    value: float | Stats = Stats(count=count, sum=total) if point.kind == HISTOGRAM else count
    return replace(point, value=value, cumulative=False)


@dataclass
class CumulativeToDelta:
    """The cumulativetodelta processor: the named cumulative sums and histograms become deltas
    (processor/cumulativetodeltaprocessor/internal/tracking/tracker.go, ``Convert``).

    A series' first point is sent as it is (``initial_value: keep``) or dropped (``drop``). A sum
    lower than its previous value is a reset and is dropped; a histogram whose count fell is
    sent with its whole cumulative value. Other metrics pass unchanged.
    """

    settings: config.CumulativeToDelta
    _previous: dict[tuple[str, Labels], tuple[float, float]] = field(default_factory=dict)

    def process(self, found: Iterable[Point]) -> list[Point]:
        """``found`` with the named cumulative points as deltas (the first and resets aside)."""
        made: list[Point] = []
        for point in found:
            names = self.settings.metrics
            if not point.cumulative or (names is not None and point.name not in names):
                made.append(point)
                continue
            converted = self._convert(point)
            if converted is not None:
                made.append(converted)
        return made

    def _convert(self, point: Point) -> Point | None:
        key = (point.name, point.labels)
        count, total = _amounts(point.value)
        previous = self._previous.get(key)
        self._previous[key] = (count, total)
        if previous is None:
            keep = self.settings.initial_value == "keep"
            return _with_amounts(point, count, total) if keep else None
        if count < previous[0]:
            return _with_amounts(point, count, total) if point.kind == HISTOGRAM else None
        return _with_amounts(point, count - previous[0], total - previous[1])


@dataclass
class Deltas:
    """The awsemf exporter's delta calculator for cumulative sums (datapoint.go,
    ``numberDataPointSlice.CalculateDeltaDatapoints``): the change since the previous point of
    the series; its first point is dropped, or sent whole with
    ``retain_initial_value_of_delta_metric``; a value below the previous one (a reset) is sent
    as it is. Histograms are not its business: awsemf sends a prometheus histogram's count and
    sum as they come (cumulative, unless cumulativetodelta made them deltas)."""

    retain_initial_value: bool = False
    _previous: dict[tuple[str, Labels], float] = field(default_factory=dict)

    def adjust(self, found: Iterable[Point]) -> list[Point]:
        """The points the exporter sends of ``found``."""
        made: list[Point] = []
        for point in found:
            if point.kind != SUM or not point.cumulative or isinstance(point.value, Stats):
                made.append(point)
                continue
            key = (point.name, point.labels)
            previous = self._previous.get(key)
            self._previous[key] = point.value
            if previous is None:
                if self.retain_initial_value:
                    made.append(replace(point, cumulative=False))
                continue
            delta = point.value - previous
            made.append(replace(point, value=delta if delta >= 0 else point.value))
        return made


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


def _unique(sets: Iterable[list[str]]) -> list[list[str]]:
    unique: list[list[str]] = []
    for candidate in sets:
        if sorted(candidate) not in [sorted(u) for u in unique]:
            unique.append(candidate)
    return unique


def _measurements(
    labels: dict[str, str], names: list[str], exporter: EmfExporter
) -> list[dict[str, Any]]:
    """The ``CloudWatchMetrics`` directives of one event's metrics (metric_translator.go,
    ``groupedMetricToCWMeasurement`` and ``...WithFilters``).

    Without declarations: one directive, every label one dimension set, plus the rollups. With
    them: each metric goes with the declarations whose ``metric_name_selectors`` match it, with
    their dimension sets whose labels the event has (plus the rollups); metrics matching the
    same declarations share a directive; a metric no declaration selects, or whose declarations
    leave no dimension set, is in no directive (its value stays in the event, as a field).
    """
    rollups = _rollup(exporter.dimension_rollup_option, labels)
    if not exporter.metric_declarations:
        whole = sorted(labels)
        # With one label (besides OTelLib), a single-label rollup repeats the whole set: the
        # translator then sends the rollups only.
        single = len(whole) <= 1 or (len(whole) == 2 and OTEL_LIB_KEY in labels)
        sets = rollups if rollups and single else [whole, *rollups]
        return [{"Namespace": exporter.namespace, "Dimensions": sets, "Metrics": _named(names)}]
    by_declarations: dict[tuple[int, ...], list[str]] = {}
    for name in names:
        matched = tuple(
            index
            for index, declaration in enumerate(exporter.metric_declarations)
            if any(re.search(s, name) for s in declaration.metric_name_selectors)
        )
        if matched:
            by_declarations.setdefault(matched, []).append(name)
    directives = []
    for matched, members in by_declarations.items():
        declared = [
            list(dimensions)
            for index in matched
            for dimensions in exporter.metric_declarations[index].dimensions
            if set(dimensions) <= set(labels)
        ]
        sets = _unique([*declared, *rollups])
        if sets:
            directives.append(
                {"Namespace": exporter.namespace, "Dimensions": sets, "Metrics": _named(members)}
            )
    return directives


def _named(names: list[str]) -> list[dict[str, str]]:
    return [{"Name": name} for name in names]


def events(found: Iterable[Point], exporter: EmfExporter) -> list[dict[str, Any]]:
    """The log events of these points for ``exporter``: one per labels, timestamp and kind
    (the exporter's grouping key), EMF (``_aws``) when any of its metrics is to be extracted."""
    grouped: dict[tuple[Labels, int, str], list[Point]] = {}
    for point in found:
        grouped.setdefault((point.labels, point.timestamp_ms, point.kind), []).append(point)
    made = []
    for (labels, timestamp_ms, _), members in grouped.items():
        values = {
            point.name: point.value.emf() if isinstance(point.value, Stats) else point.value
            for point in members
        }
        directives = _measurements(dict(labels), list(values), exporter)
        event: dict[str, Any] = dict(labels)
        if directives:
            # EMF version 1, the exporter's default ``version``.
            event["Version"] = "1"
            event["_aws"] = {"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}
        made.append({**event, **values})
    return made
