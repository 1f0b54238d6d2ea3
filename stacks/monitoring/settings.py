"""The monitoring stack's settings: who is told, SLO, thresholds."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from stacks.common.settings import Email, Percent, StackSettings


class Settings(StackSettings):
    """What the monitoring stack accepts in ``sceptre_user_data``."""

    alarm_email: Email | None = None
    # Availability SLO over 30 days: 0.999 leaves an error budget of 0.1 % of requests.
    availability_slo: Annotated[float, Field(ge=0.9, le=0.9999)] = 0.999
    elb_5xx_per_minute: Annotated[int, Field(ge=1)] = 5
    target_5xx_per_minute: Annotated[int, Field(ge=1)] = 5
    p99_latency_seconds: Annotated[float, Field(gt=0, le=60)] = 1.5
    cpu_percent: Percent = 80.0
    memory_percent: Percent = 80.0
    error_log_lines_per_5_minutes: Annotated[int, Field(ge=1)] = 10
