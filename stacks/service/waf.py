"""An optional WAFv2 web ACL on the ALB: AWS managed rule groups and a per-IP rate limit."""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref, Sub, Template, wafv2

from stacks.service.settings import Waf

MANAGED_RULE_GROUPS = (
    # OWASP-style protections for any web app.
    "AWSManagedRulesCommonRuleSet",
    # Known-bad inputs, incl. Log4Shell patterns.
    "AWSManagedRulesKnownBadInputsRuleSet",
)


def _visibility(name: str) -> wafv2.VisibilityConfig:
    return wafv2.VisibilityConfig(
        CloudWatchMetricsEnabled=True, MetricName=name, SampledRequestsEnabled=True
    )


def add_waf(template: Template, waf: Waf, load_balancer: Any) -> None:
    """The web ACL (rate rule first, then managed groups) and its ALB association."""
    rules = [
        wafv2.WebACLRule(
            Name="RateLimitPerIp",
            Priority=0,
            Action=wafv2.RuleAction(Block=wafv2.BlockAction()),
            Statement=wafv2.Statement(
                RateBasedStatement=wafv2.RateBasedStatement(
                    Limit=waf.rate_limit_per_5_minutes,
                    AggregateKeyType="IP",
                    EvaluationWindowSec=300,
                )
            ),
            VisibilityConfig=_visibility("RateLimitPerIp"),
        )
    ]
    rules += [
        wafv2.WebACLRule(
            Name=group,
            Priority=index,
            OverrideAction=wafv2.OverrideAction(**{"None": {}}),  # the groups' own actions apply
            Statement=wafv2.Statement(
                ManagedRuleGroupStatement=wafv2.ManagedRuleGroupStatement(
                    VendorName="AWS", Name=group
                )
            ),
            VisibilityConfig=_visibility(group),
        )
        for index, group in enumerate(MANAGED_RULE_GROUPS, start=1)
    ]
    acl = template.add_resource(
        wafv2.WebACL(
            "WebAcl",
            Scope="REGIONAL",
            DefaultAction=wafv2.DefaultAction(Allow=wafv2.AllowAction()),
            Rules=rules,
            VisibilityConfig=_visibility("WebAcl"),
            Description=Sub("${AWS::StackName}: rate limit and AWS managed rules"),
        )
    )
    template.add_resource(
        wafv2.WebACLAssociation(
            "WebAclAssociation", ResourceArn=Ref(load_balancer), WebACLArn=GetAtt(acl, "Arn")
        )
    )
