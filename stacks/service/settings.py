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

# ECS's range for every bake time: 0 to 1440 minutes (24 hours).
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

    percent: Annotated[float, Field(ge=0.1, le=100)] = Field(
        10.0,
        description="Share of production traffic the new version gets first, in percent; "
        "ECS's range 0.1-100. Default 10: enough requests for the deployment alarms to judge.",
    )
    bake_minutes: Minutes = Field(
        5,
        description="Minutes the canary serves its share before the rest shifts; ECS's range "
        "0-1440. Default 5, the deployment alarms' window.",
    )


class Linear(StrictModel):
    """LINEAR: shift ``step_percent`` at a time, baking ``step_bake_minutes`` between steps."""

    step_percent: Annotated[float, Field(ge=3, le=100)] = Field(
        25.0,
        description="Share of production traffic shifted at each step, in percent; ECS's range "
        "3-100. Default 25: four steps.",
    )
    step_bake_minutes: Minutes = Field(
        2,
        description="Minutes between two steps; ECS's range 0-1440. Default 2, so four steps "
        "take about 6 minutes before the bake time.",
    )


class Deployment(StrictModel):
    """ECS-native deployment strategy (no CodeDeploy)."""

    strategy: Literal["BLUE_GREEN", "CANARY", "LINEAR"] = Field(
        "BLUE_GREEN",
        description="How ECS shifts production traffic to the new version: `BLUE_GREEN` all at "
        "once (default), `CANARY` a share first (`canary`), `LINEAR` in steps (`linear`). All "
        "three are ECS's own; no CodeDeploy.",
    )
    bake_time_minutes: Minutes = Field(
        MIN_BAKE_TIME_MINUTES,
        description="Minutes the old version keeps running after the full shift, so an alarm can "
        "still roll back instantly (a rule switch, not a redeploy). At least "
        f"{MIN_BAKE_TIME_MINUTES}, the default: the deployment alarms' "
        f"{ALARM_EVALUATION_PERIODS} one-minute periods plus {METRIC_DELAY_MINUTES} minutes of "
        "metric delay, or a regression could surface after the old tasks are gone; at most "
        "1440 (ECS).",
    )
    canary: Canary | None = Field(
        None,
        description="The canary's share and wait; only with strategy `CANARY`, which uses the "
        "defaults when it is omitted.",
    )
    linear: Linear | None = Field(
        None,
        description="The step size and wait; only with strategy `LINEAR`, which uses the "
        "defaults when it is omitted.",
    )

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

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")] = Field(
        description="The scheduled action's name, unique within the service's schedules: "
        "letters, digits and `-`, at most 64 characters."
    )
    schedule: Annotated[str, Field(pattern=r"^(cron|rate|at)\(.+\)$")] = Field(
        description="When it applies: an Application Auto Scaling schedule expression, "
        "`cron(...)`, `rate(...)` or `at(...)`."
    )
    min_count: Annotated[int, Field(ge=0, le=100)] = Field(
        description="The fewest tasks from then on; 0-100 (0 with a `max_count` of 0 stops the "
        "service)."
    )
    max_count: Annotated[int, Field(ge=0, le=100)] = Field(
        description="The most tasks from then on; 0-100, not below `min_count`."
    )
    timezone: str = Field(
        "UTC",
        description="The IANA time zone a `cron` or `at` schedule is read in (e.g. "
        "`Europe/Stockholm`); UTC by default.",
    )


