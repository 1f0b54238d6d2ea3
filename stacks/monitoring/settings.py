"""The monitoring stack's settings: who is told, SLO, thresholds."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from stacks.common.settings import Email, Percent, StackSettings


class Settings(StackSettings):
    """What the monitoring stack accepts in ``sceptre_user_data``."""

    alarm_email: Email | None = Field(
        None,
        description="The address subscribed to the alarm topic (AWS mails a confirmation "
        "first); none by default: the topic has no subscriber.",
    )
    availability_slo: Annotated[float, Field(ge=0.9, le=0.9999)] = Field(
        0.999,
        description="Availability objective over 30 days, as the fraction of requests that must "
        "not fail: 0.999 (default) leaves an error budget of 0.1 %. The burn-rate alarms page "
        "when that budget burns 14.4x (1 h) or 6x (6 h) too fast. 0.9-0.9999.",
    )
    elb_5xx_per_minute: Annotated[int, Field(ge=1)] = Field(
        5,
        description="5xx answered by the ALB itself (no healthy target, timeouts) per minute "
        "above which LoadBalancer5xxAlarm fires, 3 minutes in a row; default 5.",
    )
    target_5xx_per_minute: Annotated[int, Field(ge=1)] = Field(
        5,
        description="5xx answered by the app per minute above which Target5xxAlarm fires, 3 "
        "minutes in a row; default 5.",
    )
    p99_latency_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        1.5,
        description="p99 response time of the app behind the ALB, in seconds, above which "
        "LatencyP99Alarm fires, 3 minutes in a row; default 1.5. At most 60, a guard "
        "against a value meant in milliseconds.",
    )
    cpu_percent: Percent = Field(
        80.0,
        description="CPU utilisation of the service, in percent (the Average over its tasks, "
        "which does not grow with the task count as a Sum would), above which CpuAlarm fires, 5 "
        "minutes in a row; default 80.",
    )
    memory_percent: Percent = Field(
        80.0,
        description="Memory utilisation of the service, in percent (the Average over its "
        "tasks), above which MemoryAlarm fires, 5 minutes in a row; default 80.",
    )
    error_log_lines_per_5_minutes: Annotated[int, Field(ge=1)] = Field(
        10,
        description="ERROR-level JSON log lines per 5 minutes above which ErrorLogAlarm fires; "
        "default 10.",
    )
