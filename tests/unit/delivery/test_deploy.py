"""Deploy pieces without AWS: --image parsing, validation order, a failed stack's one line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from delivery import deploy, environments, stacks
from delivery.errors import DeliveryError
from tests.unit.delivery.test_environments import make_project

DIGEST = "sha256:" + "c" * 64


@pytest.mark.parametrize(
    ("value", "version", "digest"),
    [
        ("1.2.3", "1.2.3", None),
        ("v1.2.3", "1.2.3", None),
        ("1.3.0-dev.g0123456789ab", "1.3.0-dev.g0123456789ab", None),
        (DIGEST, None, DIGEST),
        (f"1.dkr.ecr.eu-north-1.amazonaws.com/app@{DIGEST}", None, DIGEST),
    ],
)
def test_image_is_a_version_or_a_digest(
    value: str, version: str | None, digest: str | None
) -> None:
    ref = deploy.parse_image(value)
    assert (ref.version, ref.digest) == (version, digest)


@pytest.mark.parametrize("value", ["latest", "", "1.2", "sha256:abc", "app:1.2.3", "1.2.3 ; rm"])
def test_malformed_image_is_one_line(value: str) -> None:
    with pytest.raises(DeliveryError, match="malformed --image"):
        deploy.parse_image(value)


class Recorder:
    """Steps that only record that they were reached."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def steps(self) -> deploy.Steps:
        def settings(env: environments.Environment) -> None:
            self.calls.append("settings")

        def creds(env: environments.Environment) -> str:
            self.calls.append("credentials")
            return "123456789012"

        def engine(name: str | None) -> Any:
            self.calls.append("engine")
            raise DeliveryError("no container engine found")

        return deploy.Steps(check_settings=settings, check_credentials=creds, detect_engine=engine)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    return make_project(tmp_path)


def test_cheap_checks_come_before_aws(project: Path) -> None:
    recorder = Recorder()
    with pytest.raises(DeliveryError, match="no container engine"):
        deploy.validate("local", skip_scan=True, root=project, steps=recorder.steps())
    assert recorder.calls == ["engine"]  # settings and credentials never reached


def test_promote_needs_no_engine_or_scanner(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    found = deploy.Published(deploy.Registry("h/r", "r"), DIGEST, "1.2.3")
    monkeypatch.setattr(deploy, "find_image", lambda env, ref: found)
    plan = deploy.validate("dev", image="1.2.3", root=project, steps=recorder.steps())
    assert recorder.calls == ["settings", "credentials"]
    assert plan.existing == found
    assert plan.engine is None
    assert plan.poll == stacks.EMULATOR_POLL_S  # AWS-shaped env, but the emulator answers


def test_emulator_env_refuses_a_real_endpoint(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://cloudformation.eu-north-1.amazonaws.com")
    with pytest.raises(DeliveryError, match="runs on the local emulator"):
        deploy.validate("local", image="1.2.3", root=project, steps=Recorder().steps())


@dataclass(frozen=True, eq=False)
class FakeStack:
    external_name: str


class FakePlan:
    """What stacks.launch needs of a SceptrePlan: launch() -> {stack: status}."""

    def launch(self) -> dict[FakeStack, str]:
        return {FakeStack("flask-fargate-dev-service"): "failed"}


def test_failed_stack_names_stack_status_and_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    cfn = boto3.client(
        "cloudformation",
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    monkeypatch.setattr(stacks, "_plan", lambda *args: FakePlan())
    monkeypatch.setattr(stacks, "fresh_connections", lambda: None)
    monkeypatch.setattr(stacks, "cloudformation", lambda: cfn)
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "flask-fargate-dev-service",
                        "StackStatus": "UPDATE_ROLLBACK_COMPLETE",
                        "CreationTime": now,
                    }
                ]
            },
        )
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    {
                        "StackId": "id",
                        "EventId": "1",
                        "StackName": "flask-fargate-dev-service",
                        "LogicalResourceId": "Service",
                        "ResourceStatus": "UPDATE_FAILED",
                        "ResourceStatusReason": "ECS Deployment Circuit Breaker was triggered",
                        "Timestamp": now,
                    }
                ]
            },
        )
        with pytest.raises(DeliveryError) as info:
            stacks.launch("dev", {"image_uri": "x", "app_version": "1.0.0"})
    assert str(info.value) == (
        "stack flask-fargate-dev-service failed (UPDATE_ROLLBACK_COMPLETE): "
        "Service: ECS Deployment Circuit Breaker was triggered"
    )


def test_poll_is_sceptres_own_on_aws(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert deploy.poll_for(environments.load("dev", project)) is None
    assert deploy.poll_for(environments.load("local", project)) == stacks.EMULATOR_POLL_S


def test_published_image_reference_is_what_the_deploy_actions_read() -> None:
    uri = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate"
    digest = "sha256:" + "c" * 64
    published = deploy.Published(deploy.Registry(uri, "flask-fargate"), digest, "1.4.0")
    assert published.reference() == {
        "uri": f"{uri}@{digest}",
        "repository": uri,
        "digest": digest,
        "version": "1.4.0",
    }
