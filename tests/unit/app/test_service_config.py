"""Configuration: defaults, parsing, and one-line errors for every kind of bad value."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from app.config import AppConfig, ConfigError, available_cpus, load_config
from tests.support.paths import ROOT

# The version the project declares, read from pyproject.toml: what the installed package says.
DECLARED_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_defaults_follow_the_contract() -> None:
    config = load_config({})
    assert config.port == 8000
    assert config.log_level == "INFO"
    assert config.greeting == "Hello, world!"
    assert config.drain_seconds == 5.0
    assert config.graceful_timeout_seconds == 20
    assert config.keepalive_seconds == 75
    assert config.max_request_bytes == 1_048_576
    # Sized from the CPUs the process may use (docs/ARCHITECTURE.md): a gthread worker per CPU,
    # two threads per CPU and at least four.
    cpus = available_cpus()
    assert (config.web_concurrency, config.threads) == (cpus, max(4, 2 * cpus))
    assert config.app_version == DECLARED_VERSION
    assert config.git_sha == "unknown"
    assert config.build_time == "unknown"
    assert config.secret_key is None
    assert config.metrics_dir is None
    assert config.drain_flag is None


def test_values_are_parsed() -> None:
    config = load_config(
        {
            "PORT": "9000",
            "WEB_CONCURRENCY": "3",
            "THREADS": "8",
            "LOG_LEVEL": "debug",
            "GREETING": "Hej!",
            "APP_VERSION": "2.0.0",
            "GIT_SHA": "deadbeef",
            "BUILD_TIME": "2026-11-26T10:00:00Z",
            "DRAIN_SECONDS": "2.5",
            "GRACEFUL_TIMEOUT_SECONDS": "10",
            "KEEPALIVE_SECONDS": "65",
            "MAX_REQUEST_BYTES": "1024",
            "SECRET_KEY": "s3cret",
            "PROMETHEUS_MULTIPROC_DIR": "/tmp/m",
        }
    )
    assert (config.port, config.web_concurrency, config.threads) == (9000, 3, 8)
    assert config.log_level == "DEBUG"
    assert config.greeting == "Hej!"
    assert (config.app_version, config.git_sha) == ("2.0.0", "deadbeef")
    assert config.drain_seconds == 2.5
    assert (config.graceful_timeout_seconds, config.keepalive_seconds) == (10, 65)
    assert config.max_request_bytes == 1024
    assert config.secret_key == "s3cret"  # noqa: S105 - a test value, not a credential
    assert config.drain_flag == Path("/tmp/m/draining")


def test_secret_key_is_never_in_the_repr() -> None:
    assert "s3cret" not in repr(load_config({"SECRET_KEY": "s3cret"}))


def test_config_is_frozen() -> None:
    config = AppConfig()
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]


def test_empty_optional_values_mean_default() -> None:
    assert load_config({"PORT": "", "APP_VERSION": ""}).port == 8000


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("PORT", "http", "integer from 1 to 65535"),
        ("PORT", "0", "integer from 1 to 65535"),
        ("PORT", "65536", "integer from 1 to 65535"),
        ("LOG_LEVEL", "VERBOSE", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("WEB_CONCURRENCY", "0", "integer from 1 to 64"),
        ("THREADS", "-1", "integer from 1 to 256"),
        ("DRAIN_SECONDS", "-1", "seconds from 0 to 600"),
        ("DRAIN_SECONDS", "soon", "seconds from 0 to 600"),
        ("DRAIN_SECONDS", "inf", "seconds from 0 to 600"),
        ("GRACEFUL_TIMEOUT_SECONDS", "0", "integer from 1 to 600"),
        ("KEEPALIVE_SECONDS", "0", "integer from 1 to 3600"),
        ("MAX_REQUEST_BYTES", "0", "integer from 1 to"),
        ("GREETING", "", "1 to 200 printable characters"),
        ("GREETING", "two\nlines", "1 to 200 printable characters"),
        ("APP_VERSION", "x" * 65, "1 to 64 printable characters"),
    ],
)
def test_bad_values_raise_one_line_naming_variable_value_and_accepted(
    name: str, value: str, accepted: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({name: value})
    message = str(info.value)
    assert "\n" not in message
    assert f"{name}={value!r}" in message
    assert accepted in message
    assert info.value.name == name


def test_available_cpus_is_positive_and_bounded_by_affinity() -> None:
    import os  # noqa: PLC0415

    assert 1 <= available_cpus() <= len(os.sched_getaffinity(0))
