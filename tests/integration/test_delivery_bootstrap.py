"""The account's shared stacks: an administrator launches them, a deploy only reads them.

A deploy that ran `sceptre launch <env>` would also apply the shared registry: a dev deploy (the
pipeline's role) could change what prod relies on, or fail on a stack it may not touch. So
`invoke deploy` launches the environment's own stacks only.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from delivery import bootstrap, deploy, stacks
from delivery.emulator import Emulator
from delivery.errors import DeliveryError
from tests.support.cli import run_invoke
from tests.support.deploy_steps import fake_steps
from tests.support.logs import progress_lines
from tests.support.project import launch_shared, make_project

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
CONNECTION = (
    "arn:aws:codeconnections:eu-north-1:123456789012:connection/"
    "0123abcd-0123-4567-89ab-0123456789ab"
)


@pytest.fixture
def project(tmp_path: Path, aws: Emulator) -> Path:
    root = make_project(tmp_path)
    (root / "config" / "shared" / "pipeline.yaml").write_text(
        "template:\n  path: pipeline.json\nparameters:\n"
        '  ConnectionArn: "{{ var.connection_arn }}"\n'
        "  RepositoryArn: !stack_output shared/registry.yaml::RepositoryUri\n"
    )
    (root / "templates" / "pipeline.json").write_text(
        '{"Parameters": {"ConnectionArn": {"Type": "String"}, "RepositoryArn": {"Type": "String"}},'
        ' "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}'
    )
    return root


def events(name: str) -> list[str]:
    cfn = boto3.client("cloudformation")
    return [e["EventId"] for e in cfn.describe_stack_events(StackName=name)["StackEvents"]]


def live_stacks() -> list[str]:
    summaries = boto3.client("cloudformation").list_stacks()["StackSummaries"]
    return sorted(s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE")


def test_a_deploy_needs_the_shared_stacks_and_never_launches_them(project: Path) -> None:
    with pytest.raises(DeliveryError) as info:
        deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    assert "invoke bootstrap" in str(info.value)
    assert live_stacks() == []  # refused before anything was created

    launch_shared(project)
    before = events("flask-fargate-shared-registry")
    deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    assert events("flask-fargate-shared-registry") == before  # read, not updated
    assert live_stacks() == ["flask-fargate-dev-service", "flask-fargate-shared-registry"]


def test_a_shared_stack_left_failed_stops_the_deploy_before_anything(project: Path) -> None:
    launch_shared(project)
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName="flask-fargate-shared-extra",
        TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}',
    )
    cfn.delete_stack(StackName="flask-fargate-shared-extra")  # gone: DELETE_COMPLETE
    (project / "config" / "dev" / "extra.yaml").write_text(
        "template:\n  path: registry.json\nparameters:\n"
        "  RepositoryName: !stack_output shared/extra.yaml::Name\n"
    )
    (project / "config" / "shared" / "extra.yaml").write_text(
        "template:\n  path: registry.json\nparameters:\n  RepositoryName: extra\n"
    )
    built: list[str] = []
    with pytest.raises(DeliveryError) as info:
        deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0", built))
    assert str(info.value) == (
        "stack flask-fargate-shared-extra (shared/extra), which dev depends on, is NOT_CREATED: "
        "it is the account's, launched by an administrator with `invoke bootstrap`, never by a "
        "deploy"
    )
    assert built == []  # refused in validation: nothing built, pushed or launched
    assert "flask-fargate-dev-service" not in live_stacks()


def test_bootstrap_launches_the_shared_stacks_and_the_pipeline_only_with_its_connection(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    first = bootstrap.bootstrap(project, poll=stacks.EMULATOR_POLL_S)
    assert first == {"flask-fargate-shared-registry": "CREATE_COMPLETE"}
    assert any(
        "the pipeline was not launched: pass --connection-arn" in line
        for line in progress_lines(delivery_log)
    )
    second = bootstrap.bootstrap(project, connection_arn=CONNECTION, poll=stacks.EMULATOR_POLL_S)
    assert second["flask-fargate-shared-pipeline"] == "CREATE_COMPLETE"


def test_bootstrap_refuses_a_malformed_connection_before_anything(project: Path) -> None:
    result = run_invoke(project, "bootstrap", "--connection-arn", "arn:aws:iam::1:role/x")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: --connection-arn 'arn:aws:iam::1:role/x' is not a CodeConnections connection "
        "ARN (arn:aws:codeconnections:<region>:<account>:connection/<uuid>)"
    )
    assert live_stacks() == []


def test_bootstrap_command_prints_each_stack(project: Path) -> None:
    result = run_invoke(project, "bootstrap")
    assert result.returncode == 0, result.stderr
    assert "flask-fargate-shared-registry: CREATE_COMPLETE" in result.stdout.splitlines()
