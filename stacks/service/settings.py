"""The service stack's settings: task size, drain timings, ALB and domain, deployment, alarms."""

from __future__ import annotations

from ipaddress import IPv4Network
from math import ceil
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from stacks.common.settings import RetentionDays, StackSettings, StrictModel

# Fargate's valid task sizes: CPU units -> memory MiB (AWS "Task CPU and memory" table).
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
FargateCpu = Literal[256, 512, 1024, 2048, 4096, 8192, 16384]

# Fargate caps a container's stopTimeout at 120 s.
MAX_STOP_TIMEOUT = 120

CERTIFICATE_ARN = (
    r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
# A fully qualified DNS name (RFC 1035 labels, lowercase), no trailing dot.
DOMAIN_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
HOSTED_ZONE_ID = r"^Z[A-Z0-9]{1,31}$"

Minutes = Annotated[int, Field(ge=0, le=1440)]

# The deployment alarms (stacks/service/deployment.py): DATAPOINTS of PERIODS one-minute periods
# must breach. ALB metrics reach CloudWatch a minute or two after the minute they describe, and
# the alarm evaluates after that, so a regression that starts as traffic shifts can alarm up to
# ~PERIODS + METRIC_DELAY minutes later. Bake time must cover that window, or the old tasks are
# gone (no instant rollback) before the alarm can fire.
ALARM_PERIOD_SECONDS = 60
ALARM_EVALUATION_PERIODS = 3
ALARM_DATAPOINTS = 2
METRIC_DELAY_MINUTES = 2
MIN_BAKE_TIME_MINUTES = (
    ceil(ALARM_EVALUATION_PERIODS * ALARM_PERIOD_SECONDS / 60) + METRIC_DELAY_MINUTES
)


class Canary(StrictModel):
    """CANARY: shift ``percent`` of traffic, bake, then shift the rest."""

    percent: Annotated[float, Field(ge=0.1, le=100)] = 10.0
    bake_minutes: Minutes = 5


class Linear(StrictModel):
    """LINEAR: shift ``step_percent`` at a time, baking ``step_bake_minutes`` between steps."""

    step_percent: Annotated[float, Field(ge=3, le=100)] = 25.0
    step_bake_minutes: Minutes = 2


class Deployment(StrictModel):
    """ECS-native deployment strategy (no CodeDeploy)."""

    strategy: Literal["BLUE_GREEN", "CANARY", "LINEAR"] = "BLUE_GREEN"
    # After full shift, keep blue this long so an alarm can still roll back instantly.
    bake_time_minutes: Minutes = MIN_BAKE_TIME_MINUTES
    canary: Canary | None = None
    linear: Linear | None = None

    @field_validator("bake_time_minutes")
    @classmethod
    def _covers_alarm_window(cls, value: int) -> int:
        if value < MIN_BAKE_TIME_MINUTES:
            raise ValueError(
                f"must be at least {MIN_BAKE_TIME_MINUTES} (the deployment alarms' "
                f"{ALARM_EVALUATION_PERIODS} one-minute periods + {METRIC_DELAY_MINUTES} min "
                "metric delay), or a regression can surface after bake ended"
            )
        return value

    @model_validator(mode="after")
    def _strategy_block(self) -> Self:
        if self.canary is not None and self.strategy != "CANARY":
            raise ValueError("canary: only with strategy CANARY")
        if self.linear is not None and self.strategy != "LINEAR":
            raise ValueError("linear: only with strategy LINEAR")
        return self


class ScheduledScaling(StrictModel):
    """A scheduled change of the scaling bounds (e.g. office hours in dev)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]
    schedule: Annotated[str, Field(pattern=r"^(cron|rate|at)\(.+\)$")]
    min_count: Annotated[int, Field(ge=0, le=100)]
    max_count: Annotated[int, Field(ge=0, le=100)]
    timezone: str = "UTC"


class Scaling(StrictModel):
    """Target tracking on CPU and on requests per target, within ``min_count..max_count``."""

    min_count: Annotated[int, Field(ge=1, le=100)] = 1
    max_count: Annotated[int, Field(ge=1, le=100)] = 4
    cpu_target_percent: Annotated[float, Field(ge=10, le=90)] = 60.0
    requests_per_target: Annotated[int, Field(ge=10, le=100000)] = 1000
    scheduled: list[ScheduledScaling] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_count > self.max_count:
            raise ValueError(f"min_count={self.min_count} exceeds max_count={self.max_count}")
        for action in self.scheduled:
            if action.min_count > action.max_count:
                raise ValueError(
                    f"scheduled {action.name}: min_count={action.min_count} exceeds "
                    f"max_count={action.max_count}"
                )
        return self


class Alarms(StrictModel):
    """Deployment alarms on the new version's target group: either one rolls a deployment back."""

    # Target 5xx as a share of the group's requests: a rate, so a 10 % canary is judged on its
    # own traffic however little of it there is.
    error_rate_percent: Annotated[float, Field(gt=0, le=100)] = 5.0
    # Below this many requests a minute the error rate does not judge (one 5xx of 3 requests is
    # 33 %, and says nothing).
    min_requests_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 20
    p99_latency_seconds: Annotated[float, Field(gt=0, le=60)] = 1.5


class Domain(StrictModel):
    """The service's DNS name in a Route 53 hosted zone of this account.

    The stack then creates the ACM certificate (validated through that zone) unless
    ``certificate_arn`` brings one, and the alias record pointing the name at the ALB.
    """

    name: Annotated[str, Field(pattern=DOMAIN_NAME, max_length=253)]
    hosted_zone_id: Annotated[str, Field(pattern=HOSTED_ZONE_ID)]


class AccessLogs(StrictModel):
    """ALB access logs to an S3 bucket of this stack (SSE-S3, TLS only, expiring)."""

    retention_days: Annotated[int, Field(ge=1, le=3650)] = 90


class Waf(StrictModel):
    """A WAFv2 web ACL on the ALB: AWS managed rules plus a per-IP rate limit."""

    rate_limit_per_5_minutes: Annotated[int, Field(ge=10, le=2_000_000_000)] = 2000


class Settings(StackSettings):
    """What the service stack accepts in ``sceptre_user_data``."""

    cpu: FargateCpu = 256
    memory: int = 512
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    # App environment (docs/ARCHITECTURE.md).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    greeting: Annotated[str, Field(min_length=1, max_length=200)] = "Hello, world!"
    drain_seconds: Annotated[int, Field(ge=0, le=60)] = 5
    graceful_timeout_seconds: Annotated[int, Field(ge=1, le=110)] = 20
    keepalive_seconds: Annotated[int, Field(ge=2, le=600)] = 75
    # Slack between the app's own drain and ECS's SIGKILL.
    stop_margin_seconds: Annotated[int, Field(ge=1, le=30)] = 5
    log_retention_days: RetentionDays = 30
    # Load balancer.
    idle_timeout_seconds: Annotated[int, Field(ge=1, le=4000)] = 60
    deregistration_delay_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    health_check_grace_period_seconds: Annotated[int, Field(ge=0, le=2_147_483_647)] = 60
    # HTTPS: a certificate you bring (certificate_arn), or one the stack creates for `domain`.
    certificate_arn: Annotated[str, Field(pattern=CERTIFICATE_ARN)] | None = None
    domain: Domain | None = None
    access_logs: AccessLogs | None = None
    test_listener_port: Annotated[int, Field(ge=1024, le=65535)] = 8080
    # Who may reach the test listener (the new version before it takes traffic); none by default.
    test_ingress_cidrs: list[IPv4Network] = Field(default_factory=list)
    container_insights: Literal["enabled", "enhanced"] = "enabled"
    deployment: Deployment = Deployment()
    scaling: Scaling = Scaling()
    alarms: Alarms = Alarms()
    waf: Waf | None = None

    @property
    def stop_timeout(self) -> int:
        """ECS stopTimeout: the app's drain, then gunicorn's graceful stop, then a margin."""
        return self.drain_seconds + self.graceful_timeout_seconds + self.stop_margin_seconds

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        valid = FARGATE_MEMORY[self.cpu]
        if self.memory not in valid:
            raise ValueError(
                f"cpu={self.cpu} memory={self.memory} is not a valid Fargate pair; valid memory "
                f"for {self.cpu} CPU: {', '.join(str(m) for m in valid)}"
            )
        if self.stop_timeout > MAX_STOP_TIMEOUT:
            raise ValueError(
                f"drain_seconds + graceful_timeout_seconds + stop_margin_seconds = "
                f"{self.stop_timeout} s exceeds Fargate's stopTimeout limit of "
                f"{MAX_STOP_TIMEOUT} s"
            )
        if self.keepalive_seconds <= self.idle_timeout_seconds:
            raise ValueError(
                f"keepalive_seconds={self.keepalive_seconds} must exceed idle_timeout_seconds="
                f"{self.idle_timeout_seconds}, or the ALB reuses closed connections (502s)"
            )
        return self

    @property
    def https(self) -> bool:
        """Whether the ALB terminates TLS (a certificate brought or created for the domain)."""
        return self.certificate_arn is not None or self.domain is not None
