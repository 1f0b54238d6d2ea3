"""Sceptre orchestration without AWS: the poll-interval override, failure reasons, previews."""

from __future__ import annotations

import json
import time
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from sceptre.plan import actions

from delivery import stacks
from delivery.environments import StackRef
from delivery.errors import DeliveryError

SERVICE = StackRef("flask-fargate-dev-service", "eu-north-1")


def cloudformation() -> Any:
    return boto3.client(
        "cloudformation",
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )


def test_sceptre_still_sleeps_through_its_time_module() -> None:
    """The override relies on this; a Sceptre upgrade that changes it must fail here first."""
    assert actions.time is time
    assert "time.sleep(4)" in Path(actions.__file__).read_text()


def recording_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Sceptre's ``time`` becomes a copy of the module whose ``sleep`` records, not sleeps.

    Only Sceptre's module sees the copy: what it asked to sleep is then known exactly, with no
    stopwatch (and no other thread's sleeps mixed in).
    """
    slept: list[float] = []
    recording = types.ModuleType("time")
    recording.__dict__.update(vars(time))
    recording.__dict__["sleep"] = slept.append
    monkeypatch.setattr(actions, "time", recording)
    return slept


def test_poll_interval_caps_sleeps_only_inside_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    slept = recording_sleeps(monkeypatch)
    with stacks.poll_interval(0.01):
        clock = actions.time
        assert isinstance(clock, stacks._PollClock)
        clock.sleep(4)
        clock.sleep(0.001)  # shorter than the cap: as asked
        assert slept == [0.01, 0.001]
        assert clock.monotonic is time.monotonic  # everything else is the real time module
        with stacks.poll_interval(0.02):  # nesting restores the outer override
            assert actions.time.interval == 0.02
        assert actions.time.interval == 0.01
    assert not isinstance(actions.time, stacks._PollClock)
    actions.time.sleep(4)
    assert slept == [0.01, 0.001, 4]  # outside the block Sceptre sleeps what it asks for


def test_poll_interval_none_leaves_sceptre_alone() -> None:
    with stacks.poll_interval(None):
        assert actions.time is time


def test_poll_interval_restored_on_error() -> None:
    with pytest.raises(RuntimeError), stacks.poll_interval(0.01):
        raise RuntimeError
    assert actions.time is time


def test_negative_interval_is_rejected() -> None:
    with pytest.raises(DeliveryError, match="poll interval"), stacks.poll_interval(-1):
        pass


def test_waiting_for_a_stack_uses_the_short_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sceptre's own wait loop, driven with statuses: 3 polls sleep 0.01 s each, not 4 s."""
    statuses = iter(["UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"])
    waiter = actions.StackActions.__new__(actions.StackActions)
    monkeypatch.setattr(waiter, "_get_status", lambda: next(statuses), raising=False)
    monkeypatch.setattr(waiter, "_log_new_events", lambda after: after, raising=False)
    slept = recording_sleeps(monkeypatch)
    with stacks.poll_interval(0.01):
        status = waiter._wait_for_completion()
    assert status == "complete"
    assert slept == [0.01, 0.01, 0.01]


def event(resource: str, status: str, reason: str = "", minute: int = 0) -> dict[str, Any]:
    return {
        "StackId": "id",
        "EventId": f"{resource}-{status}",
        "StackName": "flask-fargate-dev-service",
        "LogicalResourceId": resource,
        "ResourceType": "AWS::ECS::Service",
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "Timestamp": datetime(2026, 1, 1, 0, minute, tzinfo=UTC),
    }


def test_failure_reason_is_the_first_failure() -> None:
    cfn = cloudformation()
    events = [  # newest first, as CloudFormation returns them
        event("flask-fargate-dev-service", "UPDATE_ROLLBACK_COMPLETE", minute=3),
        event("TaskDefinition", "UPDATE_FAILED", "Resource update cancelled", minute=2),
        event("Service", "UPDATE_FAILED", "ECS Deployment Circuit Breaker was triggered", 1),
        event("Service", "UPDATE_IN_PROGRESS", minute=0),
    ]
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": events})
        reason = stacks.failure_reason(SERVICE, cfn)
    assert reason == "Service: ECS Deployment Circuit Breaker was triggered"


def test_change_lines_read_well() -> None:
    assert str(stacks.Change("s", "none")) == "s: no changes"
    assert str(stacks.Change("s", "Create")) == "s: create stack"
    change = stacks.Change("s", "Modify", "TaskDefinition", "AWS::ECS::TaskDefinition", "True")
    assert str(change) == "s: Modify TaskDefinition [AWS::ECS::TaskDefinition] (replacement: True)"


# --- previews: a DescribeChangeSet response in AWS's shape, through the real code path ---------
# Shape: the CloudFormation API reference (DescribeChangeSet, Change, ResourceChange,
# ResourceChangeDetail, ResourceTargetDefinition:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html) and
# the change-set examples of the user guide (a parameter change -> Static ParameterReference
# details, a changed resource reference -> Dynamic ResourceReference details:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-samples.html).
# Stubber checks every request and response against botocore's model of the API.

STACK_ID = (
    "arn:aws:cloudformation:eu-north-1:123456789012:stack/flask-fargate-dev-service/"
    "5b3a6e20-0a1b-11f0-9a5e-0a1b2c3d4e5f"
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def resource_change(
    action: str,
    logical_id: str,
    resource_type: str,
    *details: dict[str, Any],
    replacement: str | None = None,
    scope: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    change: dict[str, Any] = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "Scope": scope if scope is not None else (["Properties"] if details else []),
        "Details": list(details),
        **extra,
    }
    if replacement is not None:
        change["Replacement"] = replacement
    return {"Type": "Resource", "ResourceChange": change}


def detail(
    name: str, source: str, entity: str | None, evaluation: str, recreation: str
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation},
        "Evaluation": evaluation,
        "ChangeSource": source,
    }
    if entity is not None:
        found["CausingEntity"] = entity
    return found


# A new image (ImageUri/AppVersion) with production on Green: the task definition is replaced,
# the service follows the new revision, the deployment alarms switch to the blue group's.
PAGE_1 = [
    resource_change(
        "Modify",
        "TaskDefinition",
        "AWS::ECS::TaskDefinition",
        detail("ContainerDefinitions", "ParameterReference", "ImageUri", "Static", "Always"),
        detail("ContainerDefinitions", "ParameterReference", "AppVersion", "Static", "Always"),
        detail("ContainerDefinitions", "DirectModification", None, "Dynamic", "Always"),
        replacement="True",
        PhysicalResourceId="arn:aws:ecs:eu-north-1:123456789012:task-definition/flask-fargate-dev:7",
        PolicyAction="ReplaceAndDelete",
    ),
]
PAGE_2 = [
    resource_change(
        "Modify",
        "Service",
        "AWS::ECS::Service",
        detail("TaskDefinition", "ResourceReference", "TaskDefinition", "Dynamic", "Never"),
        detail(
            "DeploymentConfiguration",
            "ParameterReference",
            "ProductionTargetGroup",
            "Static",
            "Never",
        ),
        replacement="False",
        PhysicalResourceId="arn:aws:ecs:eu-north-1:123456789012:service/flask-fargate-dev/svc",
    ),
    resource_change(
        "Modify",
        "LoadBalancer",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "Target": {"Attribute": "Tags", "RequiresRecreation": "Never"},
            "Evaluation": "Static",
            "ChangeSource": "DirectModification",
        },
        replacement="False",
        scope=["Tags"],
    ),
    resource_change("Add", "Dashboard", "AWS::CloudWatch::Dashboard"),
    resource_change("Remove", "OldLogGroup", "AWS::Logs::LogGroup", PolicyAction="Retain"),
]


