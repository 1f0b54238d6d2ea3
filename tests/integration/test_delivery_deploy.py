"""The deploy orchestration end to end on the emulator, with a sample Sceptre project.

Build and scan are replaced by tests/support/deploy_steps.py's fakes (no engine or scanner
needed); everything else is real: validation, the registry stack, recording the image with
put_image, the stack update with the new ``image_uri``/``app_version`` (a new task definition
revision), promote, rollback, status, diff and destroy.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from delivery import (
    deploy,
    deploy_command,
    deploy_plan,
    destroy,
    images,
    preview,
    registry,
    rollback,
    stacks,
    status,
)
from delivery.emulator import Emulator
from delivery.environments import StackRef
from delivery.errors import DeliveryError
from tests.support.deploy_steps import commit_of, fake_steps
from tests.support.logs import progress_lines
from tests.support.project import break_registry_template, launch_shared, make_project

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
REGION = "eu-north-1"  # the sample project's config/config.yaml
LOCAL_SERVICE = StackRef("flask-fargate-local-service", REGION)


@pytest.fixture
def project(tmp_path: Path, aws: Emulator) -> Path:
    return make_project(tmp_path)


@pytest.fixture
def shared_stacks(project: Path) -> None:
    """The account's shared stacks exist: an administrator's `invoke bootstrap`, never a deploy."""
    launch_shared(project)


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


def test_deploy_promote_rollback_status_diff_destroy(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    first = deploy.deploy("local", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    assert first.version == "1.0.0"
    assert first.image_uri.startswith("123456789012.dkr.ecr.eu-north-1.amazonaws.com/")
    assert first.image_uri.endswith(f"flask-fargate-local@{first.digest}")
    assert first.service_url == "http://flask-fargate-local-service.example.invalid"
    assert task_image(first.outputs["TaskDefinitionArn"]) == first.image_uri
    # Stack events are progress lines too.
    assert any("CREATE_COMPLETE" in line for line in progress_lines(delivery_log))

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
    assert stacks.state(LOCAL_SERVICE).status in ("NOT_CREATED", "DELETE_COMPLETE")
    # The repository is retained: its images (every released version) survive the destroy.
    images = boto3.client("ecr").list_images(repositoryName="flask-fargate-local")["imageIds"]
    assert {i.get("imageTag") for i in images} >= {"1.0.0", "1.1.0"}


def test_diff_of_a_new_environment_is_all_creates(project: Path) -> None:
    """diff previews what a deploy would launch: the environment's own stacks, no shared one."""
    with pytest.raises(DeliveryError, match=r"shared/registry.*is NOT_CREATED.*invoke bootstrap"):
        preview.diff("dev", root=project)
    launch_shared(project)
    before = boto3.client("cloudformation").list_stacks()["StackSummaries"]
    changes = preview.diff("dev", root=project)
    assert [str(c) for c in changes] == ["flask-fargate-dev-service: create stack"]
    assert boto3.client("cloudformation").list_stacks()["StackSummaries"] == before


@pytest.mark.usefixtures("shared_stacks")
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
    assert stacks.state(LOCAL_SERVICE).status == "NOT_CREATED"


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
    plan = deploy.validate("dev", skip_scan=True, root=project, steps=steps, launch=False)
    with pytest.raises(DeliveryError) as info:
        deploy.push(plan, steps)
    assert str(info.value) == (
        "registry stack flask-fargate-shared-registry not found in eu-north-1: "
        "an administrator launches the account's with `invoke bootstrap`"
    )
    assert boto3.client("cloudformation").list_stacks()["StackSummaries"] == []

    launch_shared(project)
    cfn = boto3.client("cloudformation")
    before = cfn.describe_stack_events(StackName="flask-fargate-shared-registry")["StackEvents"]
    pushed = deploy.push(plan, steps)
    assert pushed.version == "3.0.0"
    assert pushed.registry.name == "flask-fargate"
    after = cfn.describe_stack_events(StackName="flask-fargate-shared-registry")["StackEvents"]
    assert after == before  # read, not launched
    ecr = registry.client(REGION)
    assert registry.find_version("flask-fargate", "3.0.0", ecr) == pushed.digest


