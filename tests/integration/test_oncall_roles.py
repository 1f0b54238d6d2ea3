"""The on-call's roles hold what their commands call: `status` read-only, `rollback` as incident.

After two local deploys (a sample project, the service under gunicorn, the emulator kept),
``invoke status --env local`` and ``invoke rollback --env local --to 1.0.0`` run as a person runs
them, each process guarded by the rehearsal's IAM judge (``delivery.rehearsal.policy.Guard``,
loaded the way a rehearsed build loads it: ``sitecustomize``) with the policy of the on-call
role as ``stacks/oncall_roles.py`` renders it for ``local`` and resolved in the emulator's
account. Every AWS call is judged with AWS's rules before it is sent; a refusal is AWS's
AccessDenied. The read-only role may not roll back.

On AWS every environment has a CloudFormation service role, which the incident role may only
update stacks through (``cloudformation:RoleArn``); the sample's local environment gets one
too, so that condition is judged here as well.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from delivery import deploy, environments
from delivery.emulator import aws_env, environment
from delivery.local.record import read_record
from delivery.local.session import session as local_session
from delivery.local.session import stop as stop_local
from delivery.rehearsal import policy
from stacks import oncall_roles
from tests.support import iam
from tests.support.cli import run_invoke
from tests.support.deploy_steps import fake_steps
from tests.support.project import make_project, service_template

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
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
    settings = oncall_roles.Settings(environment="shared", environments=["local"])
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
    result = run_invoke(
        root, *argv, env={**guard, "CONTAINER_ENGINE": "buildah"}, ambient_aws=False
    )
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
