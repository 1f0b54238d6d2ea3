"""The SLO: the deploy gate on the burn-rate alarms, and the error budget left.

The gate: a deploy to an environment marked ``slo_gate`` (prod by default,
``delivery.environments``) is refused while any of its burn-rate alarms (the monitoring stack's
composites, ``stacks.monitoring.alarms.BURN_RATE_ALARMS``) is in ALARM: the error budget burns
too fast to add risk. ``--force`` deploys anyway and the output says so in a WARNING line.
Rollback is NOT gated: an incident rollback must not be blocked by the very alarms the incident
set (``delivery.rollback``). The pipeline's prod stage runs ``invoke deploy --env prod``, so it is
gated too.

The budget: the SLO is the monitoring stack's ``availability_slo`` setting, read offline from
``config/<env>/monitoring.yaml`` (the stack's own default when it sets none); errors and requests
are the burn-rate alarms' metrics (``ERROR_RATIO_METRICS``: Target 5xx + ELB 5xx over RequestCount
+ ELB 5xx) summed over the SLO's 30 days with GetMetricData. Budget left = 1 - error ratio /
(1 - SLO).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from delivery import alarms, aws_errors, sceptre_yaml
from delivery.alarms import AlarmState
from delivery.environments import Environment
from delivery.errors import DeliveryError

log = logging.getLogger(__name__)
ALB_NAMESPACE = "AWS/ApplicationELB"
# A day: a multiple of 300 s, as GetMetricData needs for data older than 15 days, and few enough
# datapoints (30 per metric) for one call
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html).
PERIOD_S = 86400


@dataclass(frozen=True)
class Gate:
    """The SLO gate's verdict for one environment."""

    env: str
    gated: bool
    alarms: list[AlarmState] = field(default_factory=list)  # the burn-rate alarms read
    error: str = ""  # why they could not be read

    @property
    def alarming(self) -> list[AlarmState]:
        """The burn-rate alarms in ALARM."""
        return alarms.in_alarm(self.alarms)

    @property
    def names(self) -> str:
        """The alarming alarms' logical ids and names, for one line."""
        return ", ".join(f"{a.logical_id} ({a.name})" for a in self.alarming)

    def line(self) -> str:
        """The verdict in one line (``invoke check``)."""
        if not self.gated:
            return f"slo gate: off for {self.env} (slo_gate in config/{self.env}/config.yaml)"
        if self.error:
            return f"slo gate: CLOSED, the burn-rate alarms could not be read: {self.error}"
        if self.alarming:
            return f"slo gate: CLOSED, in ALARM: {self.names}"
        if not self.alarms:
            return f"slo gate: open (no burn-rate alarms found in the {self.env} monitoring stack)"
        return f"slo gate: open ({', '.join(f'{a.logical_id} {a.state}' for a in self.alarms)})"


def read_gate(env: Environment) -> Gate:
    """The gate's verdict for ``env``: its burn-rate alarms read when it is gated."""
    if not env.slo_gate:
        return Gate(env.name, gated=False)
    try:
        return Gate(env.name, gated=True, alarms=alarms.burn_rate(env))
    except DeliveryError as exc:
        return Gate(env.name, gated=True, error=str(exc))


def enforce(env: Environment, force: bool) -> Gate:
    """Refuse (one line) while ``env``'s gate is closed, unless ``force``; the verdict.

    Only reads AWS. With ``force`` a closed gate is logged as a WARNING and the deploy goes on.
    """
    gate = read_gate(env)
    if gate.error and not force:
        raise DeliveryError(
            f"the SLO gate of {env.name} could not read its burn-rate alarms ({gate.error}); "
            "pass --force to deploy without it"
        )
    if gate.alarming and not force:
        raise DeliveryError(
            f"the SLO gate of {env.name} refuses: {gate.names} in ALARM, the error budget burns "
            "too fast; fix or wait, roll back (never gated), or pass --force"
        )
    if warning := forced_warning(gate):
        log.info(warning)
    return gate


def forced_warning(gate: Gate) -> str | None:
    """The WARNING line of a deploy forced past a closed gate (None when it was open)."""
    if gate.alarming:
        return f"WARNING: the SLO gate of {gate.env} was forced (--force): {gate.names} in ALARM"
    if gate.error:
        return f"WARNING: the SLO gate of {gate.env} was forced unread (--force): {gate.error}"
    return None


