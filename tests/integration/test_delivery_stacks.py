"""Sceptre against the emulator: launch order, a new image parameter, the shortened poll."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from delivery import deploy, deploy_plan, destroy, environments, stacks, traffic
from delivery.emulator import Emulator
from delivery.environments import StackRef
from delivery.errors import DeliveryError
from tests.support.deploy_steps import fake_steps
from tests.support.logs import progress_lines
from tests.support.project import (
    SERVICE_CONFIG,
    break_registry_template,
    launch_shared,
    make_project,
)

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
REAL_LOCAL = environments.PROJECT_ROOT / "config" / "local" / "service.yaml"
LOCAL_SERVICE = StackRef("flask-fargate-local-service", "eu-north-1")


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
    # The real config's service also takes which group serves production (a fresh stack: Blue)
    # and the deployment's pace.
    return {
        "image_uri": uri,
        "app_version": version,
        "production_target_group": "Blue",
        "deployment_pace": "guarded",
    }


def test_sample_project_new_image_gives_a_new_task_definition(
    tmp_path: Path,
    aws: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    delivery_log: pytest.LogCaptureFixture,
) -> None:
    root = make_project(tmp_path)
    spy = SleepSpy(monkeypatch)
    first = stacks.launch("local", image_vars(f"r/x@{DIGEST_A}", "1.0.0"), root=root, poll=0.01)
    assert first == {
        "flask-fargate-local-registry": "CREATE_COMPLETE",
        "flask-fargate-local-service": "CREATE_COMPLETE",
    }
    before = stacks.outputs(LOCAL_SERVICE)["TaskDefinitionArn"]
    stacks.launch(
        "local/service.yaml", image_vars(f"r/x@{DIGEST_B}", "1.1.0"), root=root, poll=0.01
    )
    after = stacks.outputs(LOCAL_SERVICE)["TaskDefinitionArn"]
    assert (before.rsplit(":", 1)[1], after.rsplit(":", 1)[1]) == ("1", "2")
    # Sceptre asked for its 4 s sleeps; every one went through the capped clock.
    assert spy.requested
    assert set(spy.requested) == {4}
    assert any(
        "flask-fargate-local-service AWS::CloudFormation::Stack" in line
        for line in progress_lines(delivery_log)
    )
    # Sceptre's own names: the registry first (a dependency), then the service.
    assert stacks.names("local", root=root, variables=deploy_plan.PLACEHOLDER_VARIABLES) == [
        "flask-fargate-local-registry",
        "flask-fargate-local-service",
    ]


def test_launch_failure_is_one_line(tmp_path: Path, aws: Emulator) -> None:
    root = make_project(tmp_path)
    break_registry_template(root)
    with pytest.raises(DeliveryError) as info:
        stacks.launch("local/registry.yaml", root=root, poll=0.01)
    # As on AWS: the create fails, rolls back, and the stack's events say why.
    assert str(info.value).startswith(
        "stack flask-fargate-local-registry failed (ROLLBACK_COMPLETE): "
    )
    assert "ClusterNotFoundException" in str(info.value)


def test_missing_config_path_is_one_line(tmp_path: Path, aws: Emulator) -> None:
    root = make_project(tmp_path)
    with pytest.raises(
        DeliveryError, match=r"launch local/nope\.yaml failed: .*No stacks detected"
    ):
        stacks.launch("local/nope.yaml", root=root, poll=0.01)


def test_real_local_config_launches_and_takes_a_new_image(aws: Emulator) -> None:
    """The project's own config/local on the emulator: its 5 stacks, then an image-only update."""
    # The only launch of the real config/local here: if it moves, this must fail, not pass.
    assert REAL_LOCAL.is_file(), f"{REAL_LOCAL} is gone: the real local environment is untested"
    env = environments.load("local")
    deploy_plan.check_settings(env)  # renders through delivery.render
    repo = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate-local"
    launched = stacks.launch(
        "local", image_vars(f"{repo}@{DIGEST_A}", "1.0.0"), poll=stacks.EMULATOR_POLL_S
    )
    # Every stack config/local holds, and nothing else (the budget one in us-east-1).
    assert launched == {
        "flask-fargate-local-budget": "CREATE_COMPLETE",
        "flask-fargate-local-monitoring": "CREATE_COMPLETE",
        "flask-fargate-local-network": "CREATE_COMPLETE",
        "flask-fargate-local-registry": "CREATE_COMPLETE",
        "flask-fargate-local-service": "CREATE_COMPLETE",
    }
    service = env.stack_ref("service")
    # What the next deploy reads first: the real template's production rule, live.
    assert traffic.production_target_group(service) == "Blue"
    outputs = stacks.outputs(service)
    assert {"ClusterName", "ServiceName", "ServiceUrl", "TaskDefinitionArn", "LogGroupName"} <= set(
        outputs
    )
    stacks.launch("local", image_vars(f"{repo}@{DIGEST_B}", "1.1.0"), poll=stacks.EMULATOR_POLL_S)
    updated = stacks.outputs(service)["TaskDefinitionArn"]
    assert updated != outputs["TaskDefinitionArn"]
    stack = boto3.client("cloudformation").describe_stacks(StackName=service.name)["Stacks"][0]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert (params["ImageUri"], params["AppVersion"]) == (f"{repo}@{DIGEST_B}", "1.1.0")


