"""The local session on a real emulator it starts itself: keep, reuse, rollback, stop, failures.

A sample Sceptre project (``make_project``) with the repository's ``app/`` linked in, so the
service runs for real under gunicorn (``serve="process"``); build and scan are fakes (no engine
needed; the container path is tests/e2e/test_local_deploy.py). Every test checks that what it
started is gone afterwards: emulator process and port, gunicorn process group, the record.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from delivery import deploy, environments, rollback
from delivery.emulator import Emulator, port_in_use
from delivery.errors import DeliveryError
from delivery.local import session as session_module
from delivery.local.processes import alive as process_alive
from delivery.local.record import read_record
from delivery.local.runner import live_version
from delivery.local.session import Session
from delivery.local.session import session as local_session
from delivery.local.session import stop as stop_local
from tests.support.deploy_steps import fake_steps
from tests.support.logs import progress_lines
from tests.support.project import SERVICE_TEMPLATE, make_project, service_template

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS_* from the shell or other tests: the session must start its own emulator."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = make_project(tmp_path)
    (root / "app").symlink_to(REPO / "app")
    yield root
    # Whatever a failing test left: stop it, so no process outlives the test run.
    stop_local(environments.load("local", root))


class Seen:
    """Progress lines logged since it was made, and the pids/ports they name."""

    def __init__(self, log: pytest.LogCaptureFixture) -> None:
        self.log = log
        self.start = len(log.records)

    @property
    def lines(self) -> list[str]:
        return progress_lines(self.log, since=self.start)

    def number(self, pattern: str) -> int:
        found = [int(m.group(1)) for line in self.lines if (m := re.search(pattern, line))]
        assert found, f"no line matches {pattern!r} in {self.lines}"
        return found[-1]


def alive(pid: int) -> bool:
    return process_alive(pid)


def deploy_version(root: Path, version: str, **options: object) -> tuple[Session, deploy.Result]:
    env = environments.load("local", root)
    with local_session(env, serve="process", **options) as session:  # type: ignore[arg-type]
        result = deploy.deploy(
            "local",
            skip_scan=True,
            root=root,
            steps=session.steps(fake_steps(version)),
        )
    return session, result


def test_keep_reuse_rollback_and_stop(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    (project / "templates" / "service.json").write_text(service_template())
    env = environments.load("local", project)
    seen = Seen(delivery_log)
    first, result = deploy_version(project, "1.0.0", keep=True)
    emulator_pid = seen.number(r"pid (\d+)\)$")
    service = first.service
    assert service is not None
    assert service.version == "1.0.0"
    assert live_version(service) == "1.0.0"
    assert any(
        "1.0.0 from task definition flask-fargate-local-service:1" in line for line in seen.lines
    )
    record = read_record(env)
    assert record is not None
    assert (record.pid, record.service) == (emulator_pid, service)
    assert result.version == "1.0.0"

    # The next deploy uses the kept emulator and replaces the service on the same port.
    second, _ = deploy_version(project, "1.1.0")
    assert second.endpoint == first.endpoint
    assert second.service is not None
    assert second.service.port == service.port
    assert live_version(second.service) == "1.1.0"
    assert not alive(int(service.id))
    with local_session(env, start=False):
        # What the emulator holds: the stack parameters the service was started from.
        stack = boto3.client("cloudformation").describe_stacks(
            StackName="flask-fargate-local-service"
        )["Stacks"][0]
        params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert params["AppVersion"] == "1.1.0"

    rolled = Seen(delivery_log)
    with local_session(env, start=False, serve="process") as session:
        back = rollback.rollback(
            "local", "1.0.0", root=project, steps=session.steps(fake_steps("x"))
        )
    assert back.version == "1.0.0"
    assert session.service is not None
    assert live_version(session.service) == "1.0.0"
    # The revision the rollback's stack update registered is complete (delivery/strict_moto.py),
    # so the service is started from it, not from the template.
    assert any(
        "1.0.0 from task definition flask-fargate-local-service:3" in line for line in rolled.lines
    )

    assert stop_local(env)
    assert not alive(emulator_pid)
    assert not alive(int(session.service.id))
    assert not port_in_use(session.service.port)
    assert read_record(env) is None
    with (
        pytest.raises(DeliveryError, match="no local emulator running"),
        local_session(env, start=False),
    ):
        pass


def test_without_keep_everything_stops_at_the_end(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    (project / "templates" / "service.json").write_text(service_template())
    seen = Seen(delivery_log)
    session, _ = deploy_version(project, "1.0.0")
    assert session.service is None  # stopped at the end
    assert any(re.search(r"ready in .* s, /version reports 1\.0\.0$", line) for line in seen.lines)
    assert not alive(seen.number(r"gunicorn \(pid (\d+)\)"))
    assert not port_in_use(seen.number(r"gunicorn .* on http://127\.0\.0\.1:(\d+)"))
    assert_nothing_left(project, seen)


def assert_nothing_left(project: Path, seen: Seen) -> None:
    emulator_pid = seen.number(r"emulator: starting moto .* \(pid (\d+)\)")
    assert not alive(emulator_pid)
    for line in seen.lines:
        if match := re.search(r"gunicorn \(pid (\d+)\)", line):
            assert not alive(int(match.group(1)))
    assert read_record(environments.load("local", project)) is None


def test_service_that_exits_at_start_is_one_line_and_stops_everything(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    (project / "templates" / "service.json").write_text(service_template({"LOG_LEVEL": "LOUD"}))
    seen = Seen(delivery_log)
    with pytest.raises(DeliveryError) as info:
        deploy_version(project, "1.0.0")
    assert str(info.value).startswith("service exited before it was ready: ")
    assert "LOG_LEVEL" in str(info.value)
    assert_nothing_left(project, seen)


def test_service_not_ready_in_time_is_one_line_and_stops_everything(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    (project / "templates" / "service.json").write_text(service_template())
    seen = Seen(delivery_log)
    with pytest.raises(DeliveryError, match=r"^service not ready within 0\.01 s: "):
        deploy_version(project, "1.0.0", ready_timeout_s=0.01)
    assert_nothing_left(project, seen)


def test_failing_stack_is_named_and_everything_stops(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    broken = {
        "Parameters": SERVICE_TEMPLATE["Parameters"],
        "Resources": {
            "Service": {
                "Type": "AWS::ECS::Service",
                "Properties": {"Cluster": "nope", "TaskDefinition": "nope:1"},
            }
        },
    }
    (project / "templates" / "service.json").write_text(json.dumps(broken))
    seen = Seen(delivery_log)
    with pytest.raises(DeliveryError) as info:
        deploy_version(project, "1.0.0")
    # As on AWS: the create fails and rolls back; its events say why.
    assert str(info.value) == (
        "stack flask-fargate-local-service failed (ROLLBACK_COMPLETE): "
        "flask-fargate-local-service: ClusterNotFoundException: Cluster not found."
    )
    assert_nothing_left(project, seen)


def test_emulator_that_fails_to_start_is_one_line(
    project: Path, monkeypatch: pytest.MonkeyPatch, delivery_log: pytest.LogCaptureFixture
) -> None:
    class Broken(Emulator):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)  # type: ignore[arg-type]
            self.command = ["python3", "-c", "raise SystemExit('moto is not installed')"]

    monkeypatch.setattr(session_module, "Emulator", Broken)
    seen = Seen(delivery_log)
    with pytest.raises(DeliveryError) as info:
        deploy_version(project, "1.0.0")
    assert str(info.value).startswith("emulator failed to start (exit 1): moto is not installed")
    assert_nothing_left(project, seen)


def test_taken_port_is_one_line_and_starts_nothing(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        seen = Seen(delivery_log)
        with pytest.raises(DeliveryError) as info:
            deploy_version(project, "1.0.0", port=port)
    assert str(info.value).startswith(f"emulator port {port} on 127.0.0.1 is already in use")
    assert not any("starting moto" in line for line in seen.lines)
