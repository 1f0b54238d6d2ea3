"""compose.yaml, read statically (no container engine runs here): what it mounts exists, what it
publishes stays on the loopback, every image is pinned and locked down, and the metrics profile's
services reach each other by the names and ports their configurations use.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from docgen import grafana
from stacks.common.service_metrics import SCRAPE_INTERVAL_SECONDS
from stacks.service import collector as collector_sidecar

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
METRICS_PROFILE = {"otel-collector", "prometheus", "jaeger", "grafana"}
# A tag that names a release (v1.2.3, 1.2.3, 12.3), never a moving one like latest or main.
PINNED_TAG = re.compile(r":v?\d+\.\d+(\.\d+)?(@sha256:[0-9a-f]{64})?$")


def services() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    found: dict[str, dict[str, Any]] = data["services"]
    return found


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """The service's (host path, container path) bind mounts of this repository."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            mounts.append((source, target))
    return mounts


def published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_the_metrics_profile_has_the_collector_prometheus_jaeger_and_grafana() -> None:
    profiled = {name for name, s in services().items() if "metrics" in s.get("profiles", [])}
    assert profiled == METRICS_PROFILE
    assert "profiles" not in services()["app"], "the app runs in every profile"


@pytest.mark.parametrize("name", sorted(services()))
def test_every_mounted_file_exists(name: str) -> None:
    for source, _ in bind_mounts(services()[name]):
        assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"


@pytest.mark.parametrize("name", sorted(services()))
def test_every_port_is_published_on_the_loopback_only(name: str) -> None:
    for port in published(services()[name]):
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"


@pytest.mark.parametrize("name", sorted(METRICS_PROFILE))
def test_every_pulled_image_is_pinned_and_locked_down(name: str) -> None:
    service = services()[name]
    assert PINNED_TAG.search(service["image"]), f"{name}: {service['image']} is not pinned"
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert service["security_opt"] == ["no-new-privileges:true"]


def test_the_collector_reads_the_mounted_generated_configuration() -> None:
    collector = services()["otel-collector"]
    assert collector["image"] == collector_sidecar.IMAGE  # what the tasks run, locally too
    mounts = dict(bind_mounts(collector))
    target = mounts["./compose/otel-collector.yaml"]
    assert collector["command"] == [f"--config={target}"]


def test_the_collector_configuration_names_compose_services() -> None:
    """Its scrape target is the app's port, its trace exporter Jaeger's OTLP/gRPC port."""
    config = yaml.safe_load((ROOT / "compose" / "otel-collector.yaml").read_text())
    (job,) = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["app:8000"]
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    exporters = config["service"]["pipelines"]["traces"]["exporters"]
    endpoints = [config["exporters"][exporter]["endpoint"] for exporter in exporters]
    assert endpoints == ["jaeger:4317"]
    assert "jaeger" in services()
    # ServiceMetricsMissingAlarm counts one in-flight value per task per scrape: the interval it
    # assumes is the one the collector (here as in the task definition) scrapes at.
    assert job["scrape_interval"] == f"{SCRAPE_INTERVAL_SECONDS}s"


def test_tracing_is_on_only_when_the_shell_sets_the_endpoint() -> None:
    """A key without a value: compose passes the shell's value on, or leaves it unset
    (https://github.com/compose-spec/compose-go/pull/654)."""
    environment = services()["app"]["environment"]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in environment
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] is None
    # The endpoint compose.yaml tells a developer to set is the collector's OTLP/HTTP port.
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318" in COMPOSE.read_text()
    assert "127.0.0.1:4318:4318" in published(services()["otel-collector"])


def test_grafana_mounts_the_generated_provisioning_where_it_points() -> None:
    grafana_service = services()["grafana"]
    mounts = dict(bind_mounts(grafana_service))
    provisioning = mounts[f"./{grafana.GRAFANA_DIR}/provisioning"]
    assert provisioning == "/etc/grafana/provisioning"  # Grafana's default provisioning path
    dashboards = mounts[f"./{Path(grafana.DASHBOARD_JSON).parent}"]
    assert dashboards == grafana.DASHBOARDS_MOUNT
    home = grafana_service["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{grafana.DASHBOARDS_MOUNT}/{Path(grafana.DASHBOARD_JSON).name}"
    # The data source is compose's Prometheus on its default port.
    assert grafana.PROMETHEUS_URL == "http://prometheus:9090"
    assert "--web.listen-address" not in " ".join(services()["prometheus"]["command"])
    # Its writable state lives in a tmpfs owned by the image's user (472).
    assert "/var/lib/grafana:uid=472,gid=0" in grafana_service["tmpfs"]
