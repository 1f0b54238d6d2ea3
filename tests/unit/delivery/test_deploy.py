"""Deploy pieces without AWS: --image parsing, validation order, releases-only envs, the ECS wait
on AWS (stubbed), promoting by digest, a failed stack's one line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest
from botocore.stub import Stubber

from delivery import deploy, deploy_plan, ecs, environments, registry, slo, stacks, traffic
from delivery.errors import DeliveryError
from tests.support import ecs_responses
from tests.support.logs import progress_lines
from tests.support.project import make_project

DIGEST = "sha256:" + "c" * 64
REPO_URI = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate"


def fake_client(service: Literal["ecr", "ecs"]) -> Any:
    """A real boto3 client (for Stubber) that can never reach AWS."""
    session = boto3.Session(
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )
    return session.client("ecr") if service == "ecr" else session.client("ecs")


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
    ref = deploy_plan.parse_image(value)
    assert (ref.version, ref.digest) == (version, digest)


@pytest.mark.parametrize("value", ["latest", "", "1.2", "sha256:abc", "app:1.2.3", "1.2.3 ; rm"])
def test_malformed_image_is_one_line(value: str) -> None:
    with pytest.raises(DeliveryError, match="malformed --image"):
        deploy_plan.parse_image(value)


class Recorder:
    """Steps that only record that they were reached."""

    def __init__(self, engine: Any = None) -> None:
        self.calls: list[str] = []
        self.engine = engine

    def traffic(self, stack: environments.StackRef) -> str:
        self.calls.append("traffic")
        return "Blue"

    def shared(self, folder: str, variables: Any = None, *, root: Path) -> None:
        self.calls.append("shared")

    def gate(self, env: environments.Environment) -> slo.Gate:
        """An open gate, read (recorded) only where the env is gated."""
        if env.slo_gate:
            self.calls.append("gate")
        return slo.Gate(env.name, gated=env.slo_gate)

    def steps(self) -> deploy.Steps:
        def settings(env: environments.Environment) -> None:
            self.calls.append("settings")

        def creds(env: environments.Environment) -> str:
            self.calls.append("credentials")
            return "123456789012"

        def engine(name: str | None) -> Any:
            self.calls.append("engine")
            if self.engine is None:
                raise DeliveryError("no container engine found")
            return self.engine

        return deploy.Steps(check_settings=settings, check_credentials=creds, detect_engine=engine)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    return make_project(tmp_path)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    found = Recorder()
    monkeypatch.setattr(traffic, "production_target_group", found.traffic)
    monkeypatch.setattr(stacks, "check_dependencies", found.shared)
    monkeypatch.setattr(slo, "read_gate", found.gate)
    return found


def test_cheap_checks_come_before_aws(project: Path) -> None:
    recorder = Recorder()
    with pytest.raises(DeliveryError, match="no container engine"):
        deploy.validate("local", skip_scan=True, root=project, steps=recorder.steps())
    assert recorder.calls == ["engine"]  # settings and credentials never reached


def test_promote_needs_no_engine_or_scanner(
    project: Path, monkeypatch: pytest.MonkeyPatch, recorder: Recorder
) -> None:
    found = deploy_plan.Published(deploy_plan.Registry("h/r", "r", "eu-north-1"), DIGEST, "1.2.3")
    monkeypatch.setattr(deploy_plan, "find_image", lambda env, ref: found)
    plan = deploy.validate("dev", image="1.2.3", root=project, steps=recorder.steps())
    # Last: the shared stacks must exist (never launched here), and nothing may start while
    # ECS shifts production traffic.
    assert recorder.calls == ["settings", "credentials", "shared", "traffic"]
    assert plan.existing == found
    assert plan.engine is None
    assert plan.poll == 0.1  # AWS-shaped env, but the emulator answers: its short poll


def test_emulator_env_refuses_a_real_endpoint(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://cloudformation.eu-north-1.amazonaws.com")
    with pytest.raises(DeliveryError, match="runs on the local emulator"):
        deploy.validate("local", image="1.2.3", root=project, steps=Recorder().steps())


@dataclass(frozen=True, eq=False)
class FakeStack:
    external_name: str
    region: str = "eu-north-1"


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
    monkeypatch.setattr(stacks, "cloudformation", lambda region: cfn)
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
    assert deploy_plan.poll_for(environments.load("dev", project)) is None
    assert deploy_plan.poll_for(environments.load("local", project)) == 0.1


def test_published_image_reference_is_what_the_deploy_actions_read() -> None:
    uri = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate"
    digest = "sha256:" + "c" * 64
    published = deploy_plan.Published(
        deploy_plan.Registry(uri, "flask-fargate", "eu-north-1"), digest, "1.4.0"
    )
    assert published.reference() == {
        "uri": f"{uri}@{digest}",
        "repository": uri,
        "digest": digest,
        "version": "1.4.0",
    }


# --- releases-only environments (prod) -------------------------------------------------------


def test_prod_refuses_a_prerelease_before_anything_else(project: Path, recorder: Recorder) -> None:
    with pytest.raises(DeliveryError) as info:
        deploy.validate(
            "prod", image="1.3.0-dev.g0123456789ab", root=project, steps=recorder.steps()
        )
    assert str(info.value) == (
        "environment 'prod' takes released versions only (X.Y.Z), not the pre-release "
        "1.3.0-dev.g0123456789ab: release it first, or pass --allow-prerelease to deploy it anyway"
    )
    assert recorder.calls == []


def test_prod_takes_a_prerelease_when_allowed_and_says_so(
    project: Path, monkeypatch: pytest.MonkeyPatch, recorder: Recorder
) -> None:
    version = "1.3.0-dev.g0123456789ab"
    found = deploy_plan.Published(deploy_plan.Registry("h/r", "r", "eu-north-1"), DIGEST, version)
    monkeypatch.setattr(deploy_plan, "find_image", lambda env, ref: found)
    plan = deploy.validate(
        "prod", image=version, root=project, steps=recorder.steps(), allow_prerelease=True
    )
    assert plan.allow_prerelease
    assert deploy_plan.prerelease_warning(plan.env, version) == (
        f"WARNING: {version} is a pre-release, deployed to releases-only environment 'prod' "
        "because of --allow-prerelease"
    )
    assert deploy_plan.prerelease_warning(plan.env, "1.3.0") is None
    dev = environments.load("dev", project)
    assert deploy_plan.prerelease_warning(dev, version) is None


def test_prod_refuses_a_digest_whose_version_is_a_prerelease(
    project: Path, monkeypatch: pytest.MonkeyPatch, recorder: Recorder
) -> None:
    found = deploy_plan.Published(
        deploy_plan.Registry("h/r", "r", "eu-north-1"), DIGEST, "2.0.0-rc.1"
    )
    monkeypatch.setattr(deploy_plan, "find_image", lambda env, ref: found)
    with pytest.raises(DeliveryError, match=r"not the pre-release 2\.0\.0-rc\.1: .*--allow"):
        deploy.validate("prod", image=DIGEST, root=project, steps=recorder.steps())
    assert "traffic" not in recorder.calls


def test_prod_refuses_to_build_an_untagged_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    root = make_project(tmp_path, git_init=True)
    recorder = Recorder(engine=object())
    with pytest.raises(DeliveryError) as info:
        deploy.validate("prod", skip_scan=True, root=root, steps=recorder.steps())
    assert re.fullmatch(
        r"environment 'prod' takes released versions only \(X\.Y\.Z\), not the pre-release "
        r"\d+\.\d+\.\d+-dev\.g[0-9a-f]{12}: release it first, or pass --allow-prerelease to "
        r"deploy it anyway",
        str(info.value),
    )
    assert recorder.calls == ["engine"]  # settings and credentials never reached


# --- promoting by digest -----------------------------------------------------------------------


def test_a_digest_is_promoted_under_its_highest_version(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1.10.0 is newer than 1.9.0 (SemVer precedence, not string order)."""
    ecr = fake_client("ecr")
    repo = deploy_plan.Registry(REPO_URI, "flask-fargate", "eu-north-1")
    monkeypatch.setattr(deploy_plan, "existing_registry", lambda env: repo)
    monkeypatch.setattr(registry, "client", lambda region: ecr)
    pushed = datetime(2026, 1, 1, tzinfo=UTC)
    image = {
        "registryId": "123456789012",
        "repositoryName": "flask-fargate",
        "imageDigest": DIGEST,
        "imageTags": ["1.9.0", "1.10.0", "sha-0123456789ab"],
        "imagePushedAt": pushed,
    }
    with Stubber(ecr) as stub:
        stub.add_response("describe_images", {"imageDetails": [image]})  # has_digest
        stub.add_response("describe_images", {"imageDetails": [image]})  # list_images
        found = deploy_plan.find_image(
            environments.load("dev", project), deploy_plan.ImageRef(digest=DIGEST)
        )
    assert (found.version, found.digest) == ("1.10.0", DIGEST)


