"""The deploy orchestration end to end on the emulator, with a sample Sceptre project.

Build and scan are replaced by fakes (no engine or scanner needed); everything else is real:
validation, the registry stack, recording the image with put_image, the stack update with the new
``image_uri``/``app_version`` (a new task definition revision), promote, rollback, status, diff
and destroy.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from delivery import deploy, destroy, preview, registry, rollback, scan, stacks, status
from delivery.emulator import Emulator
from delivery.errors import DeliveryError
from tests.unit.delivery.test_environments import break_registry_template, make_project

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
SHA = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class FakeEngine:
    """Just enough of delivery.container.ContainerEngine for publishing on the emulator."""

    name: str = "podman"

    def manifest(self, ref: str) -> tuple[str, bytes, str]:
        config = "sha256:" + hashlib.sha256(ref.encode()).hexdigest()
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": 1,
                    "digest": config,
                },
                "layers": [],
            }
        ).encode()
        return (
            "application/vnd.docker.distribution.manifest.v2+json",
            body,
            "sha256:" + hashlib.sha256(body).hexdigest(),
        )

    def push(self, local_ref: str, remote_ref: str, username: str, password: str) -> str:
        """A push, as the emulator can take one: the manifest recorded under the tag."""
        assert (username, password) != ("", "")
        repository, tag = remote_ref.split("/", 1)[1].rsplit(":", 1)
        media_type, body, _ = self.manifest(local_ref)
        return registry.record_image(repository, tag, body.decode(), media_type)


def fake_steps(version: str, built: list[str] | None = None) -> deploy.Steps:
    """Steps that build and scan nothing; publishing, launching and waiting are real."""

    def build(plan: deploy.Plan, progress: deploy.Progress) -> deploy.Built:
        if built is not None:
            built.append(version)
        return deploy.Built(ref=f"flask-fargate:{version}", version=version, sha=SHA)

    def no_scan(
        plan: deploy.Plan, image: deploy.Built, progress: deploy.Progress
    ) -> scan.ScanResult:
        return scan.ScanResult(image.ref, skipped=True, message="SCAN SKIPPED (test)")

    return deploy.Steps(
        detect_engine=lambda _: FakeEngine(),  # type: ignore[arg-type,return-value]
        build_image=build,
        scan_image=no_scan,
        # dev/prod are AWS-shaped envs served by the emulator here: one read, no ECS waiter.
        after_launch=deploy.check_service,
    )


@pytest.fixture
def project(tmp_path: Path, aws: Emulator) -> Path:
    return make_project(tmp_path)


def task_image(arn: str) -> str:
    definition = boto3.client("ecs").describe_task_definition(taskDefinition=arn)
    return str(definition["taskDefinition"]["containerDefinitions"][0]["image"])


def live_image() -> tuple[str, str]:
    """(ImageUri, AppVersion) the service stack runs with.

    Read from the stack rather than the task definition: moto drops the container definitions
    of task definition revisions it creates on a stack *update* (only the first is complete).
    """
    stack = boto3.client("cloudformation").describe_stacks(StackName="flask-fargate-local-service")[
        "Stacks"
    ][0]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    return params["ImageUri"], params["AppVersion"]


def test_deploy_promote_rollback_status_diff_destroy(project: Path) -> None:
    lines: list[str] = []
    first = deploy.deploy(
        "local", skip_scan=True, root=project, steps=fake_steps("1.0.0"), progress=lines.append
    )
    assert first.version == "1.0.0"
    assert first.image_uri.startswith("123456789012.dkr.ecr.eu-north-1.amazonaws.com/")
    assert first.image_uri.endswith(f"flask-fargate-local@{first.digest}")
    assert first.service_url == "http://flask-fargate-local-service.example.invalid"
    assert task_image(first.outputs["TaskDefinitionArn"]) == first.image_uri
    assert any("CREATE_COMPLETE" in line for line in lines)  # stack events shown as progress

    second = deploy.deploy("local", skip_scan=True, root=project, steps=fake_steps("1.1.0"))
    assert second.digest != first.digest
    assert second.outputs["TaskDefinitionArn"] != first.outputs["TaskDefinitionArn"]
    assert live_image() == (second.image_uri, "1.1.0")

    # Rollback: the earlier version's digest, found by its tag, through the same stack update.
    built: list[str] = []
    back = rollback.rollback("local", "1.0.0", root=project, steps=fake_steps("x", built))
    assert built == []  # nothing was built
    assert (back.version, back.digest) == ("1.0.0", first.digest)
    assert live_image() == (first.image_uri, "1.0.0")
    assert back.outputs["TaskDefinitionArn"].endswith(":3")  # a new revision for the old image

    # Promote by digest: same image, version found from its tags.
    again = deploy.deploy("local", second.digest, root=project, steps=fake_steps("x", built))
    assert (again.version, built) == ("1.1.0", [])

    summary = status.status("local", project)
    assert summary.version == "1.1.0"
    assert summary.versions == ["1.0.0", "1.1.0"]
    assert "  live version: 1.1.0" in "\n".join(summary.lines())

    assert all(change.action == "none" for change in preview.diff("local", root=project))
    # A preview with another version runs its change sets (moto compares templates only, so it
    # reports no change for a new parameter value; AWS reports the TaskDefinition replacement).
    changes = preview.diff("local", "1.0.0", root=project)
    assert [c.stack for c in changes] == [
        "flask-fargate-local-registry",
        "flask-fargate-local-service",
    ]
    stack_names = boto3.client("cloudformation").list_change_sets(
        StackName="flask-fargate-local-service"
    )["Summaries"]
    assert stack_names == []  # previews leave no change set behind

    destroyed = destroy.destroy("local", root=project)
    assert destroyed["flask-fargate-local-service"] == "complete"
    assert stacks.state("flask-fargate-local-service").status in ("NOT_CREATED", "DELETE_COMPLETE")
    # The repository is retained: its images (every released version) survive the destroy.
    images = boto3.client("ecr").list_images(repositoryName="flask-fargate-local")["imageIds"]
    assert {i.get("imageTag") for i in images} >= {"1.0.0", "1.1.0"}


def test_diff_of_a_new_environment_is_all_creates(project: Path) -> None:
    changes = preview.diff("dev", root=project)
    assert [str(c) for c in changes] == [
        "flask-fargate-shared-registry: create stack",
        "flask-fargate-dev-service: create stack",
    ]
    assert boto3.client("cloudformation").list_stacks()["StackSummaries"] == []


def test_promote_to_another_env_uses_the_same_digest(project: Path) -> None:
    """Build once, promote: dev and prod share the registry; prod gets dev's digest."""
    dev = deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("2.0.0"))
    prod = deploy.deploy("prod", "2.0.0", root=project, steps=fake_steps("x"))
    assert prod.digest == dev.digest
    assert prod.image_uri == dev.image_uri
    with pytest.raises(DeliveryError, match="protected against destroy"):
        destroy.destroy("prod", root=project)


