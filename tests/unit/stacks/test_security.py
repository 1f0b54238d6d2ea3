"""Cross-cutting: least-privilege IAM, encryption, retention and termination protection."""

from __future__ import annotations

import json
from typing import Any

import pytest
from troposphere import Template as TroposphereTemplate

from stacks import cloudformation_roles
from stacks.common.iam import STAR_RESOURCE_ACTIONS
from stacks.common.kms import LOGS_KEY_ACTIONS, kms_key
from tests.support.cfn import Template, walk

Rendered = dict[str, dict[str, Template]]


def _statements(rendered: Rendered) -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement of every template, with where it lives."""
    found = []
    for env, stacks in rendered.items():
        for stack, template in stacks.items():
            for node in walk(template):
                if isinstance(node, dict) and "Statement" in node and "Version" in node:
                    found += [(f"{env}/{stack}", s) for s in node["Statement"]]
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_no_wildcard_actions_except_key_admin_and_deny(rendered: Rendered) -> None:
    """Allow statements list actions one by one; the KMS default key policy is the exception."""
    for where, statement in _statements(rendered):
        wild = [a for a in _actions(statement) if "*" in a]
        if not wild or statement["Effect"] == "Deny":
            continue
        assert wild == ["kms:*"], where
        assert statement["Sid"] == "AccountAdministersKeyThroughIam", where
        assert statement["Principal"]["AWS"][0]["Fn::Sub"].endswith(":root"), where


# The CloudFormation service roles' policies are generated from the provider schemas, with
# Resource "*" wherever CloudFormation names the resource itself (tests/unit/stacks/
# test_cloudformation_roles.py holds them to their own rules: IAM confined to the environment).
GENERATED = f"shared/{cloudformation_roles.STACK}"


def test_star_resource_only_for_actions_without_resource_types(rendered: Rendered) -> None:
    for where, statement in _statements(rendered):
        if statement["Effect"] != "Allow" or statement.get("Resource") != ["*"]:
            continue
        if "Principal" in statement:  # a key policy: "*" means the key itself
            continue
        if where == GENERATED:
            assert statement["Sid"].endswith("AnyResource"), where
            assert not [a for a in _actions(statement) if a.startswith("iam:")], where
            continue
        assert set(_actions(statement)) <= STAR_RESOURCE_ACTIONS, where


def test_iam_passrole_goes_only_to_the_service_that_needs_it(rendered: Rendered) -> None:
    """A deploy passes only its environment's CloudFormation role, to CloudFormation; that role
    passes the roles of its own environment's stacks (scoped by name) to the services."""
    passes = [(w, s) for w, s in _statements(rendered) if "iam:PassRole" in _actions(s)]
    assert passes
    services = set()
    for where, statement in passes:
        if where == GENERATED:
            (resource,) = statement["Resource"]
            assert resource["Fn::Sub"].endswith(("-dev-*", "-prod-*")), resource
            continue
        passed_to = statement["Condition"]["StringEquals"]["iam:PassedToService"]
        services.add(json.dumps(passed_to, sort_keys=True))
    assert services == {json.dumps("cloudformation.amazonaws.com")}


def test_every_log_group_has_retention(rendered: Rendered) -> None:
    for stacks in rendered.values():
        for template in stacks.values():
            for resource in template["Resources"].values():
                if resource["Type"] == "AWS::Logs::LogGroup":
                    assert resource["Properties"]["RetentionInDays"] >= 7


def test_prod_and_shared_retain_their_data(rendered: Rendered) -> None:
    kinds = {"AWS::Logs::LogGroup", "AWS::ECR::Repository", "AWS::S3::Bucket"}
    for env in ("prod", "shared"):
        for template in rendered[env].values():
            for resource in template["Resources"].values():
                if resource["Type"] in kinds:
                    assert resource["DeletionPolicy"] == "Retain"
                    assert resource["UpdateReplacePolicy"] == "Retain"


# Termination protection of prod stacks is asserted through Sceptre's own config reader in
# tests/unit/delivery/test_sceptre_hooks.py.


def test_encryption_everywhere(rendered: Rendered) -> None:
    for stacks in rendered.values():
        for template in stacks.values():
            for resource in template["Resources"].values():
                props = resource.get("Properties", {})
                if resource["Type"] == "AWS::SNS::Topic":
                    assert "KmsMasterKeyId" in props
                if resource["Type"] == "AWS::CodeBuild::Project":
                    assert "EncryptionKey" in props
                if resource["Type"] == "AWS::KMS::Key":
                    assert props["EnableKeyRotation"] is True


# What each service that publishes to an SSE-KMS topic may use the topic's key under: the
# condition keys AWS documents for it (stacks/common/kms.py cites the pages).
ALARMS = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
# CloudWatch Logs' regional principal, for a key that encrypts a log group (kms.logs_statement).
LOGS_PRINCIPAL = {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}
KEY_CONDITIONS = {
    "cloudwatch.amazonaws.com": {
        "StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}},
        "ArnLike": {"aws:SourceArn": {"Fn::Sub": ALARMS}},
    },
    "budgets.amazonaws.com": {
        "StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}},
        "ArnLike": {
            "aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:budgets::${AWS::AccountId}:*"}
        },
    },
    "events.amazonaws.com": {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}}
    },
    "codestar-notifications.amazonaws.com": {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}}
    },
}


def test_key_policies_grant_services_only_under_their_documented_conditions(
    rendered: Rendered,
) -> None:
    seen = set()
    for env, stacks in rendered.items():
        for stack, template in stacks.items():
            for resource in template["Resources"].values():
                if resource["Type"] != "AWS::KMS::Key":
                    continue
                for statement in resource["Properties"]["KeyPolicy"]["Statement"]:
                    services = statement["Principal"].get("Service")
                    if services is None:
                        continue
                    where = f"{env}/{stack} {statement.get('Sid')}"
                    (service,) = services  # one service per statement: its own conditions
                    if service == LOGS_PRINCIPAL:  # a log group's key: that one group only
                        context = statement["Condition"]["ArnEquals"]
                        (arn,) = context.values()
                        assert list(context) == ["kms:EncryptionContext:aws:logs:arn"], where
                        assert "*" not in arn["Fn::Sub"], where
                        assert sorted(_actions(statement)) == sorted(LOGS_KEY_ACTIONS), where
                        continue
                    assert statement["Condition"] == KEY_CONDITIONS[service], where
                    assert sorted(_actions(statement)) == ["kms:Decrypt", "kms:GenerateDataKey"]
                    seen.add(service)
    assert seen == set(KEY_CONDITIONS)


def test_a_publisher_without_documented_conditions_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no documented key-policy conditions for s3"):
        kms_key(TroposphereTemplate(), "Key", "test", ["s3.amazonaws.com"], keep=False)