# --- termination protection follows deletion_protection (the hook) -----------------------------
# moto 5.2.5 has no UpdateTerminationProtection, deletes protected stacks, and fails a create
# inside CreateStack; the emulator's server (delivery/strict_moto.py) gives CloudFormation's
# documented behaviour for exactly these three, so protection is observable here.

PROD_SERVICE = StackRef("flask-fargate-prod-service", "eu-north-1")


def protected_prod(root: Path, setting: str, template: str = "service.json") -> None:
    """prod's service stack with the project's hook and ``deletion_protection: <setting>``."""
    config = SERVICE_CONFIG.format(registry="shared").replace("service.json", template)
    (root / "config" / "prod" / "service.yaml").write_text(
        config
        + "hooks:\n  after_launch:\n    - !termination_protection\n"
        + f"sceptre_user_data:\n  deletion_protection: {setting}\n"
    )


def protection(stack: StackRef) -> bool:
    cfn = boto3.client("cloudformation", region_name=stack.region)
    described = cfn.describe_stacks(StackName=stack.name)["Stacks"][0]
    return bool(described["EnableTerminationProtection"])


def test_protection_off_then_destroy_works(
    tmp_path: Path, aws: Emulator, delivery_log: pytest.LogCaptureFixture
) -> None:
    """The documented teardown: deletion_protection false, deploy, destroy --force."""
    root = make_project(tmp_path)
    launch_shared(root)
    protected_prod(root, "true")
    dev = deploy.deploy("dev", skip_scan=True, root=root, steps=fake_steps("1.0.0"))
    deploy.deploy("prod", "1.0.0", root=root, steps=fake_steps("x"))
    assert protection(PROD_SERVICE)
    with pytest.raises(DeliveryError) as refused:
        destroy.destroy("prod", force=True, root=root)
    assert "cannot be deleted while TerminationProtection is enabled" in str(refused.value)
    assert str(refused.value).endswith(
        "set deletion_protection: false in that stack's config under config/prod/, deploy, "
        "then destroy"
    )

    protected_prod(root, "false")
    again = deploy.deploy("prod", "1.0.0", root=root, steps=fake_steps("x"))
    assert again.digest == dev.digest  # nothing else changed: a no-op update runs the hook too
    assert not protection(PROD_SERVICE)
    assert any(
        "termination protection off (deletion_protection: false)" in s
        for s in progress_lines(delivery_log)
    )
    destroyed = destroy.destroy("prod", force=True, root=root)
    assert destroyed == {"flask-fargate-prod-service": "complete"}


def test_a_failed_first_create_stays_deletable_and_is_retried(
    tmp_path: Path, aws: Emulator, delivery_log: pytest.LogCaptureFixture
) -> None:
    root = make_project(tmp_path)
    launch_shared(root)
    deploy.deploy("dev", skip_scan=True, root=root, steps=fake_steps("1.0.0"))
    failing = json.loads((root / "templates" / "service.json").read_text())
    failing["Resources"]["Broken"] = {
        "Type": "AWS::ECS::Service",
        "Properties": {"Cluster": "nope", "TaskDefinition": "nope:1"},
    }
    (root / "templates" / "service-broken.json").write_text(json.dumps(failing))
    protected_prod(root, "true", template="service-broken.json")
    with pytest.raises(
        DeliveryError, match=r"flask-fargate-prod-service failed \(ROLLBACK_COMPLETE\)"
    ):
        deploy.deploy("prod", "1.0.0", root=root, steps=fake_steps("x"))
    assert not protection(PROD_SERVICE)
    assert any(
        "the create failed (ROLLBACK_COMPLETE): termination protection is off" in s
        for s in progress_lines(delivery_log)
    )

    protected_prod(root, "true")  # fixed: the retry deletes the failed stack, then creates it
    deploy.deploy("prod", "1.0.0", root=root, steps=fake_steps("x"))
    assert stacks.state(PROD_SERVICE).status == "CREATE_COMPLETE"
    assert protection(PROD_SERVICE)