# --- waiting for ECS on AWS (the branch the emulator never takes) ------------------------------


def test_wait_for_service_follows_the_blue_green_deployment_on_aws(
    project: Path, monkeypatch: pytest.MonkeyPatch, delivery_log: pytest.LogCaptureFixture
) -> None:
    client = fake_client("ecs")
    regions: list[str] = []

    def ecs_client(region: str) -> Any:
        regions.append(region)
        return client

    monkeypatch.setattr(ecs, "client", ecs_client)
    monkeypatch.setattr(ecs, "DEFAULT_DELAY_S", 0.0)
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # AWS: the emulator is not standing in for it
    plan = deploy_plan.Plan(env=environments.load("dev", project))
    outputs = {
        "ClusterName": ecs_responses.CLUSTER,
        "ServiceName": ecs_responses.SERVICE,
        "TaskDefinitionArn": ecs_responses.NEW,
    }
    shifting = ecs_responses.service(
        ecs_responses.NEW,
        ecs_responses.deployment("PRIMARY", ecs_responses.NEW, 2),
        ecs_responses.deployment("ACTIVE", ecs_responses.OLD, 2),
        current=ecs_responses.DEPLOYMENT_ARN,
    )
    done = ecs_responses.service(
        ecs_responses.NEW,
        ecs_responses.deployment("PRIMARY", ecs_responses.NEW, 2),
        current=ecs_responses.DEPLOYMENT_ARN,
    )
    with Stubber(client) as stub:
        ecs_responses.blue_green_round(
            stub, shifting, ecs_responses.service_deployment("IN_PROGRESS", "TEST_TRAFFIC_SHIFT")
        )
        ecs_responses.blue_green_round(
            stub, done, ecs_responses.service_deployment("SUCCESSFUL", "CLEAN_UP")
        )
        deploy.wait_for_service(plan, outputs)
        stub.assert_no_pending_responses()
    assert regions == ["eu-north-1"]  # the service stack's region, from config
    seen = progress_lines(delivery_log)
    assert seen[0] == f"ecs: waiting for {ecs_responses.SERVICE} to run {ecs_responses.NEW}"
    assert "service deployment ejGvqq2ilnbKT9qj0vLJe: SUCCESSFUL (CLEAN_UP)" in seen


