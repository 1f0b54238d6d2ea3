"""The pipeline's roles grant what the build and the deploys do, on the stacks they touch.

Build: ``invoke push`` pushes to the one repository and reads the registry stack's outputs.
Deploy: ``invoke deploy`` launches its environment's stacks (never the shared ones) through the
environment's CloudFormation service role, which it may pass and nothing else may; it reads the
image, the shared stacks' outputs, the service's deployments and the live target group.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from delivery.project import NAME as PROJECT_CODE
from stacks.common import naming
from tests.support.cfn import Template, resources
from tests.support.paths import ROOT

Rendered = dict[str, dict[str, Template]]
CONFIG = ROOT / "config"
ECR_PUSH = {
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
}


def stack_arn(path: str) -> dict[str, str]:
    name = f"{PROJECT_CODE}-{path.replace('/', '-')}"
    return {
        "Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:"
        f"stack/{name}/*"
    }


def statements(template: Template, role: str) -> list[dict[str, Any]]:
    policies = resources(template, "AWS::IAM::Role")[role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def granted(template: Template, role: str, action: str) -> list[Any]:
    """Every resource ``role`` may call ``action`` on."""
    found = []
    for statement in statements(template, role):
        actions = statement["Action"]
        if action in ([actions] if isinstance(actions, str) else actions):
            found += statement["Resource"]
    return found


def _actions(template: Template, role: str, prefix: str) -> set[str]:
    return {
        a
        for s in statements(template, role)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if a.startswith(prefix)
    }


def test_registry_path_is_the_shared_registry_config() -> None:
    assert (CONFIG / f"{naming.REGISTRY_PATH}.yaml").is_file()
    assert (CONFIG / f"{naming.CLOUDFORMATION_ROLES_PATH}.yaml").is_file()
    assert naming.stack_name(PROJECT_CODE, "prod/service") == f"{PROJECT_CODE}-prod-service"


def test_build_role_reads_registry_outputs_and_pushes_nothing_more(rendered: Rendered) -> None:
    pipeline = rendered["shared"]["pipeline"]
    assert _actions(pipeline, "BuildRole", "cloudformation:") == {"cloudformation:DescribeStacks"}
    assert granted(pipeline, "BuildRole", "cloudformation:DescribeStacks") == [
        stack_arn(naming.REGISTRY_PATH)
    ]
    assert _actions(pipeline, "BuildRole", "ecr:") == {*ECR_PUSH, "ecr:GetAuthorizationToken"}
    for action in ECR_PUSH:
        assert granted(pipeline, "BuildRole", action) == [{"Ref": "RepositoryArn"}], action
    assert granted(pipeline, "BuildRole", "ecr:GetAuthorizationToken") == ["*"]


DEPLOYS = [("DeployDevRole", "dev"), ("DeployProdRole", "prod")]


def own_stacks(environment: str) -> dict[str, str]:
    """Every stack of ``environment``, in any region (a budget lives in us-east-1)."""
    return {
        "Fn::Sub": "arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:"
        f"stack/{PROJECT_CODE}-{environment}-*/*"
    }


def service_role(environment: str) -> dict[str, str]:
    return {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cloudformation/"
        f"{PROJECT_CODE}-{environment}"
    }


@pytest.mark.parametrize(("role", "environment"), DEPLOYS)
def test_deploy_role_changes_its_stacks_only_through_their_cloudformation_role(
    rendered: Rendered, role: str, environment: str
) -> None:
    """CloudFormation must act with the environment's service role, not the deploy role."""
    pipeline = rendered["shared"]["pipeline"]
    changes = [
        s
        for s in statements(pipeline, role)
        if {"cloudformation:CreateStack", "cloudformation:UpdateStack"} & set(s["Action"])
    ]
    assert len(changes) == 1
    (change,) = changes
    assert change["Resource"] == [own_stacks(environment)]
    assert change["Condition"] == {
        "StringEquals": {"cloudformation:RoleArn": [service_role(environment)]}
    }
    passes = [s for s in statements(pipeline, role) if "iam:PassRole" in s["Action"]]
    assert passes == [
        {
            "Action": ["iam:PassRole"],
            "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": [service_role(environment)],
        }
    ]


