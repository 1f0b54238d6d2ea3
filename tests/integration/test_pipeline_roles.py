"""The pipeline's roles hold what their code paths call: recorded on the emulator, judged as AWS.

The deploy role (``DeployDevRole``, as the pipeline stack renders it) runs the real deploy of the
real ``dev`` config on the emulator, IAM enforced by it, then ``status`` and ``diff``, and the ECS
wait (on a stubbed client: the emulator runs no tasks). Every AWS call is recorded and judged
against the role's real policy with AWS's rules: actions, resource ARNs, conditions
(``cloudformation:RoleArn``, ``iam:PassedToService``). The build role is judged the same way on
``invoke push``'s path. moto's own enforcement is coarse (actions only, every resource "*", no
conditions), so the role it enforces is the same policy with resources widened and conditions
dropped; the precise judgement is ``tests.support.iam.Evaluator``'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from delivery import (
    bootstrap,
    deploy,
    deploy_plan,
    ecs,
    environments,
    images,
    preview,
    registry,
    stacks,
    status,
)
from delivery.emulator import Emulator, environment
from delivery.render import render_stack, stack_configs
from tests.support import iam
from tests.support.fake_engine import FakeRunner
from tests.support.registry_images import podman_holding

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

ROOT = environments.PROJECT_ROOT
REGION = "eu-north-1"
V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
CONNECTION = (
    f"arn:aws:codeconnections:{REGION}:{iam.ACCOUNT}:connection/"
    "0123abcd-0123-4567-89ab-0123456789ab"
)
# What the pipeline stack's other resources resolve to: only names, for the role's ARN patterns.
PIPELINE_NAMES = {
    "AWS::Region": REGION,
    "AWS::StackName": "flask-fargate-shared-pipeline",
    "ConnectionArn": CONNECTION,
    "BuildLogGroup": "flask-fargate-shared-pipeline-BuildLogGroup-ABC",
    "ArtifactBucket.Arn": "arn:aws:s3:::flask-fargate-shared-pipeline-artifactbucket-abc",
    "ArtifactKey.Arn": f"arn:aws:kms:{REGION}:{iam.ACCOUNT}:key/0123abcd",
}


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    """An emulator of this module's own: IAM enforcement is switched on for the whole server."""
    with Emulator() as emulator:
        yield emulator


def enforce(server: Emulator, on: bool) -> None:
    """moto's IAM enforcement from the next request on (its /moto-api/reset-auth)."""
    request = urllib.request.Request(
        f"{server.endpoint}/moto-api/reset-auth",
        data=b"0" if on else b"inf",
        # Not a form: moto reads the raw body, which a form content type would consume.
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):  # nosec B310
        pass


def pipeline_role(name: str, repository_arn: str) -> list[dict[str, Any]]:
    """The role's statements as the pipeline stack renders them, resolved for the emulator."""
    (config,) = [c for c in stack_configs(ROOT / "config", ["shared"]) if c.name == "pipeline"]
    template = json.loads(render_stack(config))
    names = {**PIPELINE_NAMES, "RepositoryArn": repository_arn}
    resolved: list[dict[str, Any]] = iam.resolve(iam.role_statements(template, name), names)
    return resolved


