"""Sceptre against the emulator: launch order, a new image parameter, the shortened poll."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from delivery import deploy, environments, stacks
from delivery.emulator import Emulator
from delivery.errors import DeliveryError
from tests.unit.delivery.test_environments import break_registry_template, make_project

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
REAL_LOCAL = environments.PROJECT_ROOT / "config" / "local" / "service.yaml"


class SleepSpy:
    """Records what Sceptre asked to sleep while ``poll_interval`` was active."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.requested: list[float] = []
        original = stacks._PollClock.sleep

        def sleep(clock: stacks._PollClock, seconds: float) -> None:
            self.requested.append(seconds)
            original(clock, seconds)

        monkeypatch.setattr(stacks._PollClock, "sleep", sleep)


def image_vars(uri: str, version: str) -> dict[str, str]:
    return {"image_uri": uri, "app_version": version}


def test_sample_project_new_image_gives_a_new_task_definition(
    tmp_path: Path, aws: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path)
    spy = SleepSpy(monkeypatch)
    seen: list[str] = []
    first = stacks.launch(
        "local", image_vars(f"r/x@{DIGEST_A}", "1.0.0"), root=root, poll=0.01, progress=seen.append
    )
    assert first == {
        "flask-fargate-local-registry": "CREATE_COMPLETE",
        "flask-fargate-local-service": "CREATE_COMPLETE",
    }
    before = stacks.outputs("flask-fargate-local-service")["TaskDefinitionArn"]
    stacks.launch(
        "local/service.yaml", image_vars(f"r/x@{DIGEST_B}", "1.1.0"), root=root, poll=0.01
    )
    after = stacks.outputs("flask-fargate-local-service")["TaskDefinitionArn"]
    assert (before.rsplit(":", 1)[1], after.rsplit(":", 1)[1]) == ("1", "2")
    # Sceptre asked for its 4 s sleeps; every one went through the capped clock.
    assert spy.requested
    assert set(spy.requested) == {4}
    assert any("flask-fargate-local-service AWS::CloudFormation::Stack" in line for line in seen)
    # Sceptre's own names: the registry first (a dependency), then the service.
    assert stacks.names("local", root=root, variables=deploy.PLACEHOLDER_VARIABLES) == [
        "flask-fargate-local-registry",
        "flask-fargate-local-service",
    ]


def test_launch_failure_is_one_line(tmp_path: Path, aws: Emulator) -> None:
    root = make_project(tmp_path)
    break_registry_template(root)
    with pytest.raises(DeliveryError) as info:
        stacks.launch("local/registry.yaml", root=root, poll=0.01)
    assert str(info.value).startswith(
        "launch local/registry.yaml failed: stack flask-fargate-local-registry: "
        "ClusterNotFoundException"
    )


def test_missing_config_path_is_one_line(tmp_path: Path, aws: Emulator) -> None:
    root = make_project(tmp_path)
    with pytest.raises(
        DeliveryError, match=r"launch local/nope\.yaml failed: .*No stacks detected"
    ):
        stacks.launch("local/nope.yaml", root=root, poll=0.01)


@pytest.mark.skipif(not REAL_LOCAL.exists(), reason="config/local (engineer S) not in this tree")
def test_real_local_config_launches_and_takes_a_new_image(aws: Emulator) -> None:
    """The project's own config/local on the emulator: 4 stacks, then an image-only update."""
    env = environments.load("local")
    deploy.check_settings(env)  # renders through delivery.render
    repo = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate-local"
    launched = stacks.launch(
        "local", image_vars(f"{repo}@{DIGEST_A}", "1.0.0"), poll=stacks.EMULATOR_POLL_S
    )
    assert set(launched) >= {
        "flask-fargate-local-registry",
        "flask-fargate-local-network",
        "flask-fargate-local-service",
    }
    service = env.stack_name("service")
    outputs = stacks.outputs(service)
    assert {"ClusterName", "ServiceName", "ServiceUrl", "TaskDefinitionArn", "LogGroupName"} <= set(
        outputs
    )
    stacks.launch("local", image_vars(f"{repo}@{DIGEST_B}", "1.1.0"), poll=stacks.EMULATOR_POLL_S)
    updated = stacks.outputs(service)["TaskDefinitionArn"]
    assert updated != outputs["TaskDefinitionArn"]
    stack = boto3.client("cloudformation").describe_stacks(StackName=service)["Stacks"][0]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert (params["ImageUri"], params["AppVersion"]) == (f"{repo}@{DIGEST_B}", "1.1.0")