class Scaling(StrictModel):
    """Target tracking on CPU and on requests per target, within ``min_count..max_count``."""

    min_count: Annotated[int, Field(ge=1, le=100)] = Field(
        1,
        description="The fewest tasks. Autoscaling owns the count (the service sets no "
        "`DesiredCount`, so a deploy never resets a scaled-out service); at least 1, and 100 at "
        "most as a guard against a typo. One per AZ keeps a task through an AZ outage.",
    )
    max_count: Annotated[int, Field(ge=1, le=100)] = Field(
        4,
        description="The most tasks autoscaling may run: the cost ceiling. 1-100, not below "
        "`min_count`; default 4.",
    )
    cpu_target_percent: Annotated[float, Field(ge=10, le=90)] = Field(
        60.0,
        description="Average CPU utilisation of the tasks, in percent, that target tracking "
        "keeps: 10-90, default 60, leaving headroom for a burst while new tasks start.",
    )
    requests_per_target: Annotated[int, Field(ge=10, le=100000)] = Field(
        1000,
        description="Requests per task and minute the second target-tracking policy keeps, "
        "counted over both target groups so it follows whichever is live; default 1000.",
    )
    scheduled: list[ScheduledScaling] = Field(
        default_factory=list,
        description="Scheduled changes of the bounds, e.g. office hours in dev; none by default.",
    )

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

    error_rate_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        5.0,
        description="Target 5xx as a percentage of the new group's requests above which the "
        "deployment rolls back (2 of 3 minutes). A rate, so a 10 % canary is judged on its own "
        "traffic however little of it there is; default 5.",
    )
    min_requests_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        20,
        description="Below this many requests a minute the error rate does not judge: one 5xx "
        "of 3 requests is 33 % and says nothing. Default 20.",
    )
    p99_latency_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        1.5,
        description="p99 response time of the new group, in seconds, above which the deployment "
        "rolls back (2 of 3 minutes); default 1.5. At most 60, a guard against a "
        "value meant in milliseconds.",
    )


class Domain(StrictModel):
    """The service's DNS name in a Route 53 hosted zone of this account.

    The stack then creates the ACM certificate (validated through that zone) unless
    ``certificate_arn`` brings one, and the alias record pointing the name at the ALB.
    """

    name: Annotated[str, Field(pattern=DOMAIN_NAME, max_length=253)] = Field(
        description="The service's fully qualified DNS name, e.g. `api.example.com`: lowercase, "
        "no trailing dot, at most 253 characters (DNS's limit)."
    )
    hosted_zone_id: Annotated[str, Field(pattern=HOSTED_ZONE_ID)] = Field(
        description="The Route 53 hosted zone (in this account) that holds `name`: the "
        "certificate is validated and the alias record created there."
    )


class AccessLogs(StrictModel):
    """ALB access logs to an S3 bucket of this stack (SSE-S3, TLS only, expiring)."""

    retention_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        90,
        description="Days the access logs are kept before S3 expires them: 1-3650 (ten "
        "years), default 90.",
    )


class Waf(StrictModel):
    """A WAFv2 web ACL on the ALB: AWS managed rules plus a per-IP rate limit."""

    rate_limit_per_5_minutes: Annotated[int, Field(ge=10, le=2_000_000_000)] = Field(
        2000,
        description="Requests one IP address may send in 5 minutes before WAF blocks it; WAF's "
        "range 10-2,000,000,000; default 2000.",
    )


# A container environment variable's name as POSIX shells take it: letters, digits and `_`, not a
# digit first; uppercase by convention, and so that two names never map to one logical id.
ENV_VARIABLE_NAME = r"^[A-Z_][A-Z0-9_]{0,127}$"


class Secret(StrictModel):
    """A secret of the app: a Secrets Manager secret of the stack, the container's variable."""

    name: Annotated[str, Field(pattern=ENV_VARIABLE_NAME)] = Field(
        description="The container's environment variable that holds the secret, e.g. "
        "`DATABASE_PASSWORD`: uppercase letters, digits and `_`, not a digit first, at most 128 "
        "characters. The stack creates one Secrets Manager secret for it, readable only by the "
        "task's execution role; `invoke secret set --env E NAME` writes its value and rolls it out."
    )
    description: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="What the secret is for and who issues it (required, 1-500 characters): the "
        "secret's description in Secrets Manager, for whoever rotates it."
    )

    @property
    def key(self) -> str:
        """The name as logical ids take it (alphanumeric): ``API_TOKEN`` -> ``ApiToken``."""
        return "".join(part.capitalize() for part in self.name.split("_"))