@pytest.mark.parametrize(("role", "environment"), DEPLOYS)
def test_deploy_role_writes_nothing_but_its_stacks(
    rendered: Rendered, role: str, environment: str
) -> None:
    """No EC2/ELB/IAM/ECS/ECR/Logs/CloudWatch write: CloudFormation's role does all of that."""
    pipeline = rendered["shared"]["pipeline"]
    actions = {
        a
        for s in statements(pipeline, role)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    writes = {
        a
        for a in actions
        if a.split(":")[0] in {"ec2", "elasticloadbalancing", "ecs", "application-autoscaling",
                               "cloudwatch", "iam", "ecr", "logs"}
        and not a.split(":")[1].startswith(("Describe", "List", "Get", "BatchGet"))
    }  # fmt: skip
    # Its own build logs are the one other thing it writes.
    assert writes == {"iam:PassRole", "logs:CreateLogStream", "logs:PutLogEvents"}
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        (log_stream,) = granted(pipeline, role, action)
        assert log_stream["Fn::Sub"][1] == {"G": {"Ref": "BuildLogGroup"}}
    for action in ("cloudformation:UpdateTerminationProtection", "cloudformation:DescribeStacks"):
        assert own_stacks(environment) in granted(pipeline, role, action)
    other = "prod" if environment == "dev" else "dev"
    text = json.dumps(statements(pipeline, role))
    assert own_stacks(other)["Fn::Sub"] not in text
    assert service_role(other)["Fn::Sub"] not in text


@pytest.mark.parametrize(("role", "environment"), DEPLOYS)
def test_deploy_role_only_reads_the_shared_stacks(
    rendered: Rendered, role: str, environment: str
) -> None:
    """A deploy never launches the account's shared stacks: an administrator does."""
    pipeline = rendered["shared"]["pipeline"]
    for path in (naming.REGISTRY_PATH, naming.CLOUDFORMATION_ROLES_PATH):
        arn = stack_arn(path)
        grants = {
            a for s in statements(pipeline, role) if arn in s["Resource"] for a in s["Action"]
        }
        assert grants == {"cloudformation:DescribeStacks"}, path


def test_release_only_stages_are_skipped_for_other_builds(rendered: Rendered) -> None:
    """Prod takes released versions only: main's builds stop after dev, without failing."""
    pipeline = rendered["shared"]["pipeline"]["Resources"]["Pipeline"]["Properties"]
    stages = {stage["Name"]: stage for stage in pipeline["Stages"]}
    (build,) = stages["Build"]["Actions"]
    assert build["Namespace"] == "Build"
    for name in ("ApproveProd", "DeployProd"):
        (condition,) = stages[name]["BeforeEntry"]["Conditions"]
        assert condition["Result"] == "SKIP"
        (rule,) = condition["Rules"]
        assert rule["RuleTypeId"]["Provider"] == "VariableCheck"
        assert rule["Configuration"]["Variable"] == "#{Build.IMAGE_VERSION}"
        pattern = re.compile(rule["Configuration"]["Value"])
        assert pattern.match("1.4.2")
        assert not pattern.match("1.4.2-dev.g1a2b3c4d5e6f")
    assert "BeforeEntry" not in stages["DeployDev"]
    pushes = pipeline["Triggers"][0]["GitConfiguration"]["Push"]
    assert {"Branches": {"Includes": ["main"]}} in pushes
    assert {"Tags": {"Includes": ["v*"]}} in pushes
    exported = yaml.safe_load((ROOT / "buildspec.yml").read_text())["env"]["exported-variables"]
    assert "IMAGE_VERSION" in exported


def test_only_the_privileged_build_asks_for_a_docker_layer_cache(rendered: Rendered) -> None:
    """CodeBuild's docker layer cache works in privileged mode only; buildspec cache paths need
    the custom cache mode."""
    projects = resources(rendered["shared"]["pipeline"], "AWS::CodeBuild::Project")
    for name, project in projects.items():
        props = project["Properties"]
        modes = props["Cache"]["Modes"]
        assert ("LOCAL_DOCKER_LAYER_CACHE" in modes) == props["Environment"]["PrivilegedMode"]
        buildspec = yaml.safe_load((ROOT / props["Source"]["BuildSpec"]).read_text())
        if buildspec.get("cache", {}).get("paths"):
            assert "LOCAL_CUSTOM_CACHE" in modes, name


def test_notification_rule_waits_for_the_topic_policy(rendered: Rendered) -> None:
    pipeline = rendered["shared"]["pipeline"]["Resources"]
    rule = pipeline["PipelineNotifications"]
    (target,) = rule["Properties"]["Targets"]
    topic = target["TargetAddress"]["Ref"]
    policies = [
        name
        for name, resource in pipeline.items()
        if resource["Type"] == "AWS::SNS::TopicPolicy"
        and {"Ref": topic} in resource["Properties"]["Topics"]
    ]
    assert policies
    assert set(policies) <= set(rule["DependsOn"])


@pytest.mark.parametrize("role", ["DeployDevRole", "DeployProdRole"])
def test_deploy_roles_only_read_the_image_they_deploy(rendered: Rendered, role: str) -> None:
    """A deploy checks that its digest is in the registry; it pushes nothing and reads no scan."""
    pipeline = rendered["shared"]["pipeline"]
    assert _actions(pipeline, role, "ecr:") == {"ecr:BatchGetImage", "ecr:DescribeImages"}
    for action in ("ecr:BatchGetImage", "ecr:DescribeImages"):
        assert granted(pipeline, role, action) == [{"Ref": "RepositoryArn"}], action
