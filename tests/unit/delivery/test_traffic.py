"""Which target group serves production, from a listener rule as ELBv2 DescribeRules returns it.

Rule shape: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Rule.html and
API_Action.html (a forward action has a ``ForwardConfig`` with weighted ``TargetGroups``, or a
single ``TargetGroupArn``). The end-to-end path (stack resources, DescribeRules, the stack
parameter it ends up in) runs on the emulator in tests/integration/test_delivery_deploy.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from delivery import traffic

BLUE = "arn:aws:elasticloadbalancing:eu-north-1:123456789012:targetgroup/blue/1"
GREEN = "arn:aws:elasticloadbalancing:eu-north-1:123456789012:targetgroup/green/2"


def rule(*actions: dict[str, Any]) -> dict[str, Any]:
    return {"RuleArn": "arn:rule", "Priority": "1", "Actions": list(actions), "IsDefault": False}


def weighted(blue: int, green: int) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": BLUE, "Weight": blue},
                {"TargetGroupArn": GREEN, "Weight": green},
            ],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }


@pytest.mark.parametrize(
    ("found", "serving"),
    [
        (rule(weighted(100, 0)), [BLUE]),
        (rule(weighted(0, 100)), [GREEN]),
        (rule(weighted(90, 10)), [BLUE, GREEN]),  # a canary in flight
        (rule({"Type": "forward", "TargetGroupArn": GREEN}), [GREEN]),
        (rule({"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}), []),
    ],
)
def test_the_serving_groups_are_the_weighted_ones(
    found: dict[str, Any], serving: list[str]
) -> None:
    assert traffic.serving_arns(found) == serving


def test_the_groups_are_the_templates_own() -> None:
    """The deploy's values must be what the service template's parameter allows."""
    from stacks.service import production  # noqa: PLC0415 - the stacks group, tests only

    assert traffic.GROUPS == production.COLOURS == ("Blue", "Green")
    assert traffic.DEFAULT == "Blue"  # the template parameter's default: a fresh stack's