def test_wait_for_service_reports_a_blue_green_rollback_on_aws(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = fake_client("ecs")
    monkeypatch.setattr(ecs, "client", lambda region: client)
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # AWS: the emulator is not standing in for it
    plan = deploy_plan.Plan(env=environments.load("dev", project))
    outputs = {"ClusterName": ecs_responses.CLUSTER, "ServiceName": ecs_responses.SERVICE}
    rolled_back = ecs_responses.service(
        ecs_responses.OLD,
        ecs_responses.deployment("PRIMARY", ecs_responses.OLD, 2),
        current=ecs_responses.DEPLOYMENT_ARN,
    )
    rollback = {"reason": "alarm in ALARM state", "startedAt": datetime(2026, 1, 1, tzinfo=UTC)}
    with Stubber(client) as stub:
        ecs_responses.blue_green_round(
            stub,
            rolled_back,
            ecs_responses.service_deployment("ROLLBACK_SUCCESSFUL", "CLEAN_UP", rollback=rollback),
        )
        with pytest.raises(DeliveryError) as info:
            deploy.wait_for_service(plan, outputs)
    assert str(info.value) == (
        f"ECS rolled back the deployment of {ecs_responses.SERVICE} (alarm in ALARM state): "
        "it runs flask-fargate-dev:6 again"
    )


def test_http_only_is_said_plainly(project: Path) -> None:
    dev = environments.load("dev", project)
    outputs = {"Https": "false", "ServiceUrl": "http://alb.example.invalid"}
    assert deploy.http_only_notice(dev, outputs) == (
        "NOTE: environment 'dev' serves plain HTTP only (http://alb.example.invalid): to serve "
        "HTTPS, set the service's domain and its Route 53 hosted zone in "
        "config/dev/service.yaml and deploy again"
    )
    assert deploy.http_only_notice(dev, {"Https": "true"}) is None
    assert deploy.http_only_notice(dev, {}) is None  # a stack without the output says nothing
    assert deploy.http_only_notice(environments.load("local", project), outputs) is None


# --- the image's platform is the task definition's ------------------------------------------------


def test_the_build_targets_the_task_definitions_architecture_or_is_refused_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An arm64 workstation must not ship arm64 images to an X86_64 task definition."""
    from delivery import platforms  # noqa: PLC0415
    from delivery.engines.podman import PodmanEngine  # noqa: PLC0415

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    root = make_project(tmp_path, git_init=True)
    dev = environments.load("dev", root)
    assert deploy_plan.task_platform(dev) == "linux/amd64"  # the stack's default, X86_64
    service = root / "config" / "dev" / "service.yaml"
    service.write_text(service.read_text() + "sceptre_user_data:\n  cpu_architecture: ARM64\n")
    assert deploy_plan.task_platform(dev) == "linux/arm64"

    # A machine of the other architecture, with no emulator registered: refused before any
    # setting, credential or stack is read.
    other = "linux/amd64" if platforms.host_platform() == "linux/arm64" else "linux/arm64"
    architecture = {"linux/amd64": "X86_64", "linux/arm64": "ARM64"}[other]
    service.write_text(service.read_text().replace("ARM64", architecture))
    monkeypatch.setattr(platforms, "BINFMT_DIR", tmp_path / "no-binfmt")
    recorder = Recorder(engine=PodmanEngine(executable="podman"))
    with pytest.raises(DeliveryError) as info:
        deploy.validate("dev", skip_scan=True, root=root, steps=recorder.steps())
    assert str(info.value).startswith(
        f"podman on this {platforms.host_platform()} machine cannot build {other} images"
    )
    assert recorder.calls == ["engine"]


@pytest.mark.parametrize(
    ("env", "endpoint", "emulated"),
    [
        ("local", None, True),
        ("dev", "http://127.0.0.1:5000", True),  # the pipeline rehearsal's dev
        ("dev", "http://localhost:5000", True),
        ("dev", None, False),
        ("prod", "https://cloudformation.eu-north-1.amazonaws.com", False),
    ],
)
def test_the_emulator_stands_in_for_an_env_whose_endpoint_is_this_machine(
    project: Path, monkeypatch: pytest.MonkeyPatch, env: str, endpoint: str | None, emulated: bool
) -> None:
    if endpoint is None:
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert deploy_plan.on_emulator(environments.load(env, project)) is emulated
