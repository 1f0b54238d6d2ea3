"""The service's configuration: one frozen dataclass built from the environment.

Every variable of the contract in docs/ARCHITECTURE.md is parsed and validated here, once, at
start-up. A bad value raises :class:`ConfigError`, whose message is a single line naming the
variable, the bad value and what would have been accepted, so both the gunicorn config module and
``python -m app`` can print it and exit without a traceback.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_GREETING = "Hello, world!"
UNKNOWN = "unknown"
PACKAGE_NAME = "flask-fargate"

T = TypeVar("T")

# OpenTelemetry's standard samplers (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration).
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
DEFAULT_SAMPLER = "parentbased_traceidratio"
# The specification's default OTEL_TRACES_SAMPLER_ARG for the ratio samplers; the service stack
# sets a smaller ratio per environment.
DEFAULT_SAMPLE_RATIO = 1.0
OTLP_PROTOCOL = "http/protobuf"


class ConfigError(ValueError):
    """A configuration value is invalid; ``str(error)`` is the one-line message for the operator."""

    def __init__(self, name: str, value: str, accepted: str) -> None:
        self.name = name
        self.value = value
        self.accepted = accepted
        # repr() quotes the value and escapes newlines, so the message always stays on one line.
        super().__init__(f"invalid configuration: {name}={value!r}; accepted: {accepted}")


def available_cpus() -> int:
    """CPUs this process may really use: the affinity mask, capped by a cgroup v2 CPU quota.

    ``os.cpu_count()`` reports the host's CPUs; inside a container the cgroup quota is the limit
    that matters, and sizing gunicorn from the host count would oversubscribe the task.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota visible: the affinity mask is the best answer
    return max(1, cpus)


def default_web_concurrency(cpus: int) -> int:
    """One gthread worker per CPU: measured best on 2 vCPUs (see the service-runtime note)."""
    return max(1, cpus)


def default_threads(cpus: int) -> int:
    """Four threads per worker on 2 vCPUs (measured), scaling gently with the CPU count."""
    return max(4, 2 * cpus)


def package_version() -> str:
    """The installed distribution's version, or ``unknown`` when running from a bare checkout."""
    from importlib import metadata  # noqa: PLC0415 - only needed when APP_VERSION is unset

    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        return UNKNOWN


@dataclass(frozen=True, slots=True)
class TracingConfig:
    """Where and how the service sends its traces (OpenTelemetry's standard variables).

    Tracing is on iff ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and ``OTEL_SDK_DISABLED`` is not
    ``true``; see app.observability.tracing for what is built from this.
    """

    # OTLP/HTTP base URL without a trailing slash, e.g. http://localhost:4318.
    endpoint: str
    sampler: str = DEFAULT_SAMPLER
    sample_ratio: float = DEFAULT_SAMPLE_RATIO
    # The resource: OTEL_RESOURCE_ATTRIBUTES, then service.name (OTEL_SERVICE_NAME) and
    # service.version (APP_VERSION), which take precedence.
    resource: tuple[tuple[str, str], ...] = ()

    @property
    def traces_url(self) -> str:
        """Where spans are POSTed: the OTLP/HTTP traces path under the endpoint."""
        return f"{self.endpoint}/v1/traces"


@dataclass(frozen=True, slots=True)
class AppConfig:
    """Validated settings of one service process (see docs/ARCHITECTURE.md for the contract)."""

    port: int = 8000
    web_concurrency: int = 2
    threads: int = 4
    log_level: str = "INFO"
    greeting: str = DEFAULT_GREETING
    app_version: str = UNKNOWN
    git_sha: str = UNKNOWN
    build_time: str = UNKNOWN
    drain_seconds: float = 5.0
    graceful_timeout_seconds: int = 20
    keepalive_seconds: int = 75
    max_request_bytes: int = 1_048_576
    # Never printed: repr=False keeps the secret out of logs and tracebacks.
    secret_key: str | None = field(default=None, repr=False)
    # prometheus-client's multiprocess directory; None means single-process metrics (tests, dev).
    metrics_dir: Path | None = None
    # None: tracing off, and nothing of OpenTelemetry is imported.
    tracing: TracingConfig | None = None
    # Test-only: registers a route that raises, to exercise the 500 handler. Not read from env.
    enable_failing_route: bool = False

    @property
    def drain_flag(self) -> Path | None:
        """File whose existence tells every worker that the master is draining."""
        return None if self.metrics_dir is None else self.metrics_dir / "draining"


def _integer(name: str, raw: str, low: int, high: int) -> int:
    accepted = f"an integer from {low} to {high}"
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        raise ConfigError(name, raw, accepted) from None
    if not low <= value <= high:
        raise ConfigError(name, raw, accepted)
    return value


def _seconds(name: str, raw: str, low: float, high: float) -> float:
    accepted = f"a number of seconds from {low:g} to {high:g}"
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(name, raw, accepted) from None
    # float() accepts "nan" and "inf"; neither is a duration.
    if not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(name, raw, accepted)
    return value


def _text(name: str, raw: str, max_len: int) -> str:
    value = raw.strip()
    if not value or len(value) > max_len or not value.isprintable():
        raise ConfigError(name, raw, f"1 to {max_len} printable characters")
    return value