class Exec(StrictModel):
    """ECS Exec (``invoke exec``): a shell or a command in a running task, through SSM."""

    enabled: bool = Field(
        False,
        description="Whether operators may open ECS Exec sessions in the service's tasks "
        "(`invoke exec`). On: the service enables execute command, the task role gets the SSM "
        "channel permissions, the SSM agent gets writable volumes on the read-only root, and "
        "every session is logged to a KMS-encrypted log group. Off by default; on in local and "
        "dev, off in prod (a shell in production is a break-glass act: turn it on by a deploy).",
    )


# The share of the task the collector sidecar may take at most (stacks/service/collector.py): the
# app keeps at least the rest, so a misbehaving collector can never starve it (copilot-cli #5900).
MAX_COLLECTOR_SHARE = 4
# The least of the task the collector gets at all: below this many CPU units or MiB the ADOT
# collector cannot run its receivers and exporters (its own Fargate example gives it far more).
MIN_COLLECTOR_CPU = 32
MIN_COLLECTOR_MEMORY_MIB = 64


class Tracing(StrictModel):
    """How many of the app's requests are traced (OpenTelemetry's standard sampler variables)."""

    sample_ratio: Annotated[float, Field(ge=0, le=1)] = Field(
        0.05,
        description="Share of the requests whose traces are kept, 0-1: the app's "
        "`OTEL_TRACES_SAMPLER_ARG` with the `parentbased_traceidratio` sampler (a request whose "
        "caller already decided keeps that decision). Default 0.05; 1.0 traces everything (local), "
        "X-Ray bills per trace recorded. Tracing needs the collector (`collector.enabled`).",
    )


class Collector(StrictModel):
    """The ADOT collector sidecar: the app's metrics to CloudWatch, its traces to X-Ray."""

    enabled: bool = Field(
        True,
        description="Run the ADOT collector next to the app: it scrapes the app's /metrics into "
        "CloudWatch (namespace `<project>/<environment>`) and sends the app's traces to X-Ray. "
        "Off: no sidecar, no tracing, no service metrics, no X-Ray or metric-log permissions. "
        "On by default.",
    )
    cpu: Annotated[int, Field(ge=MIN_COLLECTOR_CPU)] = Field(
        64,
        description="CPU units the collector is guaranteed when the task's CPU is contended "
        "(1024 = one vCPU; it may use idle CPU beyond them). The app gets the rest of the task's "
        f"`cpu` explicitly: at least {MIN_COLLECTOR_CPU}, at most a {MAX_COLLECTOR_SHARE}th of "
        "`cpu`. Default 64.",
    )
    memory_reservation_mib: Annotated[int, Field(ge=MIN_COLLECTOR_MEMORY_MIB)] = Field(
        64,
        description="MiB of the task's memory reserved for the collector (its "
        f"`memoryReservation`), at least {MIN_COLLECTOR_MEMORY_MIB} and at most "
        "`memory_limit_mib`. Default 64.",
    )
    memory_limit_mib: Annotated[int, Field(ge=MIN_COLLECTOR_MEMORY_MIB)] = Field(
        128,
        description="MiB the collector may never exceed (its hard `memory`: ECS stops it, not the "
        "app, and restarts it); its memory_limiter refuses data well before. At most a "
        f"{MAX_COLLECTOR_SHARE}th of the task's `memory`, so the app keeps the rest. Default 128.",
    )


