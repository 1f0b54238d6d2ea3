"""The local Grafana dashboard is generated from the CloudWatch dashboard's panels, is current,
and queries metrics the app really exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import docgen
from app.config import AppConfig
from app.factory import create_app
from docgen import grafana
from stacks.common.service_metrics import HTTP_REQUESTS_IN_FLIGHT
from stacks.monitoring.panels import PANELS, Series, Source

ROOT = Path(__file__).resolve().parents[2]
RANGE_SELECTOR = re.compile(r"([a-z_]+)\[\d+s\]")


def test_the_committed_grafana_files_are_the_generated_ones() -> None:
    for relative, text in grafana.grafana_files().items():
        path = ROOT / relative
        assert path.is_file(), f"{relative} is missing: regenerate with `{docgen.REGENERATE}`"
        assert path.read_text() == text, f"{relative} is stale: run `{docgen.REGENERATE}`"


def test_the_dashboard_has_the_panels_that_exist_locally() -> None:
    titles = [panel["title"] for panel in grafana.dashboard()["panels"]]
    local = [
        panel.title
        for panel in PANELS
        if any(s.source is Source.SERVICE for s in panel.series)
        or any(s.source is Source.LOGS and s.quantile for s in panel.series)
    ]
    assert titles == local
    assert "Latency p99 by route, in the app (ms)" in titles
    assert not any("ALB" in title for title in titles)


def test_every_query_reads_a_metric_the_app_exposes() -> None:
    config = AppConfig(app_version="1.2.3", git_sha="abc123", build_time="2026-01-01T00:00:00Z")
    client = create_app(config).test_client()
    client.get("/")
    exposition = client.get("/metrics").get_data(as_text=True)
    exposed = {
        line.split("{")[0].split(" ")[0]
        for line in exposition.splitlines()
        if line and not line.startswith("#")
    }
    queries = [t["expr"] for p in grafana.dashboard()["panels"] for t in p["targets"]]
    read = {name for query in queries for name in RANGE_SELECTOR.findall(query)}
    assert read, queries
    # gunicorn_worker_restarts_total is counted by the gunicorn master: a bare app need not have it.
    missing = read - exposed - {"gunicorn_worker_restarts_total"}
    assert not missing, f"queried but not exposed by the app: {sorted(missing)}"


def test_the_dashboard_uses_the_provisioned_data_source() -> None:
    files = grafana.grafana_files()
    (source,) = yaml.safe_load(files[grafana.DATASOURCES_YAML])["datasources"]
    dashboard = json.loads(files[grafana.DASHBOARD_JSON])
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}
    (provider,) = yaml.safe_load(files[grafana.DASHBOARDS_YAML])["providers"]
    assert provider["options"]["path"] == grafana.DASHBOARDS_MOUNT


def test_the_queries_are_the_same_measurements_as_cloudwatch_s() -> None:
    p99 = Series(Source.LOGS, "RequestDurationMs", "p99", ("route",))
    assert grafana.promql(p99) == (
        "1000 * histogram_quantile(0.99, "
        "sum by (le, route) (rate(http_request_duration_seconds_bucket[60s])))"
    )
    peak = Series(Source.SERVICE, HTTP_REQUESTS_IN_FLIGHT.name, "Maximum")
    assert grafana.promql(peak) == "max(max_over_time(http_requests_in_flight[60s]))"
    assert grafana.promql(Series(Source.ALB, "RequestCount", "Sum")) is None
    with pytest.raises(ValueError, match="no PromQL for SampleCount"):
        grafana.promql(Series(Source.SERVICE, HTTP_REQUESTS_IN_FLIGHT.name, "SampleCount"))
