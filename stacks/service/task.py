"""The Fargate task: its log group, secrets, roles and the hardened container definition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Ref, Sub, Template, ecs

from stacks.common import iam
from stacks.common.logs import awslogs, log_group
from stacks.service import collector
from stacks.service.loadbalancer import CONTAINER_PORT
from stacks.service.secrets import AppSecret, add_secrets, container_secrets
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
    metrics_log_group: Any = None  # the collector's EMF log group, when the collector runs


def _execution_role(
    template: Template, repository_arn: Any, group: Any, secrets: list[AppSecret]
) -> Any:
    """What ECS needs to start the task: pull the image, write logs, read its secrets."""
    # GetSecretValue on each declared secret alone; with none declared, no secret at all.
    read_secrets = (
        [iam.allow(["secretsmanager:GetSecretValue"], [Ref(s.resource) for s in secrets])]
        if secrets
        else []
    )
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
                *read_secrets,
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
        **collector.tracing_environment(settings, app_version),
    }
    return [ecs.Environment(Name=name, Value=value) for name, value in sorted(values.items())]


def _container(
    settings: Settings, image: Any, app_version: Any, group: Any, secrets: list[AppSecret]
) -> ecs.ContainerDefinition:
    # Explicit next to the collector: a container without CPU units gets 2 shares against the
    # sidecar's (stacks/service/collector.py).
    cpu = {"Cpu": collector.app_cpu(settings)} if settings.collector.enabled else {}
    return ecs.ContainerDefinition(
        Name=CONTAINER_NAME,
        Image=image,
        Essential=True,
        **cpu,
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
        Secrets=container_secrets(secrets),
        # SIGTERM -> readiness 503 for drain_seconds -> graceful stop -> margin -> SIGKILL.
        StopTimeout=settings.stop_timeout,
        HealthCheck=ecs.HealthCheck(
            Command=["CMD", "python", "-c", HEALTH_COMMAND],
            Interval=10,
            Timeout=5,
            Retries=3,
            StartPeriod=15,
        ),
        # Never block the app on a slow log pipeline; drop beyond a 25 MiB buffer.
        LogConfiguration=awslogs(group, CONTAINER_NAME, "25m"),
    )


def add_task(
    template: Template, settings: Settings, image: Any, app_version: Any, repository_arn: Any
) -> Task:
    """The task definition with its log group, secrets, execution role and (empty) task role."""
    group = log_group(template, "LogGroup", settings.log_retention_days, keep=settings.retain)
    secrets = add_secrets(template, settings)
    execution = _execution_role(template, repository_arn, group, secrets)
    # The app calls no AWS API: the task role holds only the collector's permissions (and ECS
    # Exec's, where it is on: stacks/service/exec.py), and is not the execution role.
    task_role = template.add_resource(iam.role("TaskRole", "ecs-tasks.amazonaws.com"))
    metrics_group = None
    containers = [_container(settings, image, app_version, group, secrets)]
    if settings.collector.enabled:
        metrics_group = collector.add_metrics_log_group(template, settings)
        task_role.Policies = [
            iam.inline_policy("CollectorPolicy", collector.task_role_statements(metrics_group))
        ]
        containers.append(collector.collector_container(settings, group, metrics_group))
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
            # The app first: it serves (stacks/service/exec.py adds its volumes to the first).
            ContainerDefinitions=containers,
        )
    )
    return Task(
        definition=definition, log_group=group, role=task_role, metrics_log_group=metrics_group
    )
