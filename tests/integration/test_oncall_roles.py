"""The on-call's roles hold what their commands call: `status` read-only, `rollback` as incident.

First, after two local deploys (a sample project, the service under gunicorn, the emulator kept),
``invoke status --env local`` and ``invoke rollback --env local --to 1.0.0`` run as a person runs
them, each process guarded by the rehearsal's IAM judge (``delivery.rehearsal.policy.Guard``,
loaded the way a rehearsed build loads it: ``sitecustomize``) with the policy of the on-call
role as ``stacks/oncall_roles.py`` renders it for ``local`` and resolved in the emulator's
account. Every AWS call is judged with AWS's rules before it is sent; a refusal is AWS's
AccessDenied. The read-only role may not roll back.

Then the real ``dev`` config on the emulator standing in for an AWS account (as
tests/integration/test_pipeline_roles.py does for the pipeline's roles): ``status`` and the
prod promotion check recorded and judged against ``DevReadOnlyRole``, ``rollback`` and the ECS
wait of a blue/green deployment against ``DevIncidentRole``, both as
``config/shared/oncall-roles.yaml`` renders them.

On AWS every environment has a CloudFormation service role, which the incident role may only
update stacks through (``cloudformation:RoleArn``); the sample's local environment gets one
too, so that condition is judged here as well.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from delivery import (
    bootstrap,
    deploy,
    deploy_plan,
    environments,
    promotion,
    registry,
    release_checkout,
    rollback,
    stacks,
    status,
)
from delivery.emulator import Emulator, aws_env, environment
from delivery.local.record import read_record
from delivery.local.session import session as local_session
from delivery.local.session import stop as stop_local
from delivery.project import NAME as PROJECT
from delivery.rehearsal import policy
from delivery.render import render_stack, stack_configs
from stacks import oncall_roles
from tests.integration.test_pipeline_roles import V2S2, image, judged, wait_on_blue_green
from tests.support import iam
from tests.support.cli import run_invoke
from tests.support.deploy_steps import fake_steps
from tests.support.project import make_project, service_template

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
ROOT = environments.PROJECT_ROOT
REGION = "eu-north-1"
SERVICE_STACK = "flask-fargate-local-service"
CLOUDFORMATION_ROLE = f"arn:aws:iam::{iam.ACCOUNT}:role/cloudformation/flask-fargate-local"


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS_* from the shell or other tests: the session starts its own emulator."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)


def sample_service() -> str:
    """The sample service, its cluster named as CloudFormation names one it generates."""
    template = json.loads(service_template())
    cluster = template["Resources"]["Cluster"]["Properties"]
    cluster["ClusterName"] = {"Fn::Sub": "${AWS::StackName}-Cluster-SAMPLE"}
    return json.dumps(template)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = make_project(tmp_path)
    (root / "app").symlink_to(REPO / "app")
    (root / "templates" / "service.json").write_text(sample_service())
    config = root / "config" / "local" / "config.yaml"
    config.write_text(config.read_text() + f"cloudformation_service_role: {CLOUDFORMATION_ROLE}\n")
    yield root
    stop_local(environments.load("local", root))


def deploy_version(root: Path, version: str) -> None:
    env = environments.load("local", root)
    with local_session(env, serve="process", keep=True) as current:
        deploy.deploy("local", skip_scan=True, root=root, steps=current.steps(fake_steps(version)))


def role_policy(kind: str) -> list[dict[str, Any]]:
    """The on-call role's statements for ``local``, as the stack renders them, resolved."""
    settings = oncall_roles.Settings(project=PROJECT, environment="shared", environments=["local"])
    template = json.loads(json.dumps(oncall_roles.build(settings).to_dict()))
    logical_id = "LocalReadOnlyRole" if kind == oncall_roles.READ_ONLY else "LocalIncidentRole"
    names = {
        "AWS::Region": REGION,
        "RepositoryArn": f"arn:aws:ecr:{REGION}:{iam.ACCOUNT}:repository/flask-fargate-local",
    }
    resolved: list[dict[str, Any]] = iam.resolve(iam.role_statements(template, logical_id), names)
    return resolved


