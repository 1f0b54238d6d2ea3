"""The SLO gate's verdicts and the error budget, without AWS (alarms and metrics stubbed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from delivery import alarms, environments, slo
from delivery.alarms import AlarmState
from delivery.errors import DeliveryError
from stacks.monitoring.settings import Settings
from tests.support.logs import progress_lines
from tests.support.project import make_project

FAST = AlarmState("prod-fast", "FastBurnRateAlarm", "m", "ALARM", "burning")
SLOW = AlarmState("prod-slow", "SlowBurnRateAlarm", "m", "OK")
END = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
LB = "app/flask-fargate-prod/0123456789abcdef"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def burning(monkeypatch: pytest.MonkeyPatch, *found: AlarmState) -> list[str]:
    """The burn-rate alarms read as ``found``; the envs whose alarms were read."""
    read: list[str] = []

    def burn_rate(env: environments.Environment) -> list[AlarmState]:
        read.append(env.name)
        return list(found)

    monkeypatch.setattr(alarms, "burn_rate", burn_rate)
    return read


def test_only_prod_is_gated_by_default_and_config_decides(project: Path) -> None:
    assert [environments.load(n, project).slo_gate for n in ("local", "dev", "prod")] == [
        False,
        False,
        True,
    ]
    (project / "config" / "dev" / "config.yaml").write_text("slo_gate: true\n")
    assert environments.load("dev", project).slo_gate
    (project / "config" / "dev" / "config.yaml").write_text("slo_gate: maybe\n")
    with pytest.raises(DeliveryError, match=r"'slo_gate' must be true or false, not 'maybe'"):
        environments.load("dev", project)


def test_a_closed_gate_refuses_in_one_line_naming_the_alarms(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    burning(monkeypatch, FAST, SLOW)
    with pytest.raises(DeliveryError) as info:
        slo.enforce(environments.load("prod", project), force=False)
    assert str(info.value) == (
        "the SLO gate of prod refuses: FastBurnRateAlarm (prod-fast) in ALARM, the error budget "
        "burns too fast; fix or wait, roll back (never gated), or pass --force"
    )


def test_force_passes_a_closed_gate_and_says_so(
    project: Path, monkeypatch: pytest.MonkeyPatch, delivery_log: pytest.LogCaptureFixture
) -> None:
    burning(monkeypatch, FAST, SLOW)
    gate = slo.enforce(environments.load("prod", project), force=True)
    warning = (
        "WARNING: the SLO gate of prod was forced (--force): FastBurnRateAlarm (prod-fast) in ALARM"
    )
    assert slo.forced_warning(gate) == warning
    assert progress_lines(delivery_log) == [warning]
    assert gate.line() == "slo gate: CLOSED, in ALARM: FastBurnRateAlarm (prod-fast)"


def test_an_open_gate_passes_quietly(
    project: Path, monkeypatch: pytest.MonkeyPatch, delivery_log: pytest.LogCaptureFixture
) -> None:
    burning(monkeypatch, SLOW)
    gate = slo.enforce(environments.load("prod", project), force=False)
    assert gate.line() == "slo gate: open (SlowBurnRateAlarm OK)"
    assert slo.forced_warning(gate) is None
    assert progress_lines(delivery_log) == []
    burning(monkeypatch)
    assert slo.read_gate(environments.load("prod", project)).line() == (
        "slo gate: open (no burn-rate alarms found in the prod monitoring stack)"
    )


def test_an_ungated_env_reads_no_alarm(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read = burning(monkeypatch, FAST)
    gate = slo.enforce(environments.load("dev", project), force=False)
    assert read == []
    assert gate.line() == "slo gate: off for dev (slo_gate in config/dev/config.yaml)"


def test_unreadable_alarms_close_the_gate_unless_forced(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(env: environments.Environment) -> list[AlarmState]:
        raise DeliveryError("reading the alarms of stack m failed (AccessDenied: no)")

    monkeypatch.setattr(alarms, "burn_rate", refused)
    prod = environments.load("prod", project)
    with pytest.raises(DeliveryError, match=r"could not read its burn-rate alarms .*AccessDenied"):
        slo.enforce(prod, force=False)
    gate = slo.enforce(prod, force=True)
    assert slo.forced_warning(gate) == (
        "WARNING: the SLO gate of prod was forced unread (--force): reading the alarms of stack "
        "m failed (AccessDenied: no)"
    )


# --- the error budget --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errors", "requests", "left"),
    [(5, 10_000, 0.5), (0, 10_000, 1.0), (20, 10_000, -1.0), (10, 10_000, 0.0)],
)
def test_budget_left_is_one_minus_the_error_ratio_over_the_budget(
    errors: float, requests: float, left: float
) -> None:
    budget = slo.Budget(slo=0.999, errors=errors, requests=requests, days=30)
    assert budget.left == pytest.approx(left)


def test_budget_lines() -> None:
    assert slo.Budget(0.999, 5, 10_000, 30).line() == (
        "error budget left: 50.0% (SLO 99.90% over 30 days: 5 failed of 10000 requests)"
    )
    assert slo.Budget(0.995, 0, 0, 30).line() == (
        "error budget: no requests measured (SLO 99.50% over 30 days)"
    )


def test_the_slo_is_the_monitoring_stacks_setting(project: Path) -> None:
    prod = environments.load("prod", project)
    assert slo.availability_slo(prod) == Settings.model_fields["availability_slo"].default
    path = project / "config" / "prod" / "monitoring.yaml"
    path.write_text("sceptre_user_data:\n  availability_slo: 0.995\n")
    assert slo.availability_slo(prod) == 0.995
    path.write_text("sceptre_user_data:\n  availability_slo: high\n")
    with pytest.raises(DeliveryError, match=r"availability_slo must be a number, not 'high'"):
        slo.availability_slo(prod)


def test_the_repositorys_prod_slo_is_read() -> None:
    """The real config's prod SLO, read offline."""
    real = environments.load("prod")
    assert slo.availability_slo(real) == 0.999


