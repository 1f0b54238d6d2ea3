"""ECS Exec (``invoke exec``), when the settings turn it on: what the stack adds for it.

From the ECS Exec guide (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html):

- the service's ``EnableExecuteCommand``: ECS then starts the managed SSM agent in each task
  (the container's ``initProcessEnabled``, already on, is what the guide recommends with it);
- the task role may open the SSM channels (``ssmmessages:CreateControlChannel``,
  ``CreateDataChannel``, ``OpenControlChannel``, ``OpenDataChannel``; AWS gives them no resource
  type, so ``*``), and, because sessions are logged and encrypted here, describe log groups
  (``*``), write its session streams (``logs:CreateLogStream``, ``DescribeLogStreams``,
  ``PutLogEvents`` on the session log group) and decrypt with the session key (``kms:Decrypt``);
- the cluster's ``ExecuteCommandConfiguration``: the session data channel encrypted with a key of
  this stack (``KmsKeyId``), every session's output logged (``Logging: OVERRIDE``) to a log group
  of this stack encrypted with the same key (``CloudWatchEncryptionEnabled``: the agent refuses
  to log to an unencrypted group). The key's policy lets CloudWatch Logs use it for that one group
  (stacks/common/kms.py ``logs_statement``). Whoever calls ExecuteCommand needs
  ``kms:GenerateDataKey`` on the key too (the guide's user policy): the account's IAM grants it,
  the key policy delegates to IAM.

A read-only root filesystem: the guide says the SSM agent needs to write to the container's
file system and a read-only root "isn't supported". What it writes, as reported by users who run
it read-only (https://github.com/aws/containers-roadmap/issues/1359,
https://github.com/aws-containers/amazon-ecs-exec-checker/issues/71): ``/managed-agents``,
``/var/lib/amazon/ssm`` and ``/var/log/amazon/ssm``. Each gets a task volume of its own here. On
Fargate such a volume is an empty directory owned by root, mode 0755 (delivery/taskvolumes.py);
that is enough, because the agent and the commands it runs are root whatever the container's
user ("The SSM agent and its child processes run as root even when you specify a user ID for the
container", the guide's considerations; https://github.com/aws/amazon-ecs-agent/pull/2790), and
root writes its own directory without any capability. So the image declares no VOLUME there, and
the app's user 10001 cannot write these paths. Not documented by AWS, hence to be confirmed on
AWS (docs/RUNBOOK.md).
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref, Sub, Template, ecs, logs

from stacks.common import iam
from stacks.common.kms import key_arn, kms_key, logs_statement
from stacks.common.template import retain
from stacks.service.settings import Settings
from stacks.service.task import Task

# The SSM agent's writable paths on a read-only root (module docstring): volume -> path.
AGENT_PATHS = {
    "ssm-managed-agents": "/managed-agents",
    "ssm-state": "/var/lib/amazon/ssm",
    "ssm-logs": "/var/log/amazon/ssm",
}
SSM_CHANNEL_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
# Named, not generated: the key policy names the group before the group exists.
SESSION_LOG_GROUP = "${AWS::StackName}/ecs-exec"
SESSION_LOG_GROUP_ARN = (
    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:" + SESSION_LOG_GROUP
)


def _agent_volumes(task: Task) -> None:
    """The agent's writable paths as task volumes of the app container."""
    definition = task.definition
    definition.Volumes = [*definition.Volumes, *(ecs.Volume(Name=name) for name in AGENT_PATHS)]
    container = definition.ContainerDefinitions[0]
    container.MountPoints = [
        *container.MountPoints,
        *(
            ecs.MountPoint(SourceVolume=name, ContainerPath=path, ReadOnly=False)
            for name, path in AGENT_PATHS.items()
        ),
    ]


def _task_role_policy(task: Task, key: Any, group: logs.LogGroup) -> None:
    """What the agent in the task does: open the SSM channels, log the session, decrypt."""
    streams = Sub(
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Group}:*",
        Group=Ref(group),
    )
    statements = [
        iam.allow(list(SSM_CHANNEL_ACTIONS), ["*"]),
        iam.allow(["logs:DescribeLogGroups"], ["*"]),
        iam.allow(
            ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"], [streams]
        ),
        iam.allow(["kms:Decrypt"], [key_arn(key)]),
    ]
    policies = getattr(task.role, "Policies", [])  # the collector's, when it runs
    task.role.Policies = [*policies, iam.inline_policy("EcsExecPolicy", statements)]


def add_exec(
    template: Template, settings: Settings, *, task: Task, cluster: ecs.Cluster, service: Any
) -> None:
    """ECS Exec for the service when ``settings.exec.enabled``; nothing otherwise."""
    if not settings.exec.enabled:
        return
    key = kms_key(
        template,
        "ExecKey",
        "ECS Exec sessions and their log group",
        [],
        keep=settings.retain,
        statements=[logs_statement(Sub(SESSION_LOG_GROUP_ARN))],
    )
    group = template.add_resource(
        logs.LogGroup(
            "ExecLogGroup",
            LogGroupName=Sub(SESSION_LOG_GROUP),
            RetentionInDays=settings.log_retention_days,
            KmsKeyId=GetAtt(key, "Arn"),
        )
    )
    retain(group, settings.retain)
    cluster.Configuration = ecs.ClusterConfiguration(
        ExecuteCommandConfiguration=ecs.ExecuteCommandConfiguration(
            KmsKeyId=Ref(key),
            Logging="OVERRIDE",
            LogConfiguration=ecs.ExecuteCommandLogConfiguration(
                CloudWatchLogGroupName=Ref(group), CloudWatchEncryptionEnabled=True
            ),
        )
    )
    _task_role_policy(task, key, group)
    _agent_volumes(task)
    service.EnableExecuteCommand = True
