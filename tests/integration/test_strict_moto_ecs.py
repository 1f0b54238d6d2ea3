"""ECS on the emulator as on AWS (delivery.strict_moto): tasks run until stopped, and a stack
update replaces a task definition with a complete new revision."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from delivery.emulator import Emulator

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

STACK = "ecs-revisions"


def _template() -> str:
    container = {
        "Name": "app",
        "Image": {"Ref": "Image"},
        "Memory": 512,
        "Environment": [{"Name": "APP_VERSION", "Value": {"Ref": "Image"}}],
    }
    return json.dumps(
        {
            "Parameters": {"Image": {"Type": "String"}},
            "Resources": {
                "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": STACK}},
                "TaskDefinition": {
                    "Type": "AWS::ECS::TaskDefinition",
                    "Properties": {"Family": STACK, "ContainerDefinitions": [container]},
                },
            },
            "Outputs": {"TaskDefinitionArn": {"Value": {"Ref": "TaskDefinition"}}},
        }
    )


def _launch(cfn: Any, image: str, *, update: bool) -> str:
    call = cfn.update_stack if update else cfn.create_stack
    call(
        StackName=STACK,
        TemplateBody=_template(),
        Parameters=[{"ParameterKey": "Image", "ParameterValue": image}],
    )
    (stack,) = cfn.describe_stacks(StackName=STACK)["Stacks"]
    return str(stack["Outputs"][0]["OutputValue"])


def test_a_stack_update_registers_a_complete_revision(aws: Emulator) -> None:
    cfn = boto3.client("cloudformation")
    ecs = boto3.client("ecs")
    first = _launch(cfn, "app:1", update=False)
    second = _launch(cfn, "app:2", update=True)
    assert second != first
    definition = ecs.describe_task_definition(taskDefinition=second)["taskDefinition"]
    (container,) = definition["containerDefinitions"]
    assert (container["name"], container["image"]) == ("app", "app:2")
    assert container["environment"] == [{"name": "APP_VERSION", "value": "app:2"}]
    replaced = ecs.describe_task_definition(taskDefinition=first)["taskDefinition"]
    assert replaced["status"] == "INACTIVE"


def test_a_task_runs_until_it_is_stopped(aws: Emulator) -> None:
    cfn = boto3.client("cloudformation")
    ecs = boto3.client("ecs")
    definition = _launch(cfn, "app:1", update=False)
    (task,) = ecs.run_task(cluster=STACK, taskDefinition=definition, launchType="FARGATE")["tasks"]
    for _ in range(3):  # moto's own default stopped it at the first description
        (seen,) = ecs.describe_tasks(cluster=STACK, tasks=[task["taskArn"]])["tasks"]
        assert seen["lastStatus"] == "RUNNING"
    ecs.stop_task(cluster=STACK, task=task["taskArn"], reason="done")
    (seen,) = ecs.describe_tasks(cluster=STACK, tasks=[task["taskArn"]])["tasks"]
    assert (seen["lastStatus"], seen["stoppedReason"]) == ("STOPPED", "done")


def test_a_fargate_task_with_memory_only_at_the_task_level_runs(aws: Emulator) -> None:
    """As the project's task definition has it: Cpu and Memory on the task, none per container."""
    ecs, ec2 = boto3.client("ecs"), boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as the stack's
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=STACK, Description="task", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName=STACK)
    definition = ecs.register_task_definition(
        family=f"{STACK}-fargate",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "app:1", "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    (task,) = ecs.run_task(
        cluster=STACK,
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}
        },
    )["tasks"]
    assert task["lastStatus"] == "RUNNING"


def test_a_vpc_keeps_the_dns_attributes_its_template_gives(aws: Emulator) -> None:
    def vpc(cidr: str, **dns: bool) -> dict[str, Any]:
        return {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr, **dns}}

    template = {
        "Resources": {"On": vpc("10.8.0.0/16", EnableDnsHostnames=True), "Off": vpc("10.7.0.0/16")},
        "Outputs": {name: {"Value": {"Ref": name}} for name in ("On", "Off")},
    }
    cfn, ec2 = boto3.client("cloudformation"), boto3.client("ec2")
    cfn.create_stack(StackName="vpc-dns", TemplateBody=json.dumps(template))
    (stack,) = cfn.describe_stacks(StackName="vpc-dns")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    ids = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    def hostnames(vpc_id: str) -> bool:
        found = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
        return bool(found["EnableDnsHostnames"]["Value"])

    assert (hostnames(ids["On"]), hostnames(ids["Off"])) == (True, False)
