"""A listener rule's new priority is applied on update, and a clash fails it (delivery.strict_moto).

moto 5.2.5 drops a ListenerRule's Priority change on update (its update applies conditions and
actions only). CloudFormation moves it in place with SetRulePriorities, which refuses a priority
another rule of the listener holds (PriorityInUse): the update fails and rolls back.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from delivery.emulator import Emulator

pytestmark = [pytest.mark.emulator]

STACK = "rules"


def template(private_priority: int) -> dict[str, Any]:
    """An ALB listener with two rules: private paths (at ``private_priority``) and forward (100)."""

    def rule(priority: int, path: str) -> dict[str, Any]:
        return {
            "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
            "Properties": {
                "ListenerArn": {"Ref": "Listener"},
                "Priority": priority,
                "Conditions": [{"Field": "path-pattern", "Values": [path]}],
                "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Group"}}],
            },
        }

    def subnet(cidr: str, zone: str) -> dict[str, Any]:
        return {
            "Type": "AWS::EC2::Subnet",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr, "AvailabilityZone": zone},
        }

    return {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "A": subnet("10.0.0.0/24", "eu-north-1a"),
            "B": subnet("10.0.1.0/24", "eu-north-1b"),
            "Balancer": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"Subnets": [{"Ref": "A"}, {"Ref": "B"}]},
            },
            "Group": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {"Port": 80, "Protocol": "HTTP", "VpcId": {"Ref": "Vpc"},
                               "TargetType": "ip"},
            },
            "Listener": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Properties": {
                    "LoadBalancerArn": {"Ref": "Balancer"},
                    "Port": 80,
                    "Protocol": "HTTP",
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Group"}}],
                },
            },
            "PrivatePaths": rule(private_priority, "/metrics"),
            "Forward": rule(100, "/*"),
        },
        "Outputs": {"Listener": {"Value": {"Ref": "Listener"}}},
    }  # fmt: skip


def priorities() -> dict[str, int]:
    cfn = boto3.client("cloudformation")
    listener = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"][0]["OutputValue"]
    rules = boto3.client("elbv2").describe_rules(ListenerArn=listener)["Rules"]
    return {
        r["Conditions"][0]["Values"][0]: int(r["Priority"]) for r in rules if not r["IsDefault"]
    }


def update(private_priority: int) -> str:
    cfn = boto3.client("cloudformation")
    cfn.update_stack(StackName=STACK, TemplateBody=json.dumps(template(private_priority)))
    return str(cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"])


def test_a_priority_change_moves_the_rule_and_a_clash_rolls_the_update_back(aws: Emulator) -> None:
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(template(10)))
    assert priorities() == {"/metrics": 10, "/*": 100}

    assert update(20) == "UPDATE_COMPLETE"
    assert priorities() == {"/metrics": 20, "/*": 100}  # moto alone kept 10

    assert update(100) == "UPDATE_ROLLBACK_COMPLETE"  # the forward rule holds 100
    assert priorities() == {"/metrics": 20, "/*": 100}
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cfn.describe_stack_events(StackName=STACK)["StackEvents"]
        if e.get("LogicalResourceId") == "PrivatePaths"
    ]
    assert any("PriorityInUse" in reason or "in use" in reason for reason in reasons), reasons