def described(status: str, changes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "ChangeSetName": "preview",
        "ChangeSetId": "arn:aws:cloudformation:eu-north-1:123456789012:changeSet/preview/1",
        "StackId": STACK_ID,
        "StackName": SERVICE.name,
        "Parameters": [{"ParameterKey": "ImageUri", "ParameterValue": "r/x@sha256:" + "b" * 64}],
        "CreationTime": NOW,
        "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
        "Status": status,
        "NotificationARNs": [],
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [],
        "Changes": changes,
        **extra,
    }


def sceptre_project(root: Path) -> Path:
    """One env, one stack with literal parameters: a Sceptre plan that needs no AWS to build."""
    files = {
        "config/config.yaml": "project_code: flask-fargate\nregion: eu-north-1\n",
        "config/dev/service.yaml": (
            "template:\n  path: service.json\nparameters:\n"
            '  ImageUri: "{{ var.image_uri }}"\n  AppVersion: "{{ var.app_version }}"\n'
            '  ProductionTargetGroup: "{{ var.production_target_group }}"\n'
        ),
        "templates/service.json": json.dumps(
            {
                "Parameters": {
                    name: {"Type": "String"}
                    for name in ("ImageUri", "AppVersion", "ProductionTargetGroup")
                },
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            }
        ),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_real_change_set_is_read_page_by_page_into_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfn = cloudformation()
    regions: list[str] = []

    def client(region: str) -> Any:
        regions.append(region)
        return cfn

    monkeypatch.setattr(stacks, "cloudformation", client)
    monkeypatch.setattr(stacks, "fresh_connections", lambda: None)
    name = {"StackName": SERVICE.name, "ChangeSetName": ANY}
    variables = {
        "image_uri": "r/x@sha256:" + "b" * 64,
        "app_version": "1.1.0",
        "production_target_group": "Green",
    }
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": SERVICE.name,
                        "StackId": STACK_ID,
                        "StackStatus": "UPDATE_COMPLETE",
                        "CreationTime": NOW,
                    }
                ]
            },
            {"StackName": SERVICE.name},
        )
        stub.add_response(
            "create_change_set",
            {
                "Id": "arn:aws:cloudformation:eu-north-1:123456789012:changeSet/p/1",
                "StackId": STACK_ID,
            },
            {
                **name,
                "ChangeSetType": "UPDATE",
                "Parameters": [
                    {"ParameterKey": "ImageUri", "ParameterValue": variables["image_uri"]},
                    {"ParameterKey": "AppVersion", "ParameterValue": "1.1.0"},
                    {"ParameterKey": "ProductionTargetGroup", "ParameterValue": "Green"},
                ],
                "Capabilities": ANY,
                "TemplateBody": ANY,
            },
        )
        stub.add_response("describe_change_set", described("CREATE_IN_PROGRESS", []), name)
        stub.add_response(
            "describe_change_set", described("CREATE_COMPLETE", PAGE_1, NextToken="page-2"), name
        )
        stub.add_response(
            "describe_change_set",
            described("CREATE_COMPLETE", PAGE_2),
            {**name, "NextToken": "page-2"},
        )
        stub.add_response("delete_change_set", {}, name)
        changes = stacks.diff("dev", variables, root=sceptre_project(tmp_path), poll=0)
        stub.assert_no_pending_responses()
    assert set(regions) == {"eu-north-1"}  # the stack's region from its config, nothing ambient
    assert [str(change) for change in changes] == [
        "flask-fargate-dev-service: Modify TaskDefinition [AWS::ECS::TaskDefinition] "
        "(replacement: True, policy: ReplaceAndDelete): ContainerDefinitions <- parameter "
        "ImageUri; ContainerDefinitions <- parameter AppVersion; ContainerDefinitions <- "
        "template (decided at update time)",
        "flask-fargate-dev-service: Modify Service [AWS::ECS::Service] (replacement: False): "
        "TaskDefinition <- resource TaskDefinition (decided at update time); "
        "DeploymentConfiguration <- parameter ProductionTargetGroup",
        "flask-fargate-dev-service: Modify LoadBalancer "
        "[AWS::ElasticLoadBalancingV2::LoadBalancer] (replacement: False): Tags <- template",
        "flask-fargate-dev-service: Add Dashboard [AWS::CloudWatch::Dashboard]",
        "flask-fargate-dev-service: Remove OldLogGroup [AWS::Logs::LogGroup] (policy: Retain)",
    ]


def test_a_change_set_without_changes_is_no_changes() -> None:
    cfn = cloudformation()
    request = {"StackName": SERVICE.name, "ChangeSetName": "preview", "TemplateBody": "{}"}
    name = {"StackName": SERVICE.name, "ChangeSetName": "preview"}
    reason = (
        "The submitted information didn't contain changes. Submit different information to "
        "create a change set."
    )
    with Stubber(cfn) as stub:
        stub.add_response("create_change_set", {"Id": "arn:aws:cloudformation:x:1:changeSet/p/1"})
        stub.add_response("describe_change_set", described("FAILED", [], StatusReason=reason), name)
        stub.add_response("delete_change_set", {}, name)
        assert stacks.preview_stack(cfn, request, 0) == [stacks.Change(SERVICE.name, "none")]
        stub.assert_no_pending_responses()