def coarse(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """What moto can enforce of a policy: its actions, every resource "*", no conditions."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": s["Effect"], "Action": s["Action"], "Resource": "*"} for s in statements
        ],
    }


def image(label: str) -> str:
    config = json.dumps({"architecture": "amd64", "config": {"Labels": {"build": label}}})
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": V2S2,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": "sha256:" + hashlib.sha256(config.encode()).hexdigest(),
            },
            "layers": [],
        }
    )


@contextlib.contextmanager
def acting_as(server: Emulator, principal: Mapping[str, str]) -> Iterator[None]:
    """This process's AWS calls made with ``principal``'s credentials, on the emulator.

    boto3's default session and Sceptre's sessions cache the credentials they first resolved:
    both are dropped on the way in and out.
    """
    with environment({**server.env(), **principal}):
        boto3.DEFAULT_SESSION = None
        stacks.fresh_connections()
        try:
            yield
        finally:
            boto3.DEFAULT_SESSION = None
            stacks.fresh_connections()


def credentials(session: Mapping[str, Any]) -> dict[str, str]:
    """An AssumeRole session's credentials as the AWS environment variables."""
    return {
        "AWS_ACCESS_KEY_ID": str(session["AccessKeyId"]),
        "AWS_SECRET_ACCESS_KEY": str(session["SecretAccessKey"]),
        "AWS_SESSION_TOKEN": str(session["SessionToken"]),
    }


def assume(name: str, statements: list[dict[str, Any]], admin: Mapping[str, str]) -> dict[str, str]:
    """A role holding ``statements`` (coarsely, for moto), assumed by the administrator."""
    client = boto3.client("iam")
    admin_arn = client.get_user(UserName="admin")["User"]["Arn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    client.put_role_policy(
        RoleName=name, PolicyName="pipeline", PolicyDocument=json.dumps(coarse(statements))
    )
    sts = boto3.client(
        "sts",
        region_name=REGION,
        aws_access_key_id=admin["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=admin["AWS_SECRET_ACCESS_KEY"],
    )
    session = sts.assume_role(RoleArn=arn, RoleSessionName="codebuild")["Credentials"]
    return credentials(session)


def administrator() -> dict[str, str]:
    client = boto3.client("iam")
    client.create_user(UserName="admin")
    allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    everything = {"Version": "2012-10-17", "Statement": [allow_all]}
    client.put_user_policy(
        UserName="admin", PolicyName="all", PolicyDocument=json.dumps(everything)
    )
    key = client.create_access_key(UserName="admin")["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def judged(calls: list[iam.Call], statements: list[dict[str, Any]]) -> tuple[set[str], list[str]]:
    """(the distinct actions called, every request the policy denies)."""
    evaluator = iam.Evaluator(statements)
    requests = [request for call in calls for request in iam.requests(call)]
    return {r.action for r in requests}, [str(r) for r in requests if not evaluator.allows(r)]


def wait_on_blue_green(cluster: str, service: str, task_definition: str) -> None:
    """The ECS wait of a deploy, on a client answering as ECS does for a finished blue/green
    deployment (the emulator runs no tasks): its calls, as the real code makes them."""
    client = boto3.client("ecs", region_name=REGION)
    arn = f"arn:aws:ecs:{REGION}:{iam.ACCOUNT}:service-deployment/{cluster}/{service}/abc"
    entry = {
        "serviceName": service,
        "status": "ACTIVE",
        "taskDefinition": task_definition,
        "deployments": [
            {"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": task_definition}
        ],
        "currentServiceDeployment": arn,
    }
    deployment = {
        "serviceDeploymentArn": arn,
        "status": "SUCCESSFUL",
        "lifecycleStage": "CLEAN_UP",
        "targetServiceRevision": {"arn": f"{arn}-revision"},
        "finishedAt": datetime(2026, 1, 1, tzinfo=UTC),
    }
    with Stubber(client) as stub:
        stub.add_response("describe_services", {"services": [entry], "failures": []})
        stub.add_response(
            "describe_service_deployments", {"serviceDeployments": [deployment], "failures": []}
        )
        ecs.wait_stable(cluster, service, task_definition, ecs=client, sleep=lambda _: None)


def test_the_deploy_and_build_roles_hold_every_call_their_code_paths_make(
    server: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The emulator plays the AWS account: the code paths under test are AWS's (a push, the wait).
    monkeypatch.setattr(deploy_plan, "on_emulator", lambda env: False)
    server.reset()
    enforce(server, False)
    with environment(server.env()):
        stacks.fresh_connections()
        # An administrator's account: the shared stacks, two builds in the registry, dev once.
        bootstrap.bootstrap(ROOT, poll=stacks.EMULATOR_POLL_S)
        dev = environments.load("dev", ROOT)
        repo = deploy_plan.existing_registry(dev)
        for version, commit in (("1.0.0", "sha-0000000000aa"), ("1.1.0", "sha-0000000000bb")):
            for tag in (version, commit):
                registry.record_image(repo.name, tag, image(version), V2S2, repo.ecr())
        steps = deploy.Steps(after_launch=deploy.check_service)
        first = deploy.deploy("dev", "1.0.0", root=ROOT, steps=steps)
        repository_arn = stacks.outputs(deploy_plan.registry_stack(dev))["RepositoryArn"]
        deployer = pipeline_role("DeployDevRole", repository_arn)
        builder = pipeline_role("BuildRole", repository_arn)
        admin = administrator()
        deploy_credentials = assume("deploy-dev", deployer, admin)
        build_credentials = assume("build", builder, admin)

    enforce(server, True)
    try:
        # The emulator enforces: an action the role lacks is refused.
        with (
            acting_as(server, deploy_credentials),
            pytest.raises(ClientError, match="AccessDenied"),
        ):
            boto3.client("ecr", region_name=REGION).delete_repository(
                repositoryName="flask-fargate"
            )
        with acting_as(server, deploy_credentials), iam.Recorder() as deploying:
            result = deploy.deploy("dev", "1.1.0", root=ROOT, steps=steps)
            status.status("dev", ROOT)
            preview.diff("dev", root=ROOT)
        with iam.Recorder() as waiting:
            wait_on_blue_green(
                result.outputs["ClusterName"],
                result.outputs["ServiceName"],
                result.outputs["TaskDefinitionArn"],
            )
        with acting_as(server, build_credentials), iam.Recorder() as building:
            # invoke push: validate, then publish to the registry (the build itself is local).
            config = image("1.2.0")
            engine = podman_holding(FakeRunner(), (json.loads(config)["config"]["digest"], config))
            plan = deploy.validate(
                "dev",
                skip_scan=True,
                root=ROOT,
                launch=False,
                steps=deploy.Steps(detect_engine=lambda _: engine),
            )
            built = images.Built(ref="flask-fargate:1.2.0", version="1.2.0", sha="c" * 40)
            images.publish(plan, images.registry_for_push(dev), built)
    finally:
        enforce(server, False)

    assert (first.version, result.version) == ("1.0.0", "1.1.0")
    deploy_actions, deploy_denied = judged(deploying.calls + waiting.calls, deployer)
    build_actions, build_denied = judged(building.calls, builder)
    with capsys.disabled():
        print(
            f"\nDeployDevRole: {len(deploying.calls) + len(waiting.calls)} calls, "
            f"{len(deploy_actions)} actions ({', '.join(sorted(deploy_actions))}), "
            f"{len(deploy_denied)} denied"
            f"\nBuildRole: {len(building.calls)} calls, {len(build_actions)} actions "
            f"({', '.join(sorted(build_actions))}), {len(build_denied)} denied"
        )
    assert not deploy_denied
    assert not build_denied
    assert {"cloudformation:UpdateStack", "iam:PassRole"} <= deploy_actions
    assert "ecs:DescribeServiceDeployments" in deploy_actions