def _get(environ: Mapping[str, str], name: str, parse: Callable[[str, str], T], default: T) -> T:
    raw = environ.get(name)
    # An empty value counts as unset for optional variables, as `docker run -e NAME=` and ECS
    # task definitions commonly produce one; GREETING is stricter (see load_config).
    if raw is None or raw == "":
        return default
    return parse(name, raw)


def _endpoint(name: str, raw: str) -> str:
    accepted = "an http:// or https:// URL with a host and no query, e.g. http://localhost:4318"
    value = raw.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(name, raw, accepted) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(name, raw, accepted)
    return value.rstrip("/")


def _ratio(name: str, raw: str) -> float:
    accepted = "a number from 0 to 1"
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(name, raw, accepted) from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise ConfigError(name, raw, accepted)
    return value


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigError(name, raw, ", ".join(choices))
    return value


def _resource_attributes(name: str, raw: str) -> dict[str, str]:
    """``key1=value1,key2=value2`` (values percent-decoded), as the OpenTelemetry spec defines."""
    attributes: dict[str, str] = {}
    for pair in raw.split(","):
        key, sep, value = pair.partition("=")
        key, value = key.strip(), unquote(value.strip())
        if not sep or not key or not value or not f"{key}{value}".isprintable():
            raise ConfigError(name, raw, "comma-separated key=value pairs, e.g. a=1,b=2")
        attributes[key] = value
    return attributes


def _tracing(env: Mapping[str, str], version: str) -> TracingConfig | None:
    """The tracing settings, or None when tracing is off (see :class:`TracingConfig`)."""
    disabled = _get(env, "OTEL_SDK_DISABLED", lambda n, r: _choice(n, r, ("true", "false")), "")
    endpoint = _get(env, "OTEL_EXPORTER_OTLP_ENDPOINT", _endpoint, None)
    if endpoint is None or disabled == "true":
        return None
    # Only OTLP over HTTP with protobuf is built in (no gRPC): refuse a request for another.
    _get(env, "OTEL_EXPORTER_OTLP_PROTOCOL", lambda n, r: _choice(n, r, (OTLP_PROTOCOL,)), "")
    no_attributes: dict[str, str] = {}
    resource = _get(env, "OTEL_RESOURCE_ATTRIBUTES", _resource_attributes, no_attributes)
    resource["service.name"] = _get(
        env, "OTEL_SERVICE_NAME", lambda n, r: _text(n, r, 255), PACKAGE_NAME
    )
    resource["service.version"] = version
    return TracingConfig(
        endpoint=endpoint,
        sampler=_get(
            env, "OTEL_TRACES_SAMPLER", lambda n, r: _choice(n, r, SAMPLERS), DEFAULT_SAMPLER
        ),
        sample_ratio=_get(env, "OTEL_TRACES_SAMPLER_ARG", _ratio, DEFAULT_SAMPLE_RATIO),
        resource=tuple(sorted(resource.items())),
    )


def load_config(environ: Mapping[str, str] | None = None) -> AppConfig:
    """Build and validate the configuration from ``environ`` (default: ``os.environ``).

    Raises:
        ConfigError: on the first invalid variable, with a one-line message.
    """
    env = os.environ if environ is None else environ
    cpus = available_cpus()

    log_level_raw = env.get("LOG_LEVEL", "INFO")
    log_level = log_level_raw.strip().upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", log_level_raw, ", ".join(LOG_LEVELS))

    greeting_raw = env.get("GREETING")
    # Set-but-empty GREETING is a deployment mistake (the endpoint would greet with nothing).
    greeting = DEFAULT_GREETING if greeting_raw is None else _text("GREETING", greeting_raw, 200)

    version = _get(env, "APP_VERSION", lambda n, r: _text(n, r, 64), None) or package_version()
    metrics_dir_raw = env.get("PROMETHEUS_MULTIPROC_DIR")

    return AppConfig(
        port=_get(env, "PORT", lambda n, r: _integer(n, r, 1, 65535), 8000),
        web_concurrency=_get(
            env,
            "WEB_CONCURRENCY",
            lambda n, r: _integer(n, r, 1, 64),
            default_web_concurrency(cpus),
        ),
        threads=_get(env, "THREADS", lambda n, r: _integer(n, r, 1, 256), default_threads(cpus)),
        log_level=log_level,
        greeting=greeting,
        app_version=version,
        git_sha=_get(env, "GIT_SHA", lambda n, r: _text(n, r, 64), UNKNOWN),
        build_time=_get(env, "BUILD_TIME", lambda n, r: _text(n, r, 64), UNKNOWN),
        drain_seconds=_get(env, "DRAIN_SECONDS", lambda n, r: _seconds(n, r, 0, 600), 5.0),
        # Below 1 s the workers cannot even finish a slow request: treat it as a mistake.
        graceful_timeout_seconds=_get(
            env, "GRACEFUL_TIMEOUT_SECONDS", lambda n, r: _integer(n, r, 1, 600), 20
        ),
        keepalive_seconds=_get(env, "KEEPALIVE_SECONDS", lambda n, r: _integer(n, r, 1, 3600), 75),
        max_request_bytes=_get(
            env, "MAX_REQUEST_BYTES", lambda n, r: _integer(n, r, 1, 1 << 30), 1_048_576
        ),
        secret_key=env.get("SECRET_KEY") or None,
        metrics_dir=Path(metrics_dir_raw) if metrics_dir_raw else None,
        tracing=_tracing(env, version),
    )
