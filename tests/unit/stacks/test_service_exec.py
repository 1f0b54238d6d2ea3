"""ECS Exec in the service stack (stacks/service/exec.py): on in local and dev, off in prod and by
default; when on, exactly what the ECS Exec guide asks for, sessions logged encrypted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from delivery.project import NAME as PROJECT
from stacks import service
from stacks.service.exec import AGENT_PATHS, SSM_CHANNEL_ACTIONS
from stacks.service.settings import Exec
from tests.support.cfn import Template, one, resources

SSM_PATHS = {"/managed-agents", "/var/lib/amazon/ssm", "/var/log/amazon/ssm"}


def _built(**settings: Any) -> Template:
    built = service.build(service.Settings(project=PROJECT, environment="test", **settings))
    return dict(json.loads(built.to_json()))


def _task_role(template: Template) -> dict[str, Any]:
    return dict(resources(template, "AWS::IAM::Role")["TaskRole"]["Properties"])


def _exec_policy(template: Template) -> list[dict[str, Any]]:
    """The task role's ECS Exec policies (the collector's is beside them when it runs)."""
    policies = _task_role(template).get("Policies", [])
    return [p for p in policies if p["PolicyName"] == "EcsExecPolicy"]


def _statements(template: Template) -> list[dict[str, Any]]:
    (policy,) = _exec_policy(template)
    return list(policy["PolicyDocument"]["Statement"])


def test_exec_is_off_by_default_and_adds_nothing() -> None:
    template = _built()
    assert "EnableExecuteCommand" not in one(template, "AWS::ECS::Service")["Properties"]
    assert "Configuration" not in one(template, "AWS::ECS::Cluster")["Properties"]
    assert not _exec_policy(template)
    assert not resources(template, "AWS::KMS::Key")


@pytest.mark.parametrize(("env", "enabled"), [("local", True), ("dev", True), ("prod", False)])
def test_exec_is_on_in_local_and_dev_and_off_in_prod(
    rendered: dict[str, dict[str, Template]], env: str, enabled: bool
) -> None:
    properties = one(rendered[env]["service"], "AWS::ECS::Service")["Properties"]
    assert properties.get("EnableExecuteCommand", False) is enabled


def test_the_task_role_gets_exactly_ecs_execs_permissions() -> None:
    template = _built(exec=Exec(enabled=True))
    actions = {tuple(s["Action"]): s["Resource"] for s in _statements(template)}
    assert actions == {
        tuple(sorted(SSM_CHANNEL_ACTIONS)): ["*"],
        ("logs:DescribeLogGroups",): ["*"],
        ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"): [
            {
                "Fn::Sub": [
                    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                    "${Group}:*",
                    {"Group": {"Ref": "ExecLogGroup"}},
                ]
            }
        ],
        ("kms:Decrypt",): [{"Fn::GetAtt": ["ExecKey", "Arn"]}],
    }


def test_sessions_are_logged_to_a_group_encrypted_with_a_key_logs_may_use_for_it() -> None:
    template = _built(exec=Exec(enabled=True))
    configuration = one(template, "AWS::ECS::Cluster")["Properties"]["Configuration"]
    assert configuration["ExecuteCommandConfiguration"] == {
        "KmsKeyId": {"Ref": "ExecKey"},
        "Logging": "OVERRIDE",
        "LogConfiguration": {
            "CloudWatchLogGroupName": {"Ref": "ExecLogGroup"},
            "CloudWatchEncryptionEnabled": True,
        },
    }
    group = resources(template, "AWS::Logs::LogGroup")["ExecLogGroup"]["Properties"]
    assert group["KmsKeyId"] == {"Fn::GetAtt": ["ExecKey", "Arn"]}
    name = group["LogGroupName"]["Fn::Sub"]
    key = resources(template, "AWS::KMS::Key")["ExecKey"]["Properties"]["KeyPolicy"]
    (logs,) = [s for s in key["Statement"] if s.get("Sid") == "CloudWatchLogsEncryptsOneLogGroup"]
    assert logs["Principal"] == {"Service": [{"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}]}
    # The key serves this one group: the condition names exactly its ARN.
    condition = logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
    assert condition.endswith(f":log-group:{name}")


def test_the_ssm_agent_gets_its_writable_paths_as_task_volumes() -> None:
    template = _built(exec=Exec(enabled=True))
    definition = one(template, "AWS::ECS::TaskDefinition")["Properties"]
    container, *sidecars = definition["ContainerDefinitions"]
    assert container["Name"] == "app"  # the agent's volumes go to the app, not the collector
    assert all("MountPoints" not in sidecar for sidecar in sidecars)
    assert container["ReadonlyRootFilesystem"] is True  # exec does not loosen the root
    mounted = {m["ContainerPath"]: m["SourceVolume"] for m in container["MountPoints"]}
    assert set(mounted) - {"/tmp"} == SSM_PATHS == set(AGENT_PATHS.values())
    # Plain task volumes: on Fargate empty, root-owned 0755, which the agent (root) can write.
    volumes = {v["Name"]: v for v in definition["Volumes"]}
    for path in SSM_PATHS:
        assert volumes[mounted[path]] == {"Name": mounted[path]}
