"""The collector configuration (``AOT_CONFIG_CONTENT``), read as the stand-in implements it.

Every component and setting is checked against what the stand-in models; anything else is a
one-line ``DeliveryError`` naming it, so that a configuration accepted here uses nothing the
local run would silently ignore. What the real collector refuses at start (ADOT v0.49.0: collector
and contrib v0.156.0, as aws-otel-collector vendors them) is refused here too, each check citing
where upstream refuses it. Defaults are the components' own, as their READMEs give them:

- otlp receiver: https://github.com/open-telemetry/opentelemetry-collector/blob/main/receiver/otlpreceiver/README.md
- prometheus receiver: https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/main/receiver/prometheusreceiver/README.md
- batch processor (timeout 200ms, send_batch_size 8192, send_batch_max_size 0): https://github.com/open-telemetry/opentelemetry-collector/blob/main/processor/batchprocessor/README.md
- awsxray exporter: https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/main/exporter/awsxrayexporter/README.md
- awsemf exporter (log_group_name ``/metrics/default``, log_stream_name ``otel-stream``,
  dimension_rollup_option ``ZeroAndSingleDimensionRollup``): https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/main/exporter/awsemfexporter/README.md
- health_check extension: https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/main/extension/healthcheckextension/README.md
- memory_limiter processor (check_interval, limit_mib, spike_limit_mib; read, no effect here):
  https://github.com/open-telemetry/opentelemetry-collector/blob/main/processor/memorylimiterprocessor/README.md
- cumulativetodelta processor (``include`` with ``match_type: strict``, ``initial_value`` keep or
  drop): https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/main/processor/cumulativetodeltaprocessor/README.md
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from delivery.errors import DeliveryError

# The task definition's collector container, and the variable ADOT reads its configuration from.
CONTAINER = "otel-collector"
SOURCE = "AOT_CONFIG_CONTENT"
# cumulativetodelta's initial_value: ``auto`` (its default) decides by the series' start time,
# which the prometheus receiver sets in ways not modelled here.
INITIAL_VALUES = ("keep", "drop")
ROLLUPS = ("NoDimensionRollup", "SingleDimensionRollupOnly", "ZeroAndSingleDimensionRollup")
# A Go duration (time.ParseDuration: batch timeout, memory_limiter check_interval) may have a
# fraction; a Prometheus one (scrape_interval, scrape_timeout) may not: prometheus/common
# model/time.go ParseDuration takes whole numbers only ("1.5s" refused). One unit each here.
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_PROMETHEUS_DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# The log levels the collector's logger takes (zapcore Level.UnmarshalText, either case), and
# the stand-in's logging level for each.
LOG_LEVELS = {
    "debug": "DEBUG",
    "info": "INFO",
    "warn": "WARNING",
    "warning": "WARNING",
    "error": "ERROR",
    "dpanic": "CRITICAL",
    "panic": "CRITICAL",
    "fatal": "CRITICAL",
}


@dataclass(frozen=True)
class Address:
    """A ``host:port`` the configuration names (a container address in the task's network)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ScrapeJob:
    """One ``scrape_configs`` entry of the prometheus receiver."""

    name: str
    targets: tuple[Address, ...]
    metrics_path: str = "/metrics"
    interval_s: float = 60.0
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Batch:
    """The batch processor's settings."""

    timeout_s: float = 0.2
    send_batch_size: int = 8192
    send_batch_max_size: int = 0


@dataclass(frozen=True)
class MemoryLimiter:
    """The memory_limiter processor's settings: read, and without effect here (the stand-in's
    memory is not the sidecar's, and nothing here sheds load), so data passes through it."""

    check_interval_s: float
    limit_mib: int
    spike_limit_mib: int


@dataclass(frozen=True)
class CumulativeToDelta:
    """The cumulativetodelta processor's settings: which metrics (by exact name) it converts,
    and what it does with a series' first point (``keep``, ``drop``, ``auto``)."""

    metrics: tuple[str, ...] | None = None  # None: every cumulative sum and histogram
    initial_value: str = "keep"


@dataclass(frozen=True)
class XRayExporter:
    """The awsxray exporter's settings."""

    region: str = ""  # "": the task's region
    indexed_attributes: tuple[str, ...] = ()
    index_all_attributes: bool = False
    aws_log_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricDeclaration:
    """One awsemf ``metric_declarations`` entry: which metrics, with which dimension sets."""

    dimensions: tuple[tuple[str, ...], ...]
    metric_name_selectors: tuple[str, ...]


@dataclass(frozen=True)
class EmfExporter:
    """The awsemf exporter's settings."""

    namespace: str = ""
    log_group_name: str = "/metrics/default"
    log_stream_name: str = "otel-stream"
    region: str = ""  # "": the task's region
    dimension_rollup_option: str = "ZeroAndSingleDimensionRollup"
    metric_declarations: tuple[MetricDeclaration, ...] = ()
    retain_initial_value_of_delta_metric: bool = False


@dataclass(frozen=True)
class Pipeline:
    """A ``service.pipelines`` entry: its kind (traces, metrics) and component ids in order."""

    name: str
    receivers: tuple[str, ...]
    processors: tuple[str, ...]
    exporters: tuple[str, ...]

    @property
    def kind(self) -> str:
        """``traces`` or ``metrics`` (a pipeline id is ``<kind>[/<name>]``)."""
        return self.name.split("/", 1)[0]


@dataclass(frozen=True)
class CollectorConfig:
    """What the stand-in runs: its components by id, and the pipelines that wire them."""

    otlp: dict[str, Address] = field(default_factory=dict)  # receiver id -> http endpoint
    prometheus: dict[str, tuple[ScrapeJob, ...]] = field(default_factory=dict)
    batch: dict[str, Batch] = field(default_factory=dict)
    memory_limiter: dict[str, MemoryLimiter] = field(default_factory=dict)
    cumulativetodelta: dict[str, CumulativeToDelta] = field(default_factory=dict)
    awsxray: dict[str, XRayExporter] = field(default_factory=dict)
    awsemf: dict[str, EmfExporter] = field(default_factory=dict)
    health_check: dict[str, Address] = field(default_factory=dict)
    pipelines: tuple[Pipeline, ...] = ()
    log_level: str = "info"

    def ports(self) -> tuple[int, ...]:
        """The container ports the collector listens on (receivers and extensions)."""
        return tuple(sorted({a.port for a in (*self.otlp.values(), *self.health_check.values())}))

    def targets(self) -> tuple[Address, ...]:
        """Every scrape target the prometheus receivers name."""
        jobs = [job for jobs in self.prometheus.values() for job in jobs]
        return tuple(target for job in jobs for target in job.targets)


def _refuse(where: str, what: str) -> DeliveryError:
    return DeliveryError(
        f"{SOURCE}: {where}: {what}; the local stand-in for ADOT implements only the issue-13 "
        "components (delivery/local/collector/config.py): change the stack's collector "
        "configuration, or model it there"
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _refuse(where, f"expected a mapping, got {type(value).__name__}")
    return value


def _only(value: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _refuse(where, f"setting {unknown[0]} is not modelled")


def _duration(value: Any, where: str, form: re.Pattern[str] = _DURATION) -> float:
    """A Go duration (``60s``, ``200ms``, ``1m``) in seconds; ``form`` :data:`_PROMETHEUS_DURATION`
    for a Prometheus one."""
    found = form.match(str(value))
    if not found:
        example = "200ms, 60s, 1m, 1h" + (", whole numbers" if form is _PROMETHEUS_DURATION else "")
        raise _refuse(where, f"duration {value!r} is not of the form {example}")
    return float(found.group(1)) * _UNIT_S[found.group(2)]


def _scrape_duration(value: Any, where: str) -> float:
    return _duration(value, where, _PROMETHEUS_DURATION)


def _address(value: Any, where: str) -> Address:
    host, sep, port = str(value).rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise _refuse(where, f"{value!r} is not host:port")
    return Address(host, int(port))


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _refuse(where, "expected a list of strings")
    return tuple(value)


def _otlp(settings: dict[str, Any], where: str) -> Address:
    _only(settings, ("protocols",), where)
    protocols = _mapping(settings.get("protocols"), f"{where}.protocols")
    _only(protocols, ("http",), f"{where}.protocols")  # the app exports OTLP/HTTP only
    if "http" not in protocols:
        raise _refuse(f"{where}.protocols", "no http protocol")
    http = _mapping(protocols["http"], f"{where}.protocols.http")
    _only(http, ("endpoint",), f"{where}.protocols.http")
    # The receiver's default (collector v0.104.0 on) is localhost:4318.
    return _address(http.get("endpoint", "localhost:4318"), f"{where}.protocols.http.endpoint")


def _scrape_job(job: Any, where: str, interval_s: float, timeout_s: float) -> ScrapeJob:
    job = _mapping(job, where)
    allowed = ("job_name", "scrape_interval", "scrape_timeout", "metrics_path", "static_configs")
    _only(job, allowed, where)
    statics = job.get("static_configs") or []
    if not isinstance(statics, list) or not statics:
        raise _refuse(where, "static_configs with targets are the only service discovery modelled")
    targets: list[Address] = []
    for index, entry in enumerate(statics):
        static = _mapping(entry, f"{where}.static_configs[{index}]")
        _only(static, ("targets",), f"{where}.static_configs[{index}]")
        for target in _strings(static.get("targets"), f"{where}.static_configs[{index}].targets"):
            targets.append(_address(target, f"{where}.static_configs[{index}].targets"))
    interval, timeout = _interval_and_timeout(job, where, interval_s, timeout_s)
    return ScrapeJob(
        name=str(job.get("job_name", "")),
        targets=tuple(targets),
        metrics_path=str(job.get("metrics_path", "/metrics")),
        interval_s=interval,
        timeout_s=timeout,
    )


def _interval_and_timeout(
    settings: Mapping[str, Any], where: str, interval_s: float, timeout_s: float
) -> tuple[float, float]:
    """A scrape's interval and timeout, as Prometheus validates them (prometheus config/config.go
    ``GlobalConfig`` and ``ScrapeConfig.Validate``): a timeout set above the interval is refused;
    one left out is the default one, at most the interval."""
    interval = interval_s
    if "scrape_interval" in settings:
        interval = _scrape_duration(settings["scrape_interval"], f"{where}.scrape_interval")
    if "scrape_timeout" not in settings:
        return interval, min(timeout_s, interval)
    timeout = _scrape_duration(settings["scrape_timeout"], f"{where}.scrape_timeout")
    if timeout > interval:
        raise _refuse(f"{where}.scrape_timeout", "greater than scrape_interval")
    return interval, timeout


def _prometheus(settings: dict[str, Any], where: str) -> tuple[ScrapeJob, ...]:
    _only(settings, ("config",), where)
    config = _mapping(settings.get("config"), f"{where}.config")
    _only(config, ("global", "scrape_configs"), f"{where}.config")
    defaults = _mapping(config.get("global"), f"{where}.config.global")
    _only(defaults, ("scrape_interval", "scrape_timeout"), f"{where}.config.global")
    # Prometheus's own defaults: 1m interval, 10s timeout.
    interval, timeout = _interval_and_timeout(defaults, f"{where}.config.global", 60.0, 10.0)
    jobs = config.get("scrape_configs") or []
    if not isinstance(jobs, list) or not jobs:
        raise _refuse(f"{where}.config", "no scrape_configs")
    read = tuple(
        _scrape_job(job, f"{where}.config.scrape_configs[{i}]", interval, timeout)
        for i, job in enumerate(jobs)
    )
    names = [job.name for job in read]
    for name in names:
        # Prometheus refuses a job name twice (config/config.go "found multiple scrape configs").
        if names.count(name) > 1:
            raise _refuse(f"{where}.config.scrape_configs", f"job name {name!r} is used twice")
    return read


def _batch(settings: dict[str, Any], where: str) -> Batch:
    _only(settings, ("timeout", "send_batch_size", "send_batch_max_size"), where)
    return Batch(
        timeout_s=_duration(settings.get("timeout", "200ms"), where),
        send_batch_size=int(settings.get("send_batch_size", 8192)),
        send_batch_max_size=int(settings.get("send_batch_max_size", 0)),
    )


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _refuse(where, f"{value!r} is not true or false")
    return value


def _memory_limiter(settings: dict[str, Any], where: str) -> MemoryLimiter:
    # The percentage settings depend on the container's cgroup limit: not modelled.
    _only(settings, ("check_interval", "limit_mib", "spike_limit_mib"), where)
    if "check_interval" not in settings or "limit_mib" not in settings:
        raise _refuse(where, "check_interval and limit_mib are required")
    limit = int(settings["limit_mib"])
    # The processor's own default spike limit: a fifth of the limit.
    spike = int(settings.get("spike_limit_mib", limit // 5))
    if not 0 <= spike < limit:
        raise _refuse(f"{where}.spike_limit_mib", f"{spike} is not below limit_mib {limit}")
    check_interval = _duration(settings["check_interval"], f"{where}.check_interval")
    # The processor refuses a check interval of zero (internal/memorylimiter/config.go).
    if check_interval <= 0:
        raise _refuse(f"{where}.check_interval", "must be greater than zero")
    return MemoryLimiter(check_interval, limit, spike)


def _cumulativetodelta(settings: dict[str, Any], where: str) -> CumulativeToDelta:
    # exclude, max_stale and the regexp match type are not modelled.
    _only(settings, ("include", "initial_value"), where)
    initial = str(settings.get("initial_value", "auto"))
    if initial not in INITIAL_VALUES:
        raise _refuse(f"{where}.initial_value", f"{initial!r} is not one of {INITIAL_VALUES}")
    if "include" not in settings:
        return CumulativeToDelta(None, initial)
    include = _mapping(settings["include"], f"{where}.include")
    _only(include, ("metrics", "match_type"), f"{where}.include")
    if include.get("match_type") != "strict":
        raise _refuse(f"{where}.include.match_type", "only strict is modelled")
    metrics = _strings(include.get("metrics"), f"{where}.include.metrics")
    # The processor refuses a match_type without metrics (its config.go Validate).
    if not metrics:
        raise _refuse(f"{where}.include.metrics", "match_type is set but no metrics are named")
    return CumulativeToDelta(metrics, initial)


def _awsxray(settings: dict[str, Any], where: str) -> XRayExporter:
    allowed = ("region", "indexed_attributes", "index_all_attributes", "aws_log_groups")
    _only(settings, allowed, where)
    indexed = settings.get("indexed_attributes")
    groups = settings.get("aws_log_groups")
    return XRayExporter(
        region=str(settings.get("region", "")),
        indexed_attributes=_strings(indexed, where) if indexed is not None else (),
        index_all_attributes=bool(settings.get("index_all_attributes", False)),
        aws_log_groups=_strings(groups, f"{where}.aws_log_groups") if groups is not None else (),
    )


# What Python's re takes and Go's regexp (RE2 syntax) does not: lookarounds, atomic, conditional
# and comment groups, numbered and named backreferences, \Z (Go's is \z), possessive quantifiers
# (https://github.com/google/re2/wiki/Syntax). Read once escapes other than \1-\9 and \Z, and
# then character classes, are blanked out, so that an escaped or bracketed "(?=" is no group.
_NOT_RE2 = re.compile(r"\(\?(?:[=!>(#]|<[=!]|P=)|\\[1-9Z]|[*+?}]\+")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_CLASS = re.compile(r"\[\^?\]?[^\]]*\]")


def _go_regexp(pattern: str, where: str) -> str:
    """``pattern`` if Go's regexp compiles it as Python's re does, else refused.

    awsemf compiles each selector with ``regexp.MustCompile`` (metric_declaration.go ``init``):
    a pattern Go cannot compile stops the collector at start.
    """
    try:
        re.compile(pattern)
    except re.error as exc:
        raise _refuse(where, f"{pattern!r} is not a regular expression ({exc})") from exc
    kept = _ESCAPE.sub(lambda m: m[0] if m[1] in "123456789Z" else "_", pattern)
    if _NOT_RE2.search(_CLASS.sub("_", kept)):
        raise _refuse(where, f"{pattern!r} uses syntax Go's regexp (RE2) does not have")
    return pattern


def _declaration(value: Any, where: str) -> MetricDeclaration:
    value = _mapping(value, where)
    _only(value, ("dimensions", "metric_name_selectors"), where)
    dimensions = value.get("dimensions") or []
    if not isinstance(dimensions, list):
        raise _refuse(where, "dimensions is a list of lists of label names")
    selectors = _strings(value.get("metric_name_selectors"), f"{where}.metric_name_selectors")
    return MetricDeclaration(
        dimensions=tuple(_strings(d, f"{where}.dimensions") for d in dimensions),
        metric_name_selectors=tuple(
            _go_regexp(s, f"{where}.metric_name_selectors") for s in selectors
        ),
    )


def _awsemf(settings: dict[str, Any], where: str) -> EmfExporter:
    allowed = (
        "namespace",
        "log_group_name",
        "log_stream_name",
        "region",
        "dimension_rollup_option",
        "metric_declarations",
        "resource_to_telemetry_conversion",
        "retain_initial_value_of_delta_metric",
    )
    _only(settings, allowed, where)
    conversion = _mapping(
        settings.get("resource_to_telemetry_conversion"),
        f"{where}.resource_to_telemetry_conversion",
    )
    _only(conversion, ("enabled",), f"{where}.resource_to_telemetry_conversion")
    # On, the scrape's resource (job, instance) would become labels: not modelled.
    if _flag(conversion.get("enabled", False), f"{where}.resource_to_telemetry_conversion"):
        raise _refuse(f"{where}.resource_to_telemetry_conversion", "enabled: true is not modelled")
    defaults = EmfExporter()
    names = {
        key: str(settings.get(key, getattr(defaults, key)))
        for key in ("log_group_name", "log_stream_name")
    }
    for key, name in names.items():
        # ADOT fills {TaskId} and the like from the resourcedetection processor's ECS
        # attributes, which the stand-in does not model.
        if "{" in name:
            raise _refuse(f"{where}.{key}", f"placeholder in {name!r} is not modelled")
    rollup = str(settings.get("dimension_rollup_option", defaults.dimension_rollup_option))
    if rollup not in ROLLUPS:
        raise _refuse(f"{where}.dimension_rollup_option", f"{rollup!r} is not one of {ROLLUPS}")
    declarations = settings.get("metric_declarations") or []
    if not isinstance(declarations, list):
        raise _refuse(f"{where}.metric_declarations", "expected a list")
    return EmfExporter(
        namespace=str(settings.get("namespace", "")),
        region=str(settings.get("region", "")),
        dimension_rollup_option=rollup,
        retain_initial_value_of_delta_metric=_flag(
            settings.get("retain_initial_value_of_delta_metric", False),
            f"{where}.retain_initial_value_of_delta_metric",
        ),
        metric_declarations=tuple(
            _declaration(d, f"{where}.metric_declarations[{i}]") for i, d in enumerate(declarations)
        ),
        **names,
    )


def _health_check(settings: dict[str, Any], where: str) -> Address:
    _only(settings, ("endpoint",), where)
    return _address(settings.get("endpoint", "0.0.0.0:13133"), f"{where}.endpoint")


# Per section, each component type the stand-in implements and how its settings are read.
_READERS: dict[str, dict[str, Any]] = {
    "receivers": {"otlp": _otlp, "prometheus": _prometheus},
    "processors": {
        "batch": _batch,
        "memory_limiter": _memory_limiter,
        "cumulativetodelta": _cumulativetodelta,
    },
    "exporters": {"awsxray": _awsxray, "awsemf": _awsemf},
    "extensions": {"health_check": _health_check},
}
# Which pipeline kind each component type serves.
_KINDS = {
    "otlp": ("traces",),
    "prometheus": ("metrics",),
    "batch": ("traces", "metrics"),
    "memory_limiter": ("traces", "metrics"),
    "cumulativetodelta": ("metrics",),
    "awsxray": ("traces",),
    "awsemf": ("metrics",),
}


def _component_type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def _pipeline(name: str, value: Any, declared: Mapping[str, set[str]]) -> Pipeline:
    where = f"service.pipelines.{name}"
    value = _mapping(value, where)
    _only(value, ("receivers", "processors", "exporters"), where)
    if _component_type(name) not in ("traces", "metrics"):
        raise _refuse(where, f"a {_component_type(name)} pipeline is not modelled")
    pipeline = Pipeline(
        name,
        _strings(value.get("receivers") or [], f"{where}.receivers"),
        _strings(value.get("processors") or [], f"{where}.processors"),
        _strings(value.get("exporters") or [], f"{where}.exporters"),
    )
    if not pipeline.receivers or not pipeline.exporters:
        raise _refuse(where, "a pipeline needs receivers and exporters")
    for processor in pipeline.processors:
        # service/pipelines/config.go: "references processor ... multiple times".
        if pipeline.processors.count(processor) > 1:
            raise _refuse(f"{where}.processors", f"{processor} is listed twice")
    for section, ids in (
        ("receivers", pipeline.receivers),
        ("processors", pipeline.processors),
        ("exporters", pipeline.exporters),
    ):
        for component in ids:
            if component not in declared[section]:
                raise _refuse(f"{where}.{section}", f"{component} is not declared in {section}")
            if pipeline.kind not in _KINDS[_component_type(component)]:
                raise _refuse(f"{where}.{section}", f"{component} does not serve {pipeline.kind}")
    return pipeline


def parse(text: str) -> CollectorConfig:
    """The configuration in ``text`` (YAML), or one line naming what the stand-in lacks."""
    # The collector expands ${...} (an environment variable, by ADOT's default scheme "env") and
    # reads $$ as a literal $ (confmap expand.go, resolver.go escapeDollarSigns); a lone $ (a
    # regular expression's anchor) it keeps. Neither rewrite is modelled: refused.
    if "${" in text:
        raise _refuse("text", "${...} substitution is not modelled")
    if "$$" in text:
        raise _refuse("text", "$$ (the collector reads it as $) is not modelled")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _refuse("text", f"not YAML ({str(exc).splitlines()[0]})") from exc
    root = _mapping(document, "top level")
    _only(root, ("receivers", "processors", "exporters", "extensions", "service"), "top level")
    components: dict[str, dict[str, Any]] = {}
    declared: dict[str, set[str]] = {}
    for section, readers in _READERS.items():
        entries = _mapping(root.get(section), section)
        declared[section] = set(entries)
        for component, settings in entries.items():
            kind = _component_type(str(component))
            if kind not in readers:
                raise _refuse(section, f"component {component} is not modelled")
            where = f"{section}.{component}"
            components.setdefault(kind, {})[str(component)] = readers[kind](
                _mapping(settings, where), where
            )
    service = _mapping(root.get("service"), "service")
    _only(service, ("extensions", "pipelines", "telemetry"), "service")
    extensions = _strings(service.get("extensions") or [], "service.extensions")
    for extension in extensions:
        if extension not in declared["extensions"]:
            raise _refuse("service.extensions", f"{extension} is not declared in extensions")
    pipelines = _mapping(service.get("pipelines"), "service.pipelines")
    if not pipelines:
        raise _refuse("service.pipelines", "no pipelines")
    telemetry = _mapping(service.get("telemetry"), "service.telemetry")
    _only(telemetry, ("logs", "metrics"), "service.telemetry")
    logs = _mapping(telemetry.get("logs"), "service.telemetry.logs")
    _only(logs, ("level",), "service.telemetry.logs")
    log_level = str(logs.get("level", "info")).lower()
    if log_level not in LOG_LEVELS:
        raise _refuse("service.telemetry.logs.level", f"{log_level!r} is not one of zap's levels")
    # The stand-in reports no metrics of its own: that is ADOT's ``level: none`` (by default
    # ADOT serves them on localhost:8888, which nothing in the task reads).
    own_metrics = _mapping(telemetry.get("metrics"), "service.telemetry.metrics")
    _only(own_metrics, ("level",), "service.telemetry.metrics")
    if str(own_metrics.get("level", "none")).lower() != "none":
        raise _refuse("service.telemetry.metrics.level", "the collector's own metrics")
    used = {
        component
        for pipeline in pipelines.values()
        for key in ("receivers", "processors", "exporters")
        for component in _mapping(pipeline, "service.pipelines").get(key) or []
    }
    return CollectorConfig(
        otlp={k: v for k, v in components.get("otlp", {}).items() if k in used},
        prometheus={k: v for k, v in components.get("prometheus", {}).items() if k in used},
        batch=components.get("batch", {}),
        memory_limiter=components.get("memory_limiter", {}),
        cumulativetodelta=components.get("cumulativetodelta", {}),
        awsxray=components.get("awsxray", {}),
        awsemf=components.get("awsemf", {}),
        # An extension runs only when the service lists it.
        health_check={
            k: v for k, v in components.get("health_check", {}).items() if k in extensions
        },
        pipelines=tuple(_pipeline(str(n), v, declared) for n, v in pipelines.items()),
        log_level=log_level,
    )
