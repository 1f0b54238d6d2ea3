"""ECS on the emulator as on AWS: where moto 5.2.5's ECS is kinder or different, it is made strict.

A task definition a stack update replaces comes out of moto unreadable: moto registers the new
revision from the template's PascalCase container definitions as they are (its create path
converts them to the API's camelCase), so DescribeTaskDefinition shows no container of it, and
RunTask of it starts a task whose container has no name. Every property of
``AWS::ECS::TaskDefinition`` is "Update requires: Replacement"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-taskdefinition.html):
CloudFormation registers a complete new revision and deregisters the old one. Here an update does
exactly that, through moto's own create path.

Beyond CloudFormation, one ECS behaviour: moto moves a task it runs to STOPPED the first time
DescribeTasks reads it (its ``ecs::task`` state progression is "immediate" by default). On ECS a
task runs until its essential container exits or StopTask stops it
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html);
here a task stays RUNNING until StopTask (the local runner of one-off tasks stops it when its
command exits, delivery/local/oneoff_runner.py).

moto's RunTask sums each container's ``memory``/``memoryReservation`` and fails (HTTP 500, a
TypeError) on a container that declares neither. On Fargate the task-level ``memory`` is required
and the container-level one optional
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html,
"memory": "If you're using the Fargate launch type, this parameter is optional" for containers):
the project's task definition gives memory at the task level only. Here a container without one
counts as 0, and the task's requirement is at least its task-level memory.

An awsvpc task's network interface gets a private DNS name from moto only when its VPC has DNS
hostnames on (RunTask fails with HTTP 500 otherwise), and moto's CloudFormation model of
``AWS::EC2::VPC`` drops ``EnableDnsHostnames`` and ``EnableDnsSupport``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-vpc.html):
the project's network stack turns both on, and here the VPC it creates has them on.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

from moto.ec2.models.vpcs import VPC
from moto.ecs.models import EC2ContainerServiceBackend, TaskDefinition, ecs_backends
from moto.moto_api import state_manager

from delivery.emulator_resources.properties import boolean

ECS_TASK_MODEL = "ecs::task"
_MEMORY_KEYS = ("memory", "memoryReservation", "Memory", "MemoryReservation")


def _replacing_task_definition(  # noqa: PLR0917 - moto's signature for this classmethod
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    """A changed task definition is a new complete revision; the old one is deregistered."""
    replacement = cls.create_from_cloudformation_json(
        new_resource_name, cloudformation_json, account_id, region_name
    )
    ecs_backends[account_id][region_name].deregister_task_definition(original_resource.arn)
    return replacement


def _declares_memory(container: dict[str, Any]) -> bool:
    return any(container.get(key) is not None for key in _MEMORY_KEYS)


def task_requirements(task_definition: Any) -> dict[str, Any]:
    """moto's resource requirements of a task, with Fargate's task-level memory (see above)."""
    containers = task_definition.container_definitions
    if all(_declares_memory(container) for container in containers):
        return _MOTO_REQUIREMENTS(task_definition)
    counted = [c if _declares_memory(c) else {**c, "memory": 0} for c in containers]
    found = _MOTO_REQUIREMENTS(SimpleNamespace(container_definitions=counted))  # type: ignore[arg-type]
    found["MEMORY"] = max(int(found["MEMORY"]), int(task_definition.memory or 0))
    return found


_MOTO_REQUIREMENTS = EC2ContainerServiceBackend._calculate_task_resource_requirements
_MOTO_VPC = VPC.create_from_cloudformation_json
_VPC_DNS = {"EnableDnsHostnames": "enable_dns_hostnames", "EnableDnsSupport": "enable_dns_support"}


def _vpc_with_dns_attributes(
    cls: Any,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    """moto's VPC from the template, with the template's DNS attributes (see above)."""
    vpc = _MOTO_VPC(resource_name, cloudformation_json, account_id, region_name, **kwargs)
    for key, attribute in _VPC_DNS.items():
        value = cloudformation_json.get("Properties", {}).get(key)
        if value is not None:
            setattr(vpc, attribute, boolean(value, f"Properties.{key}"))
    return vpc


def install() -> None:
    """Patch moto's ECS classes in this process (before the server starts)."""
    # Patching moto's classes is the point here; mypy rightly objects to assigning methods.
    TaskDefinition.update_from_cloudformation_json = classmethod(_replacing_task_definition)  # type: ignore[method-assign,assignment]
    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(  # type: ignore[method-assign]
        task_requirements
    )
    VPC.create_from_cloudformation_json = classmethod(_vpc_with_dns_attributes)  # type: ignore[method-assign,assignment,arg-type]
    # A task runs until it is stopped (see the module docstring): never advanced by a read.
    # Its default, as moto's backends register theirs: a reset keeps it, a test may override it.
    state_manager.register_default_transition(
        model_name=ECS_TASK_MODEL, transition={"progression": "manual", "times": sys.maxsize}
    )