def cloudwatch() -> Any:
    """A real boto3 client (for Stubber) that can never reach AWS."""
    session = boto3.Session(
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )
    return session.client("cloudwatch")


def query(index: int, metric: str) -> dict[str, Any]:
    return {
        "Id": f"m{index}",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/ApplicationELB",
                "MetricName": metric,
                "Dimensions": [{"Name": "LoadBalancer", "Value": LB}],
            },
            "Period": 86400,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }


def test_budget_sums_the_burn_rate_alarms_metrics_over_30_days(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = cloudwatch()
    monkeypatch.setattr(alarms, "client", lambda region: client)
    metrics = ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "RequestCount")
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "m0", "Values": [3.0, 1.0]},
                    {"Id": "m1", "Values": [1.0]},
                    {"Id": "m2", "Values": [6000.0, 3999.0]},
                ]
            },
            {
                "MetricDataQueries": [query(i, m) for i, m in enumerate(metrics)],
                "StartTime": END - dt.timedelta(days=30),
                "EndTime": END,
            },
        )
        budget = slo.budget(environments.load("prod", project), LB, "eu-north-1", END)
    # The ALB's own 5xx are failed requests RequestCount does not count: in both sums.
    assert (budget.errors, budget.requests) == (5.0, 10_000.0)
    assert budget.left == pytest.approx(0.5)


def test_unreadable_metrics_are_one_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = cloudwatch()
    monkeypatch.setattr(alarms, "client", lambda region: client)
    with Stubber(client) as stub:
        stub.add_client_error("get_metric_data", "AccessDenied", "no")
        with pytest.raises(DeliveryError, match=r"^reading the load balancer's metrics failed"):
            slo.budget(environments.load("prod", project), LB, "eu-north-1", END)