# --- the error budget ------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """The error budget over the SLO's window: the SLO, failed and total requests."""

    slo: float
    errors: float
    requests: float  # RequestCount + ELB 5xx: every request the ALB answered
    days: int

    @property
    def left(self) -> float | None:
        """The fraction of the budget left (negative: overspent); None without requests."""
        if self.requests <= 0:
            return None
        return 1 - (self.errors / self.requests) / (1 - self.slo)

    def line(self) -> str:
        """The budget in one line."""
        target = f"SLO {self.slo:.2%} over {self.days} days"
        if self.left is None:
            return f"error budget: no requests measured ({target})"
        return (
            f"error budget left: {self.left:.1%} ({target}: {self.errors:.0f} failed of "
            f"{self.requests:.0f} requests)"
        )


def availability_slo(env: Environment) -> float:
    """The env's ``availability_slo`` (config/<env>/monitoring.yaml, else the stack's default)."""
    from stacks.monitoring.settings import Settings  # noqa: PLC0415 - the stacks group

    path = env.config_dir / f"{alarms.MONITORING_STACK}.yaml"
    data = sceptre_yaml.read(path) if path.is_file() else {}
    user_data = (data.get("sceptre_user_data") or {}) if isinstance(data, dict) else {}
    value = user_data.get("availability_slo") if isinstance(user_data, dict) else None
    if value is None:
        return float(Settings.model_fields["availability_slo"].default)
    try:
        slo = float(value)
    except (TypeError, ValueError) as exc:
        raise DeliveryError(f"{path}: availability_slo must be a number, not {value!r}") from exc
    if not 0 < slo < 1:
        raise DeliveryError(f"{path}: availability_slo must be between 0 and 1, not {slo}")
    return slo


def _query(index: int, metric: str, load_balancer: str) -> dict[str, Any]:
    dimensions = [{"Name": "LoadBalancer", "Value": load_balancer}]
    return {
        "Id": f"m{index}",
        "MetricStat": {
            "Metric": {"Namespace": ALB_NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
            "Period": PERIOD_S,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }


def sums(load_balancer: str, region: str, *, end: dt.datetime, days: int) -> dict[str, float]:
    """Each error-ratio metric's Sum over ``days`` up to ``end``, by metric name."""
    from stacks.monitoring.alarms import ERROR_RATIO_METRICS  # noqa: PLC0415 - the stacks group

    queries = [_query(i, m, load_balancer) for i, m in enumerate(ERROR_RATIO_METRICS)]
    totals = dict.fromkeys(ERROR_RATIO_METRICS, 0.0)
    by_id = {q["Id"]: m for q, m in zip(queries, ERROR_RATIO_METRICS, strict=True)}
    try:
        pages = alarms.client(region).get_paginator("get_metric_data")
        for page in pages.paginate(
            MetricDataQueries=queries,  # type: ignore[arg-type]
            StartTime=end - dt.timedelta(days=days),
            EndTime=end,
        ):
            for result in page.get("MetricDataResults", []):
                totals[by_id[result["Id"]]] += sum(result.get("Values", []))
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        raise DeliveryError(
            f"reading the load balancer's metrics failed: {aws_errors.reason(exc)}"
        ) from exc
    return totals


def budget(env: Environment, load_balancer: str, region: str, end: dt.datetime) -> Budget:
    """The error budget of ``env`` over the SLO window up to ``end``; one line on failure."""
    from stacks.monitoring.alarms import (  # noqa: PLC0415 - the stacks group
        ERROR_RATIO_METRICS,
        SLO_WINDOW_DAYS,
    )

    slo = availability_slo(env)
    totals = sums(load_balancer, region, end=end, days=SLO_WINDOW_DAYS)
    target_5xx, elb_5xx, requests = (totals[metric] for metric in ERROR_RATIO_METRICS)
    # As the alarms' ERROR_RATIO: the ALB's own 5xx are requests too (RequestCount omits them).
    return Budget(
        slo=slo, errors=target_5xx + elb_5xx, requests=requests + elb_5xx, days=SLO_WINDOW_DAYS
    )
