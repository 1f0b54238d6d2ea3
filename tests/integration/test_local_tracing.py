"""A request's trace id, from the access line to X-Ray, on the emulator deploy (issue 13).

A snapshot of this working tree is released as v1.0.0 and deployed to ``local`` with ``--keep``
and the service under gunicorn (``--serve process``; only the image build and scan are faked:
tests/support/fake_build_invoke.py). The task definition's ``otel-collector`` sidecar is run by
the local runner as its stand-in (delivery/local/collector), which exports to the emulator's
X-Ray. A request sent with a sampled W3C ``traceparent``:

- its access line carries that trace id (``trace_id``, and ``xray_trace_id`` in X-Ray's form);
- the emulator's X-Ray holds a segment of that trace (BatchGetTraces), the request's server span,
  whose parent is the caller's span and whose ``http`` block is the request's;
- ``invoke stop`` stops the stand-in with the service.
- and back: ``invoke logs --trace-id`` with X-Ray's id finds exactly that access line.

The service template (tests/golden/local/service.json, which the golden test keeps equal to what
the stacks render) must have the ``otel-collector`` container.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from app.observability.tracing import TRACING_ON
from delivery.emulator import aws_env, environment
from delivery.local.collector.config import CONTAINER
from delivery.local.collector.launch import collector_running
from delivery.local.record import Record
from tests.support.cli import run_invoke
from tests.support.collector_config import golden_collector_configs
from tests.support.git import git
from tests.support.local_deploy import DEPLOY_KEPT, deploy_kept, kept_record
from tests.support.snapshot import snapshot

TIMEOUT_S = 300
ACCESS_LOGGER = "app.access"
EXPORT_WAIT_S = 30.0  # the SDK's batch span processor sends every 5 s by default, then the batch


pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def test_the_local_service_template_has_the_collector_sidecar() -> None:
    assert "local" in golden_collector_configs(), f"no {CONTAINER} container in the template"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = snapshot(tmp_path / "project")
    git(root, "tag", "v1.0.0")
    yield root
    run_invoke(root, "stop", "--env", "local", ambient_aws=False)


def deploy(project: Path) -> None:
    """``invoke deploy --env local --keep --serve process`` of v1.0.0, through the fake build."""
    result = deploy_kept(project, TIMEOUT_S)
    print(f"$ invoke {' '.join(DEPLOY_KEPT)}\n{result.stdout}{result.stderr}")
    assert result.returncode == 0, result.stderr
    assert "local collector: stand-in for ADOT" in result.stderr + result.stdout


def kept(project: Path) -> Record:
    record = kept_record(project)
    assert record.service is not None
    return record


def _access_lines(log: Path, request_id: str) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if request_id in line and line.startswith("{"):
            record = json.loads(line)
            if record.get("logger") == ACCESS_LOGGER and record.get("request_id") == request_id:
                found.append(dict(record))
    return found


def wait_until_every_worker_traces(log: Path) -> None:
    """Until each worker the log says gunicorn booted has logged that it traces.

    A worker installs tracing just after it starts answering (app.observability.deferred_tracing):
    its log line is the signal, so the request below is traced whichever worker serves it.
    """
    deadline = time.monotonic() + EXPORT_WAIT_S
    while True:
        text = log.read_text(errors="replace")
        booted = text.count("Booting worker with pid")
        if booted and text.count(TRACING_ON) >= booted:
            return
        assert time.monotonic() < deadline, f"{booted} workers, not all tracing, in {log}"
        time.sleep(0.1)


def access_line(log: Path, request_id: str) -> dict[str, Any]:
    """The service's JSON access line of ``request_id``, from its output, once written (the app
    writes access lines from a queue)."""
    deadline = time.monotonic() + 5
    while not (found := _access_lines(log, request_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert found, f"no access line of {request_id} in {log}"
    return found[0]


def xray_segments(record: Record, trace_id: str) -> list[dict[str, Any]]:
    """The segment documents the kept emulator's X-Ray holds for ``trace_id``, once it has any."""
    deadline = time.monotonic() + EXPORT_WAIT_S
    with environment(aws_env(record.endpoint, record.region)):
        client: Any = boto3.client("xray")
        while not (traces := client.batch_get_traces(TraceIds=[trace_id])["Traces"]):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
    return [json.loads(s["Document"]) for t in traces for s in t["Segments"]]


def test_a_requests_trace_id_is_in_its_access_line_and_in_x_ray(project: Path) -> None:
    deploy(project)
    record = kept(project)
    service = record.service
    assert service is not None
    assert service.collector_pid
    assert collector_running(service.collector_pid)
    wait_until_every_worker_traces(Path(service.log))

    # An X-Ray-compatible W3C trace id (its first 8 hex digits the epoch), sampled (flags 01).
    w3c = f"{int(time.time()):08x}{secrets.token_hex(12)}"
    parent = secrets.token_hex(8)
    request_id = f"trace-{secrets.token_hex(6)}"
    request = urllib.request.Request(
        f"{service.url}/",
        headers={"traceparent": f"00-{w3c}-{parent}-01", "X-Request-ID": request_id},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200
    xray_id = f"1-{w3c[:8]}-{w3c[8:]}"

    line = access_line(Path(service.log), request_id)
    assert line["trace_id"] == w3c
    assert line["xray_trace_id"] == xray_id

    segments = xray_segments(record, xray_id)
    assert segments, f"no segment of {xray_id} in the emulator's X-Ray"
    assert {s["trace_id"] for s in segments} == {xray_id}
    (server,) = [s for s in segments if s.get("parent_id") == parent]
    assert server["http"]["request"]["method"] == "GET"
    assert server["http"]["response"]["status"] == 200

    # From the trace back to its request: the access line, by X-Ray's spelling of the id.
    found = run_invoke(
        project, "logs", "--env", "local", "--trace-id", xray_id, "--json", ambient_aws=False
    )
    assert found.returncode == 0, found.stderr
    (logged,) = [json.loads(text) for text in found.stdout.splitlines() if text.startswith("{")]
    assert (logged["request_id"], logged["trace_id"]) == (request_id, w3c)

    stopped = run_invoke(project, "stop", "--env", "local", ambient_aws=False)
    assert stopped.returncode == 0, stopped.stderr
    assert not collector_running(service.collector_pid)
