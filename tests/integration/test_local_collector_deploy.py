"""``deploy --env local --keep`` runs the collector sidecar's stand-in with the service.

Through the real command line (build and scan faked: tests/support/fake_build_invoke.py; the
service under gunicorn, ``--serve process``) on the sample project, whose service template has
the ``otel-collector`` container the stacks render for ``local`` (tests/golden: its
``AOT_CONFIG_CONTENT`` an ``Fn::Sub`` of the region and the log groups; scraping every second
instead of every minute), the app's ``OTEL_EXPORTER_OTLP_ENDPOINT`` at ``http://localhost:4318``
as the stack sets it, and the log groups the container names:

- the deploy says what stands in for ADOT, and records it with the service;
- the app runs with its OTLP endpoint at the stand-in's receiver on 127.0.0.1, which answers an
  OTLP export;
- the real app's /metrics, scraped, arrives as EMF events in the metrics log group, naming the
  rendered namespace and the metric names of stacks/common/service_metrics.py;
- ``invoke stop`` stops the stand-in with the service;
- a configuration the stand-in does not model fails the deploy in one line, before it starts.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from delivery import environments
from delivery.emulator import aws_env, environment
from delivery.local.collector.launch import collector_running
from delivery.local.record import Record, read_record
from stacks.common.service_metrics import HTTP_REQUESTS, metric_namespace
from tests.support.cli import run_invoke
from tests.support.collector_config import contract_config, with_collector, with_rendered_collector
from tests.support.local_deploy import deploy_kept, kept_record
from tests.support.paths import ROOT
from tests.support.project import make_project, service_template, with_awslogs

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
DEPLOY_TIMEOUT_S = 180
LOG_GROUP = "/flask-fargate/local/service-metrics"
NAMESPACE = metric_namespace("flask-fargate", "local")
WAIT_S = 20.0


def collector_service_template(config: dict[str, Any] | None = None) -> str:
    """The sample service with the rendered sidecar (or, given ``config``, one running that),
    the app's OTLP endpoint and the metrics log group."""
    template = with_awslogs(
        json.loads(service_template({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}))
    )
    template["Resources"]["MetricsLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": LOG_GROUP, "RetentionInDays": 7},
    }
    if config is not None:
        return json.dumps(with_collector(template, yaml.safe_dump(config)))
    return json.dumps(with_rendered_collector(template, "local", scrape_interval="1s"))


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[[dict[str, Any] | None], Path]]:
    """A sample project whose sidecar runs the configuration given (None: the rendered one);
    stopped after the test."""
    roots: list[Path] = []

    def made(config: dict[str, Any] | None) -> Path:
        root = make_project(tmp_path / "project")
        (root / "app").symlink_to(ROOT / "app")
        (root / "templates" / "service.json").write_text(collector_service_template(config))
        roots.append(root)
        return root

    yield made
    for root in roots:
        run_invoke(root, "stop", "--env", "local", ambient_aws=False)


def emf_events(record: Record) -> list[dict[str, Any]]:
    """The EMF documents in the metrics log group of the kept emulator, once there is a request
    counter among them."""
    deadline = time.monotonic() + WAIT_S
    with environment(aws_env(record.endpoint, record.region)):
        logs = boto3.client("logs", region_name=record.region)
        while True:
            events = logs.filter_log_events(logGroupName=LOG_GROUP)["events"]
            documents = [json.loads(e["message"]) for e in events]
            if any(HTTP_REQUESTS.name in d for d in documents) or time.monotonic() > deadline:
                return documents
            time.sleep(0.5)


def test_the_stand_in_runs_with_the_service_and_the_apps_metrics_reach_emf(
    make: Callable[[dict[str, Any] | None], Path],
) -> None:
    project = make(None)
    deployed = deploy_kept(project, DEPLOY_TIMEOUT_S)
    output = deployed.stdout + deployed.stderr
    assert deployed.returncode == 0, output
    assert "local collector: stand-in for ADOT" in output
    record = kept_record(project)
    service = record.service
    assert service is not None
    assert collector_running(service.collector_pid)

    # The app exports to the stand-in's receiver: its endpoint was moved there, and it answers.
    endpoint = psutil.Process(int(service.id)).environ()["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint.startswith("http://127.0.0.1:")
    assert endpoint != "http://127.0.0.1:4318"
    export = urllib.request.Request(
        f"{endpoint}/v1/traces",
        data=ExportTraceServiceRequest().SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
        method="POST",
    )
    with urllib.request.urlopen(export, timeout=5) as answer:
        assert answer.status == 200

    with urllib.request.urlopen(f"{service.url}/version", timeout=5) as answer:
        assert answer.status == 200
    documents = emf_events(record)
    counted = [d for d in documents if HTTP_REQUESTS.name in d]
    assert counted, f"no {HTTP_REQUESTS.name} in the EMF events: {documents}"
    directives = [c for d in documents for c in d.get("_aws", {}).get("CloudWatchMetrics", [])]
    assert {c["Namespace"] for c in directives} == {NAMESPACE}
    assert {"Name": HTTP_REQUESTS.name} in [m for c in directives for m in c["Metrics"]]

    stopped = run_invoke(project, "stop", "--env", "local", ambient_aws=False)
    assert stopped.returncode == 0, stopped.stderr
    assert not collector_running(service.collector_pid)


def test_a_configuration_the_stand_in_does_not_model_fails_the_deploy_in_one_line(
    make: Callable[[dict[str, Any] | None], Path],
) -> None:
    config = contract_config()
    config["processors"]["filter"] = {}
    project = make(config)
    deployed = deploy_kept(project, DEPLOY_TIMEOUT_S)
    assert deployed.returncode == 1
    (line,) = [line for line in deployed.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith(
        "error: AOT_CONFIG_CONTENT: processors: component filter is not modelled"
    )
    # Refused before the app or the stand-in started, and the failed command kept nothing.
    assert "local collector:" not in deployed.stdout + deployed.stderr
    assert read_record(environments.load("local", project)) is None
