"""The ADOT collector sidecar: its container, its log group for metrics, its permissions.

When ``collector.enabled`` (the default), the task runs the AWS Distro for OpenTelemetry
collector next to the app (configuration: stacks/service/collector_config.py). How it is kept
from hurting the app, the trap of https://github.com/aws/copilot-cli/issues/5900 (a tracing
sidecar with no limits took its service's CPU and memory):

- ``Essential: false`` and no ``dependsOn`` either way: a collector that crashes, cannot pull its
  image or never gets healthy leaves the app serving; ECS restarts it in place
  (``restartPolicy``, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-restart-policy.html).
  The price: at a task's stop both containers get SIGTERM together, so spans of requests served
  during the app's drain after the collector has flushed are lost.
- CPU: both containers get explicit CPU units, the collector ``collector.cpu`` and the app the
  rest of the task. A container without ``cpu`` gets 2 CPU shares, not a fair part, against a
  sidecar that declares some (ECS's ContainerDefinition ``cpu``: "Null, zero, and CPU values of 1
  are passed to Docker as 2 CPU shares",
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html). The
  units are shares, not caps: either may use what the other leaves idle; under contention they
  split the task's CPU in that ratio.
- Memory: a reservation and a hard limit (``memory``: ECS stops the container, not the task,
  at the limit), at most a quarter of the task (the settings model refuses more); the
  configuration's ``memory_limiter`` sheds data before that, and ``GOMEMLIMIT`` makes the Go
  runtime collect garbage harder as it nears the limit.
- Read-only root filesystem, non-root (the image's own ``aoc`` user, UID/GID 4317:
  aws-otel-collector cmd/awscollector/Dockerfile), no capabilities. The configured components
  write no files; in a container ADOT logs to stderr, not to its log file
  (pkg/logger/logger.go ``IsRunningInContainer``).

Network: the image comes from ECR Public (public.ecr.aws), which has no VPC endpoint: the tasks'
private subnets reach it through the network stack's NAT gateway, which is always there
(stacks/network.py); X-Ray and CloudWatch Logs are reached the same way (or through the logs
endpoint when ``vpc_endpoints`` is on). The task security group already lets HTTPS out to
anywhere and nothing in except the app's port from the ALB, so the collector's listeners
(4318, 13133, on 0.0.0.0 as the contract fixes) answer only inside the task.

Permissions (task role), exactly the calls the two exporters make:

- awsxray: ``xray:PutTraceSegments`` only (exporter/awsxrayexporter README: it "sends them
  directly to X-Ray using the PutTraceSegments API"; ``PutTelemetryRecords`` only with
  ``telemetry.enabled``, off here; ``GetSamplingRules``/``GetSamplingTargets`` are the X-Ray
  proxy's, for SDKs that sample remotely, and the app samples by ratio). X-Ray's actions have no
  resource type, so ``Resource: "*"`` (Service Authorization Reference, AWS X-Ray:
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html).
- awsemf: ``logs:PutLogEvents``, and ``logs:CreateLogStream`` when its stream does not exist yet
  (internal/aws/cwlogs/cwlog_client.go ``PutLogEvents``/``CreateStream``), on the metrics log
  group alone. Not ``CreateLogGroup`` (or ``PutRetentionPolicy``): it is called only if the
  group is missing, and this stack creates it with the environment's retention; a collector
  that could create it would leave an unmanaged group without retention behind a stack
  deletion. Not ``DescribeLogStreams``: no longer called since PutLogEvents ignores sequence
  tokens.
"""

from __future__ import annotations

from typing import Any

from awacs.aws import Statement
from troposphere import Ref, Sub, Template, ecs, logs

from stacks.common import iam
from stacks.common.logs import awslogs, log_group
from stacks.service.collector_config import collector_config, render
from stacks.service.settings import Settings

