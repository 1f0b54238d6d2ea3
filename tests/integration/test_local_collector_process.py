"""The stand-in collector as a process, against the emulator: what goes in comes out in AWS's form.

Started as the local runner starts it (delivery/local/collector/launch.py) with the configuration
the stacks render for ``local`` (tests/golden, its Fn::Sub filled in, its scrape interval
shortened): a request's OTLP export reaches the emulator's X-Ray as a segment of the right trace,
linked to the app's log group; a scrape of a Prometheus endpoint standing for the app reaches the
configured log group and stream as EMF events naming the configured namespace, the counter's
first value included; a configuration it does not model stops it with one line.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from delivery import loopback
from delivery.emulator import Emulator
from delivery.errors import DeliveryError
from delivery.local.collector import launch
from delivery.local.collector.__main__ import main
from delivery.local.collector.config import SOURCE, parse
from tests.support.collector_config import contract_config, rendered_text
from tests.support.http_server import serving
from tests.support.otlp import IDENTIFIER, PARENT_ID, request_payload

pytestmark = [pytest.mark.emulator]

REGION = "eu-north-1"
NAMESPACE = "flask-fargate/local"  # the rendered configuration's
LOG_GROUP = "/flask-fargate/local/service-metrics"
LOG_STREAM = "otel-collector"  # the rendered configuration's
APP_LOG_GROUP = "/flask-fargate/local/service"
APP_PORT = 8000
WAIT_S = 15.0


class Metrics(BaseHTTPRequestHandler):
    """An app's /metrics: its request counter grows by one at each scrape."""

    scrapes = 0

    def do_GET(self) -> None:
        Metrics.scrapes += 1
        body = (
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{route="/"}} {Metrics.scrapes}.0\n'
            "# TYPE http_requests_in_flight gauge\n"
            "http_requests_in_flight 0.0\n"
        ).encode()
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def until(found: Callable[[], Any]) -> Any:
    """``found()`` once it is truthy, polled until WAIT_S; its last answer otherwise."""
    deadline = time.monotonic() + WAIT_S
    answer = found()
    while not answer and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = found()
    return answer


@pytest.fixture
def collector(aws: Emulator, tmp_path: Path) -> Iterator[dict[int, int]]:
    """The stand-in running the rendered configuration (scrapes every second); its ports."""
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=LOG_GROUP)
    values = {"AWS::Region": REGION, "LogGroup": APP_LOG_GROUP, "MetricsLogGroup": LOG_GROUP}
    text = rendered_text("local", values, scrape_interval="1s")
    config = parse(text)
    Metrics.scrapes = 0  # a new app: its counter starts from nothing
    with serving(Metrics) as app:
        app_port = int(app.rsplit(":", 1)[1])
        ports = launch.task_ports(config, APP_PORT, app_port)
        pid = launch.start(text, config, ports, tmp_path / "collector.log", region=REGION)
        try:
            yield ports
        finally:
            launch.stop_collector(pid)
    assert not launch.collector_running(pid)


def test_a_request_span_reaches_x_ray_as_a_segment_of_its_trace(collector: dict[int, int]) -> None:
    epoch = int(time.time())
    request = urllib.request.Request(
        f"http://127.0.0.1:{collector[4318]}/v1/traces",
        data=request_payload(epoch),
        headers={"Content-Type": "application/x-protobuf"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:  # loopback
        assert answer.status == 200
    trace = f"1-{epoch - 5:08x}-{IDENTIFIER}"
    xray: Any = boto3.client("xray", region_name=REGION)
    traces = until(lambda: xray.batch_get_traces(TraceIds=[trace])["Traces"])
    (found,) = traces
    (segment,) = [json.loads(s["Document"]) for s in found["Segments"]]
    assert segment["trace_id"] == trace
    assert segment["parent_id"] == PARENT_ID.hex()
    assert segment["http"]["request"]["method"] == "GET"
    assert segment["http"]["response"]["status"] == 200
    assert segment["aws"]["cloudwatch_logs"] == [{"log_group": APP_LOG_GROUP}]


def test_a_scrape_reaches_the_log_group_as_emf_in_the_configured_namespace(
    collector: dict[int, int],
) -> None:
    logs = boto3.client("logs", region_name=REGION)

    def counted() -> list[dict[str, Any]]:
        streams = logs.describe_log_streams(logGroupName=LOG_GROUP)["logStreams"]
        if not any(s["logStreamName"] == LOG_STREAM for s in streams):
            return []
        events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=LOG_STREAM)["events"]
        documents = [json.loads(e["message"]) for e in events]
        return [d for d in documents if "http_requests_total" in d]

    # The counter's first value is sent whole (retain_initial_value_of_delta_metric), then the
    # change since the previous scrape: one more request each time.
    documents = until(counted)
    assert documents, "no EMF event with http_requests_total in the log stream"
    directives = documents[0]["_aws"]["CloudWatchMetrics"]
    assert [d["Namespace"] for d in directives] == [NAMESPACE]
    assert directives[0]["Dimensions"] == [[], ["route"]]
    assert documents[0]["http_requests_total"] == 1.0


def test_its_health_check_answers(collector: dict[int, int]) -> None:
    status, body = loopback.get(f"http://127.0.0.1:{collector[13133]}/", timeout_s=2)
    assert status == 200
    assert json.loads(body)["status"] == "Server available"


def test_a_scrape_target_that_is_not_the_apps_port_is_refused_before_it_starts() -> None:
    document = contract_config()
    static = document["receivers"]["prometheus"]["config"]["scrape_configs"][0]["static_configs"]
    static[0]["targets"] = ["localhost:9999"]
    config = parse(yaml.safe_dump(document))
    with pytest.raises(DeliveryError, match="port 9999"):
        launch.task_ports(config, APP_PORT, 41000)


def test_the_process_refuses_what_it_does_not_model_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = contract_config()
    document["processors"]["filter"] = {}
    monkeypatch.setenv(SOURCE, yaml.safe_dump(document))
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert "component filter is not modelled" in err
    assert "\n" not in err


def test_the_apps_endpoint_moves_to_the_receiver_and_no_other() -> None:
    config = parse(yaml.safe_dump(contract_config()))
    ports = {APP_PORT: 41000, 4318: 41001, 13133: 41002}
    moved = launch.app_environment(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318", "OTHER": "x"}, config, ports
    )
    assert moved == {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:41001", "OTHER": "x"}
    elsewhere = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.example:4318"}
    assert launch.app_environment(elsewhere, config, ports) == elsewhere