def as_role(root: Path, kind: str, folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``invoke <argv>`` with every AWS call judged against the on-call ``kind`` role."""
    record = read_record(environments.load("local", root))
    assert record is not None
    name = f"flask-fargate-local-{kind}"
    settings = policy.GuardSettings(
        principal=f"arn:aws:sts::{iam.ACCOUNT}:assumed-role/{name}/oncall",
        role=name,
        statements=role_policy(kind),
        endpoint=record.endpoint,
        account=policy.Account(iam.ACCOUNT),
        log=str(folder / "denied.jsonl"),
    )
    guard = policy.sitecustomize(folder, settings)
    # CONTAINER_ENGINE=buildah (which runs no container): the rollback serves under gunicorn.
    # A rollback runs as the release's own, in its checkout (delivery/release_checkout.py): the
    # sample project is no git repository, and every AWS call a rollback makes is that one's.
    env = {**guard, "CONTAINER_ENGINE": "buildah", release_checkout.RELEASE_VARIABLE: "1"}
    result = run_invoke(root, *argv, env=env, ambient_aws=False)
    print(f"$ invoke {' '.join(argv)} as {kind}\n{result.stdout}{result.stderr}")
    return result


def app_version(root: Path) -> str:
    record = read_record(environments.load("local", root))
    assert record is not None
    with environment(aws_env(record.endpoint, record.region)):
        stack = boto3.client("cloudformation").describe_stacks(StackName=SERVICE_STACK)
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Stacks"][0]["Parameters"]}
    return parameters["AppVersion"]


def test_status_as_read_only_and_rollback_as_incident_are_allowed_every_call(
    project: Path, tmp_path: Path
) -> None:
    deploy_version(project, "1.0.0")
    deploy_version(project, "1.1.0")
    assert app_version(project) == "1.1.0"

    status = as_role(
        project, oncall_roles.READ_ONLY, tmp_path / "status", "status", "--env", "local"
    )
    assert status.returncode == 0, status.stderr
    assert "live version: 1.1.0" in status.stdout
    assert policy.denials(tmp_path / "status" / "denied.jsonl") == []

    # The read-only role cannot roll back: AWS's AccessDenied, one line, nothing changed.
    refused = as_role(
        project, oncall_roles.READ_ONLY, tmp_path / "refused", "rollback", "--env", "local",
        "--to", "1.0.0",
    )  # fmt: skip
    assert refused.returncode == 1
    (line,) = refused.stderr.splitlines()
    assert "AccessDenied" in line, line
    (denied, *_) = policy.denials(tmp_path / "refused" / "denied.jsonl")
    assert denied.action.startswith("cloudformation:"), denied
    assert app_version(project) == "1.1.0"

    rollback = as_role(
        project, oncall_roles.INCIDENT, tmp_path / "rollback", "rollback", "--env", "local",
        "--to", "1.0.0",
    )  # fmt: skip
    assert rollback.returncode == 0, rollback.stderr
    assert "rolled local back to 1.0.0" in rollback.stdout
    assert policy.denials(tmp_path / "rollback" / "denied.jsonl") == []
    assert app_version(project) == "1.0.0"


def oncall_policy(logical_id: str, repository_arn: str) -> list[dict[str, Any]]:
    """The role's statements as config/shared/oncall-roles.yaml renders them, resolved."""
    (config,) = [c for c in stack_configs(ROOT / "config", ["shared"]) if c.name == "oncall-roles"]
    template = json.loads(render_stack(config))
    names = {"AWS::Region": REGION, "RepositoryArn": repository_arn}
    resolved: list[dict[str, Any]] = iam.resolve(iam.role_statements(template, logical_id), names)
    return resolved


@contextlib.contextmanager
def recording() -> Iterator[iam.Recorder]:
    """Every AWS call of this process recorded: the sessions that cache clients made anew."""
    with iam.Recorder() as recorder:
        boto3.DEFAULT_SESSION = None
        stacks.fresh_connections()
        yield recorder


def test_on_dev_as_on_aws_status_reads_and_rollback_deploys_within_the_roles(
    aws: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real dev config on the emulator, as an AWS account: the calls recorded, then judged."""
    monkeypatch.setattr(deploy_plan, "on_emulator", lambda env: False)
    bootstrap.bootstrap(ROOT, poll=stacks.EMULATOR_POLL_S)  # the on-call roles stack too
    dev = environments.load("dev", ROOT)
    repo = deploy_plan.existing_registry(dev)
    for version in ("1.0.0", "1.1.0"):
        registry.record_image(repo.name, version, image(version), V2S2, repo.ecr())
    steps = deploy.Steps(after_launch=deploy.check_service)
    deploy.deploy("dev", "1.1.0", root=ROOT, steps=steps)
    repository_arn = stacks.outputs(deploy_plan.registry_stack(dev))["RepositoryArn"]

    with recording() as reading:
        status.status("dev", ROOT)
        assert promotion.promotion_pause("prod", ROOT) is None  # no pipeline launched here
    with recording() as rolling:
        result = rollback.rollback("dev", "1.0.0", root=ROOT, steps=steps)
    with recording() as waiting:
        wait_on_blue_green(
            result.outputs["ClusterName"],
            result.outputs["ServiceName"],
            result.outputs["TaskDefinitionArn"],
        )
    assert result.version == "1.0.0"

    read_only = oncall_policy("DevReadOnlyRole", repository_arn)
    incident = oncall_policy("DevIncidentRole", repository_arn)
    read_actions, read_denied = judged(reading.calls, read_only)
    roll_actions, roll_denied = judged(rolling.calls + waiting.calls, incident)
    _, not_for_reading = judged(rolling.calls, read_only)
    with capsys.disabled():
        print(
            f"\nDevReadOnlyRole: {len(reading.calls)} calls, {len(read_actions)} actions "
            f"({', '.join(sorted(read_actions))}), {len(read_denied)} denied"
            f"\nDevIncidentRole: {len(rolling.calls + waiting.calls)} calls, "
            f"{len(roll_actions)} actions ({', '.join(sorted(roll_actions))}), "
            f"{len(roll_denied)} denied"
        )
    assert {"cloudformation:DescribeStacks", "ecs:DescribeServices", "ecr:DescribeImages"} <= (
        read_actions
    )
    assert read_denied == []
    assert roll_denied == []
    assert {"cloudformation:UpdateStack", "iam:PassRole"} <= roll_actions
    assert any("cloudformation:UpdateStack" in denied for denied in not_for_reading)