CONTAINER_NAME = "otel-collector"
# Pinned: a new collector is a reviewed change of this line (ECS then resolves the tag to its
# digest for every deployment: the task definition's default versionConsistency).
IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0"
# The image's own non-root user "aoc" (aws-otel-collector cmd/awscollector/Dockerfile).
RUN_AS = "4317:4317"
CONFIG_VARIABLE = "AOT_CONFIG_CONTENT"
# The image's health probe: it asks the health_check extension (aws-otel.github.io/docs/setup/ecs,
# and the ADOT Fargate sidecar template's HealthCheck).
HEALTH_COMMAND = ["CMD", "/healthcheck"]
METRICS_LOG_GROUP_ID = "MetricsLogGroup"
# The Go runtime's soft memory limit, as a share of the container's hard one.
GO_MEMORY_SHARE = 0.8

# What the app is told (OpenTelemetry's standard SDK variables; the contract with app/).
OTLP_ENDPOINT = "http://localhost:4318"
SAMPLER = "parentbased_traceidratio"
# The app traces; it exports no metrics (the collector scrapes /metrics) and no logs over OTLP.
NO_OTLP_SIGNALS = {"OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}

XRAY_ACTIONS = ("xray:PutTraceSegments",)
EMF_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


def app_cpu(settings: Settings) -> int:
    """The app container's CPU units: the task's, less the collector's when it runs."""
    return settings.cpu - (settings.collector.cpu if settings.collector.enabled else 0)


def tracing_environment(settings: Settings, app_version: Any) -> dict[str, Any]:
    """The app's OpenTelemetry variables: tracing on towards the sidecar, or nothing at all."""
    if not settings.collector.enabled:
        return {}
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_ENDPOINT,
        # What the collector's otlp receiver speaks on 4318 (the SDK's default may be gRPC).
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": settings.project,
        "OTEL_RESOURCE_ATTRIBUTES": Sub(
            f"deployment.environment={settings.environment},service.version=${{AppVersion}}",
            AppVersion=app_version,
        ),
        "OTEL_TRACES_SAMPLER": SAMPLER,
        "OTEL_TRACES_SAMPLER_ARG": str(settings.tracing.sample_ratio),
        **NO_OTLP_SIGNALS,
    }


def add_metrics_log_group(template: Template, settings: Settings) -> logs.LogGroup:
    """The log group awsemf writes the metrics' EMF events to, with the environment's retention."""
    return log_group(
        template, METRICS_LOG_GROUP_ID, settings.log_retention_days, keep=settings.retain
    )


def _log_group_arn(group: Any) -> Sub:
    return Sub(
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Group}:*",
        Group=Ref(group),
    )


def task_role_statements(metrics_group: Any) -> list[Statement]:
    """Exactly what the collector's exporters call (module docstring)."""
    return [
        iam.allow(list(XRAY_ACTIONS), ["*"]),
        iam.allow(list(EMF_LOG_ACTIONS), [_log_group_arn(metrics_group)]),
    ]


def collector_container(
    settings: Settings, app_log_group: Any, metrics_group: Any
) -> ecs.ContainerDefinition:
    """The ``otel-collector`` container, configured through ``AOT_CONFIG_CONTENT``."""
    collector = settings.collector
    config = Sub(
        render(collector_config(settings)),
        MetricsLogGroup=Ref(metrics_group),
        AppLogGroup=Ref(app_log_group),
    )
    environment = {
        CONFIG_VARIABLE: config,
        "GOMEMLIMIT": f"{int(collector.memory_limit_mib * GO_MEMORY_SHARE)}MiB",
    }
    return ecs.ContainerDefinition(
        Name=CONTAINER_NAME,
        Image=IMAGE,
        Essential=False,
        User=RUN_AS,
        ReadonlyRootFilesystem=True,
        Cpu=collector.cpu,
        MemoryReservation=collector.memory_reservation_mib,
        Memory=collector.memory_limit_mib,
        LinuxParameters=ecs.LinuxParameters(Capabilities=ecs.KernelCapabilities(Drop=["ALL"])),
        Environment=[ecs.Environment(Name=k, Value=v) for k, v in sorted(environment.items())],
        HealthCheck=ecs.HealthCheck(
            Command=HEALTH_COMMAND, Interval=10, Timeout=5, Retries=3, StartPeriod=10
        ),
        RestartPolicy=ecs.RestartPolicy(Enabled=True, RestartAttemptPeriod=60),
        LogConfiguration=awslogs(app_log_group, CONTAINER_NAME, "4m"),
    )
