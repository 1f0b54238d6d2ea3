"""Customer-managed KMS keys with rotation and a key policy naming the services that use them."""

from __future__ import annotations

from collections.abc import Sequence

from awacs.aws import Action, Allow, Principal, Statement
from troposphere import GetAtt, Sub, Template, kms

from stacks.common.iam import action, document
from stacks.common.template import retain


def kms_key(
    template: Template,
    logical_id: str,
    description: str,
    services: Sequence[str],
    *,
    keep: bool,
) -> kms.Key:
    """A symmetric key, yearly rotation, usable by the account's IAM and by ``services``.

    The account-root statement with ``kms:*`` is AWS's default key policy and the only wildcard
    action any Allow in this project has (the other wildcard is the artifact bucket's TLS-only
    Deny): without it the key could become unmanageable (KMS documentation, "Default key
    policy"). IAM policies still decide who in the account may use the key.
    """
    root = Statement(
        Sid="AccountAdministersKeyThroughIam",
        Effect=Allow,
        Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
        Action=[Action("kms", "*")],
        Resource=["*"],
    )
    statements = [root]
    if services:
        statements.append(
            Statement(
                Sid="ServicesEncryptForThisAccount",
                Effect=Allow,
                Principal=Principal("Service", list(services)),
                Action=[action("kms:Decrypt"), action("kms:GenerateDataKey")],
                # In a key policy "*" means this key. No SourceAccount condition: services that
                # publish to an encrypted SNS topic (CloudWatch, Budgets, CodeStar
                # Notifications) call KMS through SNS and do not all send it.
                Resource=["*"],
            )
        )
    key = template.add_resource(
        kms.Key(
            logical_id,
            Description=Sub(f"${{AWS::StackName}}: {description}"),
            EnableKeyRotation=True,
            KeyPolicy=document(statements),
        )
    )
    retain(key, keep)
    return key


def key_arn(key: kms.Key) -> GetAtt:
    """The key's ARN (what encryption properties and IAM statements take)."""
    return GetAtt(key, "Arn")