def test_a_failed_registry_launch_still_waits_for_the_build(project: Path) -> None:
    """The build runs beside the registry launch; a failed launch never leaves it running."""
    finished: list[str] = []

    def slow_build(plan: deploy_plan.Plan) -> images.Built:
        time.sleep(0.5)
        finished.append("built")
        return images.Built(ref="flask-fargate:1.0.0", version="1.0.0", sha=commit_of("1.0.0"))

    break_registry_template(project)
    steps = fake_steps("1.0.0")
    steps.build_image = slow_build
    with pytest.raises(DeliveryError, match=r"flask-fargate-local-registry failed \(ROLLBACK"):
        deploy.deploy("local", skip_scan=True, root=project, steps=steps)
    assert finished == ["built"]


# --- regions: delivery reads where Sceptre wrote (the config's region), whatever the shell says --


def stack_names(region: str) -> list[str]:
    """Live stacks the emulator holds in ``region`` (moto keeps each region apart, as AWS does)."""
    summaries = boto3.client("cloudformation", region_name=region).list_stacks()["StackSummaries"]
    return sorted(s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE")


@pytest.mark.usefixtures("shared_stacks")
def test_only_aws_region_set_is_enough(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3 ignores AWS_REGION (boto/boto3#3620): every client takes the config's region."""
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", REGION)
    result = deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    assert result.version == "1.0.0"
    summary = status.status("dev", project)
    assert (summary.version, summary.versions) == ("1.0.0", ["1.0.0"])
    assert [c.action for c in preview.diff("dev", root=project)] == ["none"]


@pytest.mark.usefixtures("shared_stacks")
def test_a_default_region_elsewhere_does_not_move_delivery(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shell points at us-west-2; Sceptre deploys to eu-north-1; delivery reads eu-north-1."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    result = deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    assert result.image_uri.startswith(f"123456789012.dkr.ecr.{REGION}.amazonaws.com/")
    assert stack_names(REGION) == ["flask-fargate-dev-service", "flask-fargate-shared-registry"]
    assert stack_names("us-west-2") == []
    summary = status.status("dev", project)
    assert [(s.name, s.status) for s in summary.stacks] == [
        ("flask-fargate-shared-registry", "CREATE_COMPLETE"),
        ("flask-fargate-dev-service", "CREATE_COMPLETE"),
    ]
    assert summary.version == "1.0.0"
    again = deploy.deploy("dev", "1.0.0", root=project, steps=fake_steps("x"))
    assert again.digest == result.digest


@pytest.mark.usefixtures("shared_stacks")
def test_a_stack_in_another_region_is_read_there(project: Path) -> None:
    """A budget stack lives in us-east-1 (AWS::Budgets::Budget exists only there)."""
    topic = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    (project / "templates" / "budget.json").write_text(json.dumps(topic))
    (project / "config" / "dev" / "budget.yaml").write_text(
        "template:\n  path: budget.json\nregion: us-east-1\n"
    )
    deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    assert stack_names("us-east-1") == ["flask-fargate-dev-budget"]
    summary = status.status("dev", project)
    assert ("flask-fargate-dev-budget", "CREATE_COMPLETE") in [
        (s.name, s.status) for s in summary.stacks
    ]
    destroyed = destroy.destroy("dev", root=project)
    assert destroyed["flask-fargate-dev-budget"] == "complete"
    assert stack_names("us-east-1") == []


# --- which target group serves production: read live, passed to every launch and preview -------


def production_rule(project: Path) -> tuple[str, str, str]:
    """(rule ARN, blue ARN, green ARN) of the dev service stack."""
    cfn = boto3.client("cloudformation")
    ids = {
        logical: cfn.describe_stack_resource(
            StackName="flask-fargate-dev-service", LogicalResourceId=logical
        )["StackResourceDetail"]["PhysicalResourceId"]
        for logical in ("ProductionListenerRule", "BlueTargetGroup", "GreenTargetGroup")
    }
    return ids["ProductionListenerRule"], ids["BlueTargetGroup"], ids["GreenTargetGroup"]


def shift(project: Path, blue: int, green: int) -> None:
    """What ECS does to the production listener rule during and after a blue/green deployment."""
    rule, blue_arn, green_arn = production_rule(project)
    boto3.client("elbv2").modify_rule(
        RuleArn=rule,
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": blue_arn, "Weight": blue},
                        {"TargetGroupArn": green_arn, "Weight": green},
                    ]
                },
            }
        ],
    )


