"""Which target group serves production now: the service stack's ``ProductionTargetGroup``.

The service deploys blue/green: ECS shifts the production listener rule's forward weights from
the group serving production to the other one, where the new version runs (and which the
deployment alarms judge). Which group that is alternates between deployments, and only ECS knows:
it owns the weights after the first deployment
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html).
So every deploy, rollback and diff reads it live and passes it as the Sceptre variable
``production_target_group`` (the stack parameter ``ProductionTargetGroup``: Blue or Green):

- the stack's ``ProductionListenerRule`` resource (ListStackResources) gives the rule's ARN,
  ELBv2 ``DescribeRules``
  its forward action (``ForwardConfig.TargetGroups[]`` with ``Weight``, or a single
  ``TargetGroupArn``: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Action.html);
- the group with the non-zero weight serves production; its ARN is matched against the stack's
  ``BlueTargetGroup``/``GreenTargetGroup`` resources;
- no service stack yet (or only the remains of a failed create): Blue, the template's default;
- both groups weighted: a deployment is shifting traffic right now; nothing may start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from delivery import aws_errors, stacks
from delivery.environments import StackRef
from delivery.errors import DeliveryError

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

VARIABLE = "production_target_group"
GROUPS = ("Blue", "Green")  # the parameter's AllowedValues: stacks/service/production.py COLOURS
DEFAULT = "Blue"
RULE = "ProductionListenerRule"  # logical ids of stacks/service (loadbalancer.py, listeners.py)
# A stack in these states has no resources to read; Sceptre deletes it and creates it anew.
NO_RESOURCES = ("NOT_CREATED", "ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS")


def client(region: str) -> ElasticLoadBalancingv2Client:
    """An ELBv2 client for ``region`` (explicit: boto3 ignores AWS_REGION, boto/boto3#3620)."""
    return boto3.client("elbv2", region_name=region)


def serving_arns(rule: dict[str, Any]) -> list[str]:
    """Target group ARNs the rule's forward action sends traffic to (weight above zero)."""
    serving: list[str] = []
    for action in rule.get("Actions", []):
        if action.get("Type") != "forward":
            continue
        groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
        if groups:
            # A weight left out counts as serving: only an explicit 0 takes a group out.
            serving += [g["TargetGroupArn"] for g in groups if g.get("Weight", 1) > 0]
        elif action.get("TargetGroupArn"):
            serving.append(action["TargetGroupArn"])
    return serving


def _rule(elbv2: ElasticLoadBalancingv2Client, arn: str, stack: StackRef) -> dict[str, Any]:
    try:
        rules = elbv2.describe_rules(RuleArns=[arn])["Rules"]
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        raise DeliveryError(
            f"reading the production listener rule of {stack.name} failed: {aws_errors.reason(exc)}"
        ) from exc
    if not rules:
        raise DeliveryError(f"the production listener rule of {stack.name} does not exist")
    return dict(rules[0])


def production_target_group(stack: StackRef) -> str:
    """``Blue`` or ``Green``: the group serving production now in the service ``stack``.

    A one-line DeliveryError when it cannot be told, or while a deployment shifts traffic.
    """
    cfn = stacks.cloudformation(stack.region)
    if stacks.state(stack, cfn).status in NO_RESOURCES:
        return DEFAULT
    ids = stacks.resource_ids(stack, cfn)
    missing = [name for name in (RULE, *(f"{g}TargetGroup" for g in GROUPS)) if not ids.get(name)]
    if missing:
        raise DeliveryError(
            f"stack {stack.name} has no {', '.join(missing)}: it is not a blue/green service "
            "stack of this project"
        )
    rule = _rule(client(stack.region), ids[RULE], stack)
    by_arn = {ids[f"{group}TargetGroup"]: group for group in GROUPS}
    serving = serving_arns(rule)
    if len(serving) > 1:
        service = stacks.outputs(stack, cfn).get("ServiceName") or stack.name
        raise DeliveryError(f"a deployment of {service} is in progress: wait for it or stop it")
    if not serving:
        raise DeliveryError(
            f"the production listener rule of {stack.name} forwards to no target group: "
            "check it in the console before deploying"
        )
    group = by_arn.get(serving[0])
    if group is None:
        raise DeliveryError(
            f"the production listener rule of {stack.name} forwards to {serving[0]}, which is "
            "neither the stack's BlueTargetGroup nor its GreenTargetGroup"
        )
    return group
