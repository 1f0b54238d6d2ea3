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
