"""The CloudFormation service roles: generated from the provider schemas, sized for IAM, confined.

Without a service role, CloudFormation acts with the deploy role's credentials, which lack what
the resource handlers call (the AWS::ECS::Service update handler alone lists
ecs:DescribeServiceDeployments, ecs:ListServiceDeployments, ecs:ListTagsForResource,
ecs:StopServiceDeployment, ecs:UntagResource), so updates and their rollbacks fail.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from delivery.project import NAME as PROJECT
from stacks import cloudformation_roles as roles
from stacks import oncall_roles
from stacks.common.errors import SettingsError
from stacks.common.handler import render
from stacks.common.provider_schemas import SchemaError, available, is_iam_action, permissions
from tests.support.cfn import Template, resources

Rendered = dict[str, dict[str, Template]]
REGIONS = ["eu-north-1", "us-east-1"]
ECS_SERVICE_UPDATE = {
    "ecs:DescribeServiceDeployments",
    "ecs:ListServiceDeployments",
    "ecs:ListTagsForResource",
    "ecs:StopServiceDeployment",
    "ecs:UntagResource",
    "ecs:UpdateService",
}


def build(environments: list[dict[str, Any]], regions: list[str] = REGIONS) -> Template:
    data = {
        "project": PROJECT,
        "environment": "shared",
        "regions": regions,
        "environments": environments,
    }
    return dict(json.loads(render(roles, data)))


def policy_statements(template: Template, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in resources(template, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements for action in statement["Action"]}


def test_schemas_know_what_the_ecs_service_handlers_call() -> None:
    assert permissions("AWS::ECS::Service", ["eu-north-1"], ["update"]) >= ECS_SERVICE_UPDATE


def test_schemas_refuse_types_they_cannot_vouch_for() -> None:
    assert not available("AWS::Budgets::Budget", "eu-north-1")
    with pytest.raises(SchemaError, match="does not exist in eu-north-1"):
        permissions("AWS::Budgets::Budget", ["eu-north-1"])
    with pytest.raises(SchemaError, match="publishes no handler permissions"):
        permissions("AWS::CodeBuild::Project", ["eu-north-1"])  # a legacy type
    assert permissions("AWS::Budgets::Budget", ["eu-north-1", "us-east-1"])


def test_names_iam_does_not_know_are_left_out() -> None:
    """The S3 bucket schema lists API names with no IAM action of their own (cfn-lint's W3037)."""
    raw = roles_raw_permissions("AWS::S3::Bucket")
    assert "s3:DeleteBucketLifecycle" in raw
    assert not is_iam_action("s3:DeleteBucketLifecycle")
    assert "s3:PutLifecycleConfiguration" in permissions("AWS::S3::Bucket", ["eu-north-1"])
    assert "s3:DeleteBucketLifecycle" not in permissions("AWS::S3::Bucket", ["eu-north-1"])


def roles_raw_permissions(resource_type: str) -> set[str]:
    from stacks.common import provider_schemas  # noqa: PLC0415

    handlers = provider_schemas._handler_permissions("eu-north-1", resource_type) or {}
    return set().union(*handlers.values())


def test_a_role_holds_every_handler_permission_of_every_type_its_stacks_can_create() -> None:
    template = build([{"name": "dev", "stacks": ["network", "registry"]}])
    granted = actions_of(policy_statements(template, "DevRole"))
    for stack in ("network", "registry"):
        for kind in roles.resource_types(stack):
            missing = permissions(kind, REGIONS) - granted
            assert not missing, f"{kind}: {sorted(missing)}"
    assert "AWS::EC2::VPCEndpoint" in roles.resource_types("network")  # EVERY_FEATURE: endpoints


def test_what_cloudformation_calls_for_the_template_itself_is_granted_too() -> None:
    """Fn::GetAZs (the network's subnets) and typed parameters are no resource's handler: no
    schema lists their EC2 reads, yet CloudFormation makes them with the service role."""
    from stacks.common.provider_schemas import template_permissions  # noqa: PLC0415

    network = roles._every_feature("network")
    assert template_permissions(network) == {
        "ec2:DescribeAccountAttributes",
        "ec2:DescribeAvailabilityZones",
    }
    assert template_permissions(roles._every_feature("service")) >= {
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
    }
    template = build([{"name": "dev", "stacks": ["network", "service"]}])
    granted = actions_of(policy_statements(template, "DevRole"))
    assert {"ec2:DescribeAvailabilityZones", "ec2:DescribeAccountAttributes"} <= granted


def test_role_is_for_cloudformation_only_and_named_off_the_environment_pattern() -> None:
    template = build([{"name": "dev", "stacks": ["network"]}])
    role = resources(template, "AWS::IAM::Role")["DevRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": ["cloudformation.amazonaws.com"]}
    assert (role["Path"], role["RoleName"]) == ("/cloudformation/", "flask-fargate-dev")
    assert template["Outputs"]["DevRoleArn"]["Value"] == {"Fn::GetAtt": ["DevRole", "Arn"]}


def test_iam_actions_reach_only_the_environments_own_roles() -> None:
    """The role may manage the roles its stacks create, never itself or another environment's."""
    template = build([{"name": "dev", "stacks": ["network"]}])
    for statement in policy_statements(template, "DevRole"):
        iam = [a for a in statement["Action"] if a.startswith("iam:")]
        if not iam:
            continue
        (resource,) = statement["Resource"]
        pattern = resource["Fn::Sub"]
        if iam == ["iam:CreateServiceLinkedRole"]:
            assert pattern.endswith(":role/aws-service-role/*")
        else:
            assert pattern.endswith(":role/flask-fargate-dev-*")
            assert "cloudformation/" not in pattern


def test_policies_are_split_under_iams_size_limit_without_losing_an_action() -> None:
    template = build([{"name": "prod", "stacks": ["network", "registry"]}])
    policies = resources(template, "AWS::IAM::ManagedPolicy")
    assert len(policies) >= 1
    total = 0
    for policy in policies.values():
        document = json.dumps(policy["Properties"]["PolicyDocument"], separators=(",", ":"))
        assert len(document) <= 6144  # IAM's managed policy limit, whitespace excluded
        total += len(actions_of(policy["Properties"]["PolicyDocument"]["Statement"]))
        checks = {skip["id"] for skip in policy["Metadata"]["checkov"]["skip"]}
        assert set(roles.UNSCOPED_CHECKS) <= checks
    granted = actions_of(policy_statements(template, "ProdRole"))
    assert total == len(granted)  # each action in exactly one policy
    assert granted == roles.environment_actions(["network", "registry"], REGIONS)


def test_pack_starts_a_new_document_when_the_budget_is_spent() -> None:
    statements = roles._statements(roles.environment_actions(["network"], REGIONS), PROJECT, "dev")
    documents = roles.pack(statements, budget=2_000)
    assert len(documents) > 1
    assert [s for document in documents for s in document] == statements


@pytest.mark.parametrize(
    ("environments", "message"),
    [
        ([{"name": "dev", "stacks": ["pipeline"]}], "'pipeline' is not a stack module"),
        ([{"name": "dev", "stacks": ["../x"]}], "'../x' is not a stack module"),
        ([{"name": "dev", "stacks": []}], "environments.0.stacks=[]"),
    ],
)
def test_bad_settings_are_one_line(environments: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build(environments)


def test_every_type_the_environments_deploy_is_one_their_modules_declare(
    rendered: Rendered,
) -> None:
    """EVERY_FEATURE must create every type a real config does, or a role would miss one."""
    for env, stacks in rendered.items():
        for stack, template in stacks.items():
            if stack in ("pipeline", roles.STACK, oncall_roles.STACK):  # an administrator's
                continue
            deployed = {r["Type"] for r in template["Resources"].values()}
            missing = deployed - roles.resource_types(stack)
            assert not missing, f"{env}/{stack}: {sorted(missing)} missing from EVERY_FEATURE"
