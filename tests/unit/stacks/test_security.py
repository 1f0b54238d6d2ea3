"""Cross-cutting: least-privilege IAM, encryption, retention and termination protection."""

from __future__ import annotations

from typing import Any

from stacks.common.iam import STAR_RESOURCE_ACTIONS
from tests.unit.stacks.cfn import Template, walk

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


def test_star_resource_only_for_actions_without_resource_types(rendered: Rendered) -> None:
    for where, statement in _statements(rendered):
        if statement["Effect"] != "Allow" or statement.get("Resource") != ["*"]:
            continue
        if "Principal" in statement:  # a key policy: "*" means the key itself
            continue
        assert set(_actions(statement)) <= STAR_RESOURCE_ACTIONS, where


def test_iam_passrole_is_scoped_to_ecs(rendered: Rendered) -> None:
    passes = [s for _, s in _statements(rendered) if "iam:PassRole" in _actions(s)]
    assert passes
    for statement in passes:
        assert statement["Condition"] == {
            "StringEquals": {
                "iam:PassedToService": ["ecs-tasks.amazonaws.com", "ecs.amazonaws.com"]
            }
        }


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
