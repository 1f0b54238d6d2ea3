"""IAM policy documents with awacs: assume-role trust, statements, and the Resource "*" rule.

Least privilege: actions are always listed one by one (no ``service:*`` or ``Describe*``).
``Resource: "*"`` is allowed only for actions in ``STAR_RESOURCE_ACTIONS``: AWS offers no
resource-level permission for them, so there is nothing narrower to grant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from awacs.aws import Action as AwacsAction
from awacs.aws import Allow, Condition, ConditionElement, Policy, Principal, Statement, StringEquals
from awacs.sts import AssumeRole
from troposphere import Sub, iam

# Actions AWS authorizes only against Resource "*" (see the Service Authorization Reference,
# column "Resource types" empty). Each one is here for a named reason.
STAR_RESOURCE_ACTIONS = frozenset(
    {
        # Docker login to ECR: the token is account-wide by design.
        "ecr:GetAuthorizationToken",
        # Registering a task definition revision has no resource-level permission.
        "ecs:RegisterTaskDefinition",
        # CloudFormation deregisters the replaced revision: no resource-level permission.
        "ecs:DeregisterTaskDefinition",
        # Reading task definitions (delivery's status/rollback) has no resource-level permission.
        "ecs:DescribeTaskDefinition",
        # CloudFormation's ECS service update polls the load balancer state: no resource types.
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeRules",
        # Reading alarm state during a deploy (which alarm rolled it back).
        "cloudwatch:DescribeAlarms",
        # ECS Exec's SSM channels (the task role): ssmmessages has no resource types
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonmessagegatewayservice.html).
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
        # ECS Exec's agent checks the session log group is encrypted: the ECS Exec guide grants
        # DescribeLogGroups on "*" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html).
        "logs:DescribeLogGroups",
        # Reading metrics: CloudWatch has no resource type for it ("*" in its permissions
        # reference: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/permissions-reference-cw.html).
        "cloudwatch:GetMetricData",
        # Its resource type is the container instance, which Fargate has none of: scoped by the
        # ecs:cluster condition key instead.
        "ecs:ListTasks",
        # The ADOT collector's awsxray exporter (stacks/service/collector.py): X-Ray's actions have
        # no resource type (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html).
        "xray:PutTraceSegments",
        # What CloudFormation checks while it processes a template: Fn::GetAZs and the values of
        # AWS-specific parameter types (AWS::EC2::VPC::Id, List<AWS::EC2::Subnet::Id>).
        "ec2:DescribeAccountAttributes",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
    }
)


def action(name: str) -> AwacsAction:
    """An awacs action from ``service:Name`` (one explicit action, never a wildcard)."""
    prefix, _, verb = name.partition(":")
    if not verb or "*" in name:
        raise ValueError(f"IAM action must be explicit, got {name!r}")
    return AwacsAction(prefix, verb)


def allow(
    actions: Sequence[str], resources: Sequence[Any], condition: ConditionElement | None = None
) -> Statement:
    """An Allow statement; Resource "*" only for actions that AWS gives no resource type."""
    if "*" in resources:
        loose = sorted(set(actions) - STAR_RESOURCE_ACTIONS)
        if loose:
            raise ValueError(f"actions {loose} must name their resources, not '*'")
    statement = Statement(
        Effect=Allow, Action=[action(a) for a in sorted(set(actions))], Resource=list(resources)
    )
    if condition is not None:
        statement.Condition = Condition(condition)
    return statement


def document(statements: Iterable[Statement]) -> Policy:
    """A policy document (version 2012-10-17) from statements."""
    return Policy(Version="2012-10-17", Statement=list(statements))


def trust(service: str, *, source_account: bool = True) -> Policy:
    """Trust policy letting ``service`` (e.g. ``ecs-tasks.amazonaws.com``) assume the role.

    ``aws:SourceAccount`` guards against the confused-deputy problem where the service supports
    it (ECS task roles, CodeBuild, CodePipeline).
    """
    statement = Statement(
        Effect=Allow, Principal=Principal("Service", [service]), Action=[AssumeRole]
    )
    if source_account:
        statement.Condition = Condition(
            StringEquals({"aws:SourceAccount": Sub("${AWS::AccountId}")})
        )
    return document([statement])


def inline_policy(name: str, statements: Iterable[Statement]) -> iam.Policy:
    """A role's inline policy."""
    return iam.Policy(PolicyName=name, PolicyDocument=document(statements))


def role(
    logical_id: str,
    service: str,
    statements: Iterable[Statement] = (),
    *,
    managed: Sequence[str] = (),
    source_account: bool = True,
) -> iam.Role:
    """A service role with one inline policy (when there are statements) and managed policies."""
    statements = list(statements)
    props: dict[str, Any] = {
        "AssumeRolePolicyDocument": trust(service, source_account=source_account)
    }
    if statements:
        props["Policies"] = [inline_policy(f"{logical_id}Policy", statements)]
    if managed:
        props["ManagedPolicyArns"] = [
            Sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{name}") for name in managed
        ]
    return iam.Role(logical_id, **props)