class Settings(StackSettings):
    """What the service stack accepts in ``sceptre_user_data``."""

    # The task's size.
    cpu: FargateCpu = Field(
        256,
        description="Task CPU units (1024 = one vCPU), one of Fargate's sizes. Default 256, a "
        "quarter vCPU: gunicorn runs one worker per CPU it may use.",
    )
    memory: int = Field(
        512,
        description="Task memory in MiB; with `cpu`, one of Fargate's valid pairs (256 CPU: "
        "512, 1024 or 2048; the error lists the others). Default 512, the least for 256 CPU.",
    )
    cpu_architecture: Literal["X86_64", "ARM64"] = Field(
        "X86_64",
        description="The task's CPU architecture, which the image must be built for: `X86_64` "
        "(default) or `ARM64` (Graviton, cheaper per vCPU).",
    )
    # The app's environment (docs/ARCHITECTURE.md, "The service's environment").
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO",
        description="The app's `LOG_LEVEL`: the lowest level of the JSON log lines it writes. "
        "INFO by default.",
    )
    greeting: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        "Hello, world!",
        description="The text `GET /` answers (`GREETING`): 1-200 characters, the app's own "
        "limit, so a value the app would refuse at start never deploys.",
    )
    drain_seconds: Annotated[int, Field(ge=0, le=60)] = Field(
        5,
        description="Seconds the app keeps serving after SIGTERM while its readiness answers 503 "
        "(`DRAIN_SECONDS`), so requests the ALB already routed to it still succeed; 0-60, "
        "default 5 (without it gunicorn reset 32-47 connections per stop, measured).",
    )
    graceful_timeout_seconds: Annotated[int, Field(ge=1, le=110)] = Field(
        20,
        description="Seconds gunicorn's graceful stop then gives requests in progress "
        "(`GRACEFUL_TIMEOUT_SECONDS`); 1-110, default 20. Drain, graceful stop and "
        "`stop_margin_seconds` add up to the container's stopTimeout, which Fargate caps at "
        f"{MAX_STOP_TIMEOUT} s: the model refuses more.",
    )
    keepalive_seconds: Annotated[int, Field(ge=2, le=600)] = Field(
        75,
        description="Seconds gunicorn keeps an idle keep-alive connection open "
        "(`KEEPALIVE_SECONDS`). Must exceed `idle_timeout_seconds`: the ALB must close idle "
        "connections first, or it reuses one gunicorn just closed and answers 502. Default 75 "
        "(the ALB's 60 + 15); at least gunicorn's own default of 2.",
    )
    stop_margin_seconds: Annotated[int, Field(ge=1, le=30)] = Field(
        5,
        description="Seconds of slack between the end of the app's drain and graceful stop and "
        "ECS's SIGKILL, added to the container's stopTimeout; 1-30, default 5.",
    )
    log_retention_days: RetentionDays = Field(
        30,
        description="Days the app's log group keeps its lines; one of the values CloudWatch "
        "Logs accepts; default 30.",
    )
    # The load balancer.
    idle_timeout_seconds: Annotated[int, Field(ge=1, le=4000)] = Field(
        60,
        description="Seconds the ALB keeps an idle connection open; AWS's range 1-4000, default "
        "60 (AWS's own). `keepalive_seconds` must exceed it.",
    )
    deregistration_delay_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(
        30,
        description="Seconds the ALB lets requests in flight to a deregistering task finish "
        "before ECS stops it; AWS's range 0-3600. Default 30, not AWS's 300: requests here take "
        "well under a second, and 300 would add 4.5 minutes to every deploy and scale-in.",
    )
    health_check_grace_period_seconds: Annotated[int, Field(ge=0, le=2_147_483_647)] = Field(
        60,
        description="Seconds after a task starts during which ECS ignores its failed health "
        "checks: time for the app to start. Default 60; at most what ECS's API takes (a 32-bit "
        "integer).",
    )
    certificate_arn: Annotated[str, Field(pattern=CERTIFICATE_ARN)] | None = Field(
        None,
        description="An ACM certificate you bring (its ARN), which the ALB serves HTTPS with. "
        "Without it or `domain` the ALB serves plain HTTP.",
    )
    domain: Domain | None = Field(
        None,
        description="The service's DNS name: the stack creates its ACM certificate (unless "
        "`certificate_arn` brings one) and the alias record to the ALB. None by default.",
    )
    access_logs: AccessLogs | None = Field(
        None,
        description="ALB access logs to an encrypted, TLS-only bucket of this stack; none by "
        "default.",
    )
    test_listener_port: Annotated[int, Field(ge=1024, le=65535)] = Field(
        8080,
        description="Port of the test listener, which serves the new version before it takes "
        "production traffic: 1024-65535, never the production listener's 80 or 443. Default "
        "8080.",
    )
    test_ingress_cidrs: list[IPv4Network] = Field(
        default_factory=list,
        description="IPv4 ranges that may reach the test listener; none by default, so the new "
        "version is reachable only once it takes production traffic.",
    )
    container_insights: Literal["enabled", "enhanced"] = Field(
        "enabled",
        description="ECS Container Insights on the cluster: `enabled` (default) gives the task "
        "counts the monitoring stack's RunningBelowDesiredAlarm reads; `enhanced` adds per-task "
        "and per-container metrics, at a higher price.",
    )
    deployment: Deployment = Field(
        Deployment(),
        description="How ECS shifts traffic to a new version and how long the old one stays.",
    )
    scaling: Scaling = Field(
        Scaling(), description="The task count's bounds, targets and schedules."
    )
    alarms: Alarms = Field(
        Alarms(), description="The deployment alarms, either of which rolls a deployment back."
    )
    waf: Waf | None = Field(
        None,
        description="A WAFv2 web ACL on the ALB (AWS managed rules and a per-IP rate limit); "
        "none by default.",
    )
    secrets: list[Secret] = Field(
        default_factory=list,
        description="The app's secrets, each injected into the container as an environment "
        "variable from a Secrets Manager secret of this stack (kept on deletion when `retain`). A "
        "new secret starts with a random value the stack generates (64 letters and digits), so "
        "the task can start; the deploy names the secrets that still hold it. None by default.",
    )

    exec: Exec = Field(
        Exec(), description="ECS Exec into running tasks (`invoke exec`); off by default."
    )
    tracing: Tracing = Field(
        Tracing(), description="Which share of the requests the app traces (X-Ray)."
    )
    collector: Collector = Field(
        Collector(),
        description="The ADOT collector sidecar (metrics to CloudWatch, traces to X-Ray) and its "
        "share of the task.",
    )

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
        keys: dict[str, str] = {}
        for secret in self.secrets:
            other = keys.setdefault(secret.key, secret.name)
            if other != secret.name or sum(s.name == secret.name for s in self.secrets) > 1:
                raise ValueError(
                    f"secrets: {secret.name} is declared twice or maps to the same stack "
                    f"resource as {other}: give each secret one distinct name"
                )
        self._collector_fits()
        if self.keepalive_seconds <= self.idle_timeout_seconds:
            raise ValueError(
                f"keepalive_seconds={self.keepalive_seconds} must exceed idle_timeout_seconds="
                f"{self.idle_timeout_seconds}, or the ALB reuses closed connections (502s)"
            )
        return self

    def _collector_fits(self) -> None:
        """The collector's share leaves the app the rest of the task (copilot-cli #5900)."""
        collector = self.collector
        if not collector.enabled:
            return
        if collector.cpu * MAX_COLLECTOR_SHARE > self.cpu:
            raise ValueError(
                f"collector.cpu={collector.cpu} exceeds a {MAX_COLLECTOR_SHARE}th of the task's "
                f"cpu={self.cpu}: the app must keep the rest; lower collector.cpu or raise cpu"
            )
        if collector.memory_limit_mib * MAX_COLLECTOR_SHARE > self.memory:
            raise ValueError(
                f"collector.memory_limit_mib={collector.memory_limit_mib} exceeds a "
                f"{MAX_COLLECTOR_SHARE}th of the task's memory={self.memory}: the app must keep "
                "the rest; lower collector.memory_limit_mib or raise memory"
            )
        if collector.memory_reservation_mib > collector.memory_limit_mib:
            raise ValueError(
                f"collector.memory_reservation_mib={collector.memory_reservation_mib} exceeds "
                f"collector.memory_limit_mib={collector.memory_limit_mib}"
            )

    @property
    def https(self) -> bool:
        """Whether the ALB terminates TLS (a certificate brought or created for the domain)."""
        return self.certificate_arn is not None or self.domain is not None
