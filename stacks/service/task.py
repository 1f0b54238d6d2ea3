"""The Fargate task: its log group, secret, roles and the hardened container definition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Ref, Sub, Template, ecs, secretsmanager

from stacks.common import iam
from stacks.common.logs import log_group
from stacks.common.template import retain, skip_checks
from stacks.service.loadbalancer import CONTAINER_PORT
from stacks.service.settings import Settings

CONTAINER_NAME = "app"
# A fixed non-root UID:GID, matching the image's user (the Dockerfile creates 10001).
RUN_AS = "10001:10001"
# Liveness from inside the container with the image's own Python (no curl in a slim image).
HEALTH_COMMAND = (
    "import urllib.request; "
    f"urllib.request.urlopen('http://127.0.0.1:{CONTAINER_PORT}/health', timeout=2)"
)


@dataclass(frozen=True)
class Task:
    """What the ECS service and the outputs need from the task resources."""

    definition: ecs.TaskDefinition
    log_group: Any
    role: Any  # the task role (stacks/service/exec.py gives it ECS Exec's permissions)


def _secret(template: Template, settings: Settings) -> Any:
    secret = template.add_resource(
        secretsmanager.Secret(
            "AppSecret",
            Description=Sub("${AWS::StackName}: the app's SECRET_KEY"),
            GenerateSecretString=secretsmanager.GenerateSecretString(
                PasswordLength=64, ExcludePunctuation=True
            ),
        )
    )
    retain(secret, settings.retain)
    return skip_checks(
        secret,
        {
            "CKV_AWS_149": "encrypted with the aws/secretsmanager key; only this stack's "
            "execution role may read it (IAM), so a CMK would add no reader restriction",
        },
    )


def _execution_role(template: Template, repository_arn: Any, group: Any, secret: Any) -> Any:
    """What ECS needs to start the task: pull the image, write logs, read the secret."""
    return template.add_resource(
        iam.role(
            "ExecutionRole",
            "ecs-tasks.amazonaws.com",
            [
                iam.allow(["ecr:GetAuthorizationToken"], ["*"]),
                iam.allow(
                    [
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                    [repository_arn],
                ),
                iam.allow(
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [
                        Sub(
                            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                            "log-group:${LogGroup}:*",
                            LogGroup=Ref(group),
                        )
                    ],
                ),
                iam.allow(["secretsmanager:GetSecretValue"], [Ref(secret)]),
            ],
        )
    )


def _environment(settings: Settings, app_version: Any) -> list[ecs.Environment]:
    values: dict[str, Any] = {
        "APP_VERSION": app_version,
        "LOG_LEVEL": settings.log_level,
        "GREETING": settings.greeting,
        "DRAIN_SECONDS": str(settings.drain_seconds),
        "GRACEFUL_TIMEOUT_SECONDS": str(settings.graceful_timeout_seconds),
        "KEEPALIVE_SECONDS": str(settings.keepalive_seconds),
        "PORT": str(CONTAINER_PORT),
    }
    return [ecs.Environment(Name=name, Value=value) for name, value in sorted(values.items())]


def _container(
    settings: Settings, image: Any, app_version: Any, group: Any, secret: Any
) -> ecs.ContainerDefinition:
    return ecs.ContainerDefinition(
        Name=CONTAINER_NAME,
        Image=image,
        Essential=True,
        User=RUN_AS,
        ReadonlyRootFilesystem=True,
        # The only writable path: gunicorn's worker heartbeat files and Python temp files.
        MountPoints=[
            ecs.MountPoint(
                SourceVolume="tmp",
                ContainerPath="/tmp",  # noqa: S108 - the task's own scratch volume  # nosec B108
                ReadOnly=False,
            )
        ],
        LinuxParameters=ecs.LinuxParameters(
            InitProcessEnabled=True,
            Capabilities=ecs.KernelCapabilities(Drop=["ALL"]),
        ),
        PortMappings=[ecs.PortMapping(ContainerPort=CONTAINER_PORT, Protocol="tcp", Name="http")],
        Environment=_environment(settings, app_version),
        Secrets=[ecs.Secret(Name="SECRET_KEY", ValueFrom=Ref(secret))],
        # SIGTERM -> readiness 503 for drain_seconds -> graceful stop -> margin -> SIGKILL.
        StopTimeout=settings.stop_timeout,
        HealthCheck=ecs.HealthCheck(
            Command=["CMD", "python", "-c", HEALTH_COMMAND],
            Interval=10,
            Timeout=5,
            Retries=3,
            StartPeriod=15,
        ),
        LogConfiguration=ecs.LogConfiguration(
            LogDriver="awslogs",
            Options={
                "awslogs-group": Ref(group),
                "awslogs-region": Ref("AWS::Region"),
                "awslogs-stream-prefix": CONTAINER_NAME,
                # Never block the app on a slow log pipeline; drop beyond a 25 MiB buffer.
                "mode": "non-blocking",
                "max-buffer-size": "25m",
            },
        ),
    )


def add_task(
    template: Template, settings: Settings, image: Any, app_version: Any, repository_arn: Any
) -> Task:
    """The task definition with its log group, secret, execution role and (empty) task role."""
    group = log_group(template, "LogGroup", settings.log_retention_days, keep=settings.retain)
    secret = _secret(template, settings)
    execution = _execution_role(template, repository_arn, group, secret)
    # The app calls no AWS API: its role has no permissions (ECS Exec's, where it is on, come from
    # stacks/service/exec.py), and is not the execution role.
    task_role = template.add_resource(iam.role("TaskRole", "ecs-tasks.amazonaws.com"))
    definition = template.add_resource(
        ecs.TaskDefinition(
            "TaskDefinition",
            Family=Sub("${AWS::StackName}"),
            Cpu=str(settings.cpu),
            Memory=str(settings.memory),
            NetworkMode="awsvpc",
            RequiresCompatibilities=["FARGATE"],
            RuntimePlatform=ecs.RuntimePlatform(
                OperatingSystemFamily="LINUX", CpuArchitecture=settings.cpu_architecture
            ),
            ExecutionRoleArn=GetAtt(execution, "Arn"),
            TaskRoleArn=GetAtt(task_role, "Arn"),
            Volumes=[ecs.Volume(Name="tmp")],
            ContainerDefinitions=[_container(settings, image, app_version, group, secret)],
        )
    )
    return Task(definition=definition, log_group=group, role=task_role)
