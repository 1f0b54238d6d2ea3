"""After ``deploy --env local --keep``, a request to the local service is in ``invoke logs``.

Through the real command line: the deploy (build and scan faked: tests/support/
fake_build_invoke.py; the service under gunicorn, ``--serve process``), a request with its own
X-Request-ID, then ``invoke logs --env local --request-id`` in a new process, which ships the kept
service's new output into the emulator's log group and reads it back through FilterLogEvents.
The sample service template has what the real one has for this: a log group, the container's
awslogs options (group, region, stream prefix) and the ``LogGroupName`` output.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from delivery.emulator import aws_env, environment
from tests.support.cli import run_invoke
from tests.support.local_deploy import deploy_kept, kept_record
from tests.support.paths import ROOT
from tests.support.project import make_project, service_template, with_awslogs

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
DEPLOY_TIMEOUT_S = 180


def logged_service_template() -> str:
    """The sample service with a log group and its container's awslogs options (as stacks/)."""
    template = with_awslogs(json.loads(service_template()))
    template["Outputs"]["LogGroupName"] = {"Value": {"Ref": "LogGroup"}}
    return json.dumps(template)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = make_project(tmp_path / "project")
    (root / "app").symlink_to(ROOT / "app")
    (root / "templates" / "service.json").write_text(logged_service_template())
    yield root
    run_invoke(root, "stop", "--env", "local", ambient_aws=False)


def stream_events(endpoint: str, region: str, group: str) -> list[dict[str, Any]]:
    """Every event of ``group`` on the kept emulator."""
    with environment(aws_env(endpoint, region)):
        found = boto3.client("logs", region_name=region).filter_log_events(logGroupName=group)
    return [dict(e) for e in found["events"]]


def test_a_request_after_deploy_keep_is_in_invoke_logs_by_its_request_id(project: Path) -> None:
    deployed = deploy_kept(project, DEPLOY_TIMEOUT_S)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    record = kept_record(project)
    assert record.service is not None
    service = record.service
    assert service.log_stream == f"app/app/{service.task_id}"
    # The deploy shipped the service's start-up output, to the emulator (the shell's AWS is not
    # pointed at it any more when the command ends).
    assert "not shipped" not in deployed.stdout
    assert service.shipped > 0
    assert len(stream_events(record.endpoint, record.region, service.log_group)) == service.shipped

    request_id = f"logs-{uuid.uuid4().hex[:12]}"
    request = urllib.request.Request(f"{service.url}/version", headers={"X-Request-ID": request_id})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200

    shown = run_invoke(
        project, "logs", "--env", "local", "--request-id", request_id, ambient_aws=False
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    lines = shown.stdout.splitlines()
    assert len(lines) == 1, shown.stdout
    assert f" 1.0.0 {request_id} request GET /version 200 " in lines[0]

    raw = run_invoke(
        project, "logs", "--env", "local", "--request-id", request_id, "--json",
        ambient_aws=False,
    )  # fmt: skip
    assert raw.returncode == 0, raw.stdout + raw.stderr
    (line,) = raw.stdout.splitlines()
    assert json.loads(line)["request_id"] == request_id

    # Shipped once: the second command found nothing new to ship for that request.
    events = stream_events(record.endpoint, record.region, service.log_group)
    assert sum(request_id in e["message"] for e in events) == 1
    assert {e["logStreamName"] for e in events} == {service.log_stream}
