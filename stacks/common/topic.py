"""An SNS topic encrypted with a customer key that the publishing AWS services may use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from awacs.aws import Allow, ArnEquals, Condition, Principal, Statement, StringEquals
from troposphere import GetAtt, Ref, Template, sns

from stacks.common.iam import action, document
from stacks.common.kms import kms_key


def encrypted_topic(
    template: Template,
    logical_id: str,
    publishers: Sequence[str],
    *,
    email: str | None = None,
    key: Any = None,
    sources: Mapping[str, Any] | None = None,
) -> sns.Topic:
    """A KMS-encrypted topic that ``publishers`` (service principals) may publish to.

    ``sources``: service principal -> the one resource ARN (e.g. an EventBridge rule) that may
    publish through it; the narrower ``aws:SourceArn`` condition AWS documents for those.

    AWS-managed ``aws/sns`` cannot be used: its key policy does not let CloudWatch, Budgets or
    CodeStar Notifications encrypt, so they would fail silently. ``key`` reuses a stack's key
    (its policy must name the publishers); by default the topic gets its own.
    """
    sources = dict(sources or {})
    if key is None:
        key = kms_key(
            template,
            f"{logical_id}Key",
            f"{logical_id} encryption",
            [*publishers, *sources],
            keep=False,
        )
    topic = template.add_resource(sns.Topic(logical_id, KmsMasterKeyId=GetAtt(key, "Arn")))
    by_source = [
        Statement(
            Sid=f"{service.split('.')[0].capitalize()}PublishFromItsSource",
            Effect=Allow,
            Principal=Principal("Service", [service]),
            Action=[action("sns:Publish")],
            Resource=[Ref(topic)],
            Condition=Condition(ArnEquals({"aws:SourceArn": source})),
        )
        for service, source in sorted(sources.items())
    ]
    template.add_resource(
        sns.TopicPolicy(
            f"{logical_id}Policy",
            Topics=[Ref(topic)],
            PolicyDocument=document(
                [
                    *by_source,
                    Statement(
                        Sid="ServicesPublishForThisAccount",
                        Effect=Allow,
                        Principal=Principal("Service", list(publishers)),
                        Action=[action("sns:Publish")],
                        Resource=[Ref(topic)],
                        Condition=Condition(
                            StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")})
                        ),
                    ),
                ]
            ),
        )
    )
    if email:
        template.add_resource(
            sns.SubscriptionResource(
                f"{logical_id}Email", TopicArn=Ref(topic), Protocol="email", Endpoint=email
            )
        )
    return topic