def test_unknown_version_fails_before_any_change(project: Path) -> None:
    stacks.launch("local/registry.yaml", root=project, poll=stacks.EMULATOR_POLL_S)
    with pytest.raises(DeliveryError) as info:
        deploy.deploy("local", "9.9.9", root=project, steps=fake_steps("x"))
    assert str(info.value).startswith("image 'flask-fargate-local:9.9.9' does not exist in ECR")
    assert stacks.state("flask-fargate-local-service").status == "NOT_CREATED"


def test_bad_settings_fail_before_any_change(project: Path) -> None:
    config = project / "config" / "local" / "service.yaml"
    config.write_text(config.read_text() + "  Extra: {{ var.undefined_setting }}\n")
    with pytest.raises(DeliveryError, match="render local failed") as info:
        deploy.deploy("local", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    assert "\n" not in str(info.value)
    assert boto3.client("cloudformation").list_stacks()["StackSummaries"] == []


def test_push_reads_the_registry_and_never_launches_it(project: Path) -> None:
    """push runs under CodeBuild's build role, which has no CloudFormation rights."""
    steps = fake_steps("3.0.0")
    plan = deploy.validate("dev", skip_scan=True, root=project, steps=steps)
    with pytest.raises(DeliveryError) as info:
        deploy.push(plan, steps)
    assert str(info.value) == (
        "registry stack flask-fargate-shared-registry not found: "
        "run `invoke deploy --env dev` once first"
    )
    assert boto3.client("cloudformation").list_stacks()["StackSummaries"] == []

    stacks.launch("shared/registry.yaml", root=project, poll=stacks.EMULATOR_POLL_S)
    cfn = boto3.client("cloudformation")
    before = cfn.describe_stack_events(StackName="flask-fargate-shared-registry")["StackEvents"]
    pushed = deploy.push(plan, steps)
    assert pushed.version == "3.0.0"
    assert pushed.registry.name == "flask-fargate"
    after = cfn.describe_stack_events(StackName="flask-fargate-shared-registry")["StackEvents"]
    assert after == before  # read, not launched
    assert registry.find_version("flask-fargate", "3.0.0") == pushed.digest


def test_a_failed_registry_launch_still_waits_for_the_build(project: Path) -> None:
    """The build runs beside the registry launch; a failed launch never leaves it running."""
    finished: list[str] = []

    def slow_build(plan: deploy.Plan, progress: deploy.Progress) -> deploy.Built:
        time.sleep(0.5)
        finished.append("built")
        return deploy.Built(ref="flask-fargate:1.0.0", version="1.0.0", sha=SHA)

    break_registry_template(project)
    steps = fake_steps("1.0.0")
    steps.build_image = slow_build
    with pytest.raises(DeliveryError, match=r"launch local/registry\.yaml failed"):
        deploy.deploy("local", skip_scan=True, root=project, steps=steps)
    assert finished == ["built"]