def dev_parameters() -> dict[str, str]:
    stack = boto3.client("cloudformation").describe_stacks(StackName="flask-fargate-dev-service")
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Stacks"][0]["Parameters"]}


@pytest.mark.usefixtures("shared_stacks")
def test_the_live_production_group_is_passed_to_deploy_rollback_and_diff(
    project: Path, monkeypatch: pytest.MonkeyPatch, delivery_log: pytest.LogCaptureFixture
) -> None:
    deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    assert dev_parameters()["ProductionTargetGroup"] == "Blue"  # a new stack: blue serves

    shift(project, blue=0, green=100)  # ECS finished a deployment: green serves production now
    deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.1.0"))
    assert dev_parameters()["ProductionTargetGroup"] == "Green"
    assert any(line.endswith("production is on Green") for line in progress_lines(delivery_log))

    previewed: list[dict[str, str]] = []
    real_diff = stacks.diff

    def spy(path: str, variables: dict[str, str], **options: object) -> list[stacks.Change]:
        previewed.append(dict(variables))
        return real_diff(path, variables, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(stacks, "diff", spy)
    preview.diff("dev", root=project)
    assert previewed[-1]["production_target_group"] == "Green"

    shift(project, blue=100, green=0)
    rollback.rollback("dev", "1.0.0", root=project, steps=fake_steps("x"))
    assert (dev_parameters()["ProductionTargetGroup"], dev_parameters()["AppVersion"]) == (
        "Blue",
        "1.0.0",
    )


@pytest.mark.usefixtures("shared_stacks")
def test_a_deployment_shifting_traffic_stops_deploy_and_diff_before_anything(
    project: Path,
) -> None:
    first = deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    shift(project, blue=90, green=10)  # a canary: 10 % on the new version
    built: list[str] = []
    service = first.outputs["ServiceName"]  # the ECS service (what `stop it` acts on)
    expected = f"a deployment of {service} is in progress: wait for it or stop it"
    with pytest.raises(DeliveryError) as info:
        deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.1.0", built))
    assert str(info.value) == expected
    assert built == []
    assert dev_parameters()["AppVersion"] == "1.0.0"
    assert registry.list_images("flask-fargate", registry.client(REGION))[0].tags == (
        "1.0.0",
        f"sha-{commit_of('1.0.0')[:12]}",
        "v1.0.0",
    )
    with pytest.raises(DeliveryError, match="is in progress: wait for it or stop it"):
        preview.diff("dev", root=project)
    with pytest.raises(DeliveryError, match="is in progress: wait for it or stop it"):
        rollback.rollback("dev", "1.0.0", root=project, steps=fake_steps("x"))


# --- releases-only environments ------------------------------------------------------------------


@pytest.mark.usefixtures("shared_stacks")
def test_prod_takes_a_prerelease_only_when_allowed_and_says_so(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    version = "2.1.0-dev.g0123456789ab"
    dev = deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps(version))
    with pytest.raises(DeliveryError, match=r"takes released versions only.*--allow-prerelease"):
        deploy.deploy("prod", version, root=project, steps=fake_steps("x"))
    assert stacks.state(StackRef("flask-fargate-prod-service", REGION)).status == "NOT_CREATED"
    prod = deploy.deploy(
        "prod", dev.digest, root=project, steps=fake_steps("x"), allow_prerelease=True
    )
    assert prod.version == version
    warning = (
        f"WARNING: {version} is a pre-release, deployed to releases-only environment 'prod' "
        "because of --allow-prerelease"
    )
    assert warning in progress_lines(delivery_log)


@pytest.mark.usefixtures("shared_stacks")
def test_a_release_of_a_pushed_commit_tags_its_image_instead_of_building_again(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    """Build once: a v* tag's run promotes the digest main's run pushed for the same commit."""
    steps = fake_steps("1.3.0-dev.g0123456789ab")
    plan = deploy.validate("dev", skip_scan=True, root=project, steps=steps, launch=False)
    first = deploy.push(plan, steps)
    built: list[str] = []
    release = fake_steps("1.3.0", built)
    release.identify = lambda plan: ("1.3.0", commit_of("1.3.0-dev.g0123456789ab"))
    second = deploy.push(plan, release)
    assert built == []  # nothing built, scanned or pushed again
    assert second.digest == first.digest
    assert second.version == "1.3.0"
    assert any(
        "tagged" in line and ":1.3.0 on this commit's image" in line
        for line in progress_lines(delivery_log)
    )
    ecr = registry.client(REGION)
    assert registry.find_version("flask-fargate", "1.3.0", ecr) == first.digest
    # The release's mark, which the registry's lifecycle keeps releases by (stacks/registry.py).
    assert registry.find_version("flask-fargate", "v1.3.0", ecr) == first.digest
    again = deploy.push(plan, release)  # a re-run: nothing to do
    assert again.digest == first.digest
    assert "is already there" in progress_lines(delivery_log)[-1]
    # A version tag that already names another image is one line, and nothing changes.
    other = fake_steps("1.4.0")
    plan_other = deploy.validate("dev", skip_scan=True, root=project, steps=other, launch=False)
    deploy.push(plan_other, other)
    clash = fake_steps("1.4.0", built)
    clash.identify = lambda plan: ("1.4.0", commit_of("1.3.0-dev.g0123456789ab"))
    with pytest.raises(DeliveryError, match=r"tag '1\.4\.0' in 'flask-fargate' already names"):
        deploy.push(plan, clash)
    assert built == []


def everything_on_the_emulator() -> tuple[list[str], list[str]]:
    """The emulator's stacks and the registry's image tags: what a dry run must leave alone."""
    names = sorted(
        s["StackName"] for s in boto3.client("cloudformation").describe_stacks()["Stacks"]
    )
    ecr = boto3.client("ecr")
    tags = sorted(
        tag
        for repository in ecr.describe_repositories()["repositories"]
        for image in ecr.describe_images(repositoryName=repository["repositoryName"])[
            "imageDetails"
        ]
        for tag in image.get("imageTags", [])
    )
    return names, tags


def test_check_runs_every_deploy_check_and_changes_nothing(
    project: Path, shared_stacks: None
) -> None:
    deploy.deploy("local", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    before = everything_on_the_emulator()
    built: list[str] = []
    request = deploy_command.Request(env="local", skip_scan=True, root=project)
    lines = deploy_command.dry_run(request, steps=fake_steps("1.1.0", built))
    assert lines[0] == "check: local can be deployed: account 123456789012, region eu-north-1"
    assert lines[2] == "scan: SKIPPED (--skip-scan)"
    assert lines[-1] == "nothing was changed"
    assert built == []
    assert everything_on_the_emulator() == before
    existing = deploy_command.Request(env="local", image="1.0.0", root=project)
    assert deploy_command.dry_run(existing)[1].endswith(
        "(1.0.0), already in the registry, for linux/amd64"
    )
    with pytest.raises(DeliveryError, match=r"9\.9\.9"):
        deploy_command.dry_run(deploy_command.Request(env="local", image="9.9.9", root=project))
    assert everything_on_the_emulator() == before
