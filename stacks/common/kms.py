"""Customer-managed KMS keys with rotation and a key policy naming the services that use them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from awacs.aws import (
    Action,
    Allow,
    ArnEquals,
    ArnLike,
    Condition,
    ConditionElement,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import GetAtt, Sub, Template, kms

from stacks.common.iam import action, document
from stacks.common.template import retain

CLOUDWATCH = "cloudwatch.amazonaws.com"
BUDGETS = "budgets.amazonaws.com"
EVENTS = "events.amazonaws.com"
CODESTAR_NOTIFICATIONS = "codestar-notifications.amazonaws.com"


def _this_account() -> ConditionElement:
    return StringEquals({"aws:SourceAccount": Sub("${AWS::AccountId}")})


def _through_sns() -> ConditionElement:
    """Only SNS in this stack's region may use the key on the service's behalf."""
    return StringEquals({"kms:ViaService": Sub("sns.${AWS::Region}.amazonaws.com")})


# How each AWS service that publishes to an SSE-KMS topic may use the topic's key: the conditions
# AWS documents for that service, no more (a condition key the service does not send would make
# KMS refuse, and the notification is lost without an error anyone sees).
PUBLISHER_CONDITIONS: dict[str, Callable[[], list[ConditionElement]]] = {
    # Confused-deputy keys for AWS services that publish to encrypted topics:
    # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    CLOUDWATCH: lambda: [
        _this_account(),
        ArnLike(
            {
                "aws:SourceArn": Sub(
                    "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
                )
            }
        ),
    ],
    # https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
    # (budgets are global: no region in their ARN).
    BUDGETS: lambda: [
        _this_account(),
        ArnLike({"aws:SourceArn": Sub("arn:${AWS::Partition}:budgets::${AWS::AccountId}:*")}),
    ],
    # https://docs.aws.amazon.com/dtconsole/latest/userguide/set-up-sns.html
    CODESTAR_NOTIFICATIONS: lambda: [_through_sns()],
    # SNS's key-management page: aws:SourceAccount/aws:SourceArn are not supported for
    # EventBridge-to-encrypted-topic delivery, so only the path is pinned here; the topic policy
    # pins the one rule that may publish (aws:SourceArn on sns:Publish).
    EVENTS: lambda: [_through_sns()],
}


def _sid(service: str) -> str:
    """``codestar-notifications.amazonaws.com`` -> ``CodestarNotificationsEncryptsThroughSns``."""
    words = service.split(".", maxsplit=1)[0].split("-")
    return "".join(word.capitalize() for word in words) + "EncryptsThroughSns"


def publisher_statement(service: str) -> Statement:
    """What ``service`` needs to publish to a topic encrypted with this key, under its conditions.

    Raises ``ValueError`` for a service without documented conditions: add it to
    ``PUBLISHER_CONDITIONS`` with its AWS source rather than granting it unconditionally.
    """
    conditions = PUBLISHER_CONDITIONS.get(service)
    if conditions is None:
        known = ", ".join(sorted(PUBLISHER_CONDITIONS))
        raise ValueError(f"no documented key-policy conditions for {service} (known: {known})")
    return Statement(
        Sid=_sid(service),
        Effect=Allow,
        Principal=Principal("Service", [service]),
        Action=[action("kms:Decrypt"), action("kms:GenerateDataKey")],
        # In a key policy "*" means this key.
        Resource=["*"],
        Condition=Condition(conditions()),
    )


# What CloudWatch Logs does with a log group's key: AWS's key policy for it lists
# kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey* and kms:Describe*; spelled out
# here for a symmetric key (the pair and custom-key-store actions do not apply to one).
LOGS_KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)


def logs_statement(log_group_arn: Any) -> Statement:
    """CloudWatch Logs may use the key for the one log group ``log_group_arn`` (no ``:*``).

    The regional service principal under the ``kms:EncryptionContext:aws:logs:arn`` condition
    naming the group, as AWS documents for encrypting a log group with a KMS key
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html): the
    group's name must be known before the group exists, so it is given, not generated.
    """
    return Statement(
        Sid="CloudWatchLogsEncryptsOneLogGroup",
        Effect=Allow,
        Principal=Principal("Service", [Sub("logs.${AWS::Region}.amazonaws.com")]),
        Action=[action(name) for name in LOGS_KEY_ACTIONS],
        Resource=["*"],
        Condition=Condition(ArnEquals({"kms:EncryptionContext:aws:logs:arn": log_group_arn})),
    )


def kms_key(
    template: Template,
    logical_id: str,
    description: str,
    services: Sequence[str],
    *,
    keep: bool,
    statements: Sequence[Statement] = (),
) -> kms.Key:
    """A symmetric key, yearly rotation, usable by the account's IAM and by ``services``.

    ``services`` are AWS services that publish to an SNS topic encrypted with the key; each gets
    its own statement with the conditions AWS documents for it (``PUBLISHER_CONDITIONS``).
    ``statements`` are further ones of that kind (e.g. ``logs_statement``).

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
    policy = [
        root,
        *(publisher_statement(service) for service in sorted(set(services))),
        *statements,
    ]
    key = template.add_resource(
        kms.Key(
            logical_id,
            Description=Sub(f"${{AWS::StackName}}: {description}"),
            EnableKeyRotation=True,
            KeyPolicy=document(policy),
        )
    )
    retain(key, keep)
    return key


def key_arn(key: kms.Key) -> GetAtt:
    """The key's ARN (what encryption properties and IAM statements take)."""
    return GetAtt(key, "Arn")
