"""Bad settings fail at render time, before any AWS call, as one line: stack, key, accepted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from delivery.project import NAME as PROJECT
from delivery.render import render
from stacks.common.errors import SettingsError
from templates import budget, monitoring, network, pipeline, registry, service
from tests.support.paths import ROOT

CASES: list[tuple[Any, dict[str, Any], str]] = [
    (service, {"colour": "blue"}, "service: unknown key 'colour' (accepted: "),
    (service, {"cpu": "lots"}, "service: cpu='lots': Input should be 256, 512, 1024"),
    (
        service,
        {"cpu": 256, "memory": 4096},
        "service: cpu=256 memory=4096 is not a valid Fargate pair; valid memory for 256 CPU: "
        "512, 1024, 2048",
    ),
    (service, {"desired_count": 2}, "service: unknown key 'desired_count' (accepted: "),
    (
        service,
        {"domain": {"name": "api.example.com"}},
        "service: domain.hosted_zone_id is required",
    ),
    (
        service,
        {"domain": {"name": "API example", "hosted_zone_id": "Z0123"}},
        "service: domain.name='API example': String should match pattern",
    ),
    (
        service,
        {"alarms": {"error_rate_percent": 0}},
        "service: alarms.error_rate_percent=0: Input should be greater than 0",
    ),
    (
        service,
        {"alarms": {"min_requests_per_minute": 0}},
        "service: alarms.min_requests_per_minute=0: Input should be greater than or equal to 1",
    ),
    (
        service,
        {"access_logs_bucket": "my-logs"},
        "service: unknown key 'access_logs_bucket' (accepted: access_logs, ",
    ),
    (service, {"certificate_arn": "arn:aws:acm:x"}, "service: certificate_arn='arn:aws:acm:x': "),
    (
        service,
        {"drain_seconds": 60, "graceful_timeout_seconds": 60},
        "stop_margin_seconds = 125 s exceeds Fargate's stopTimeout limit of 120 s",
    ),
    (
        service,
        {"deployment": {"strategy": "CANARY", "canary": {"percent": 150}}},
        "service: deployment.canary.percent=150: Input should be less than or equal to 100",
    ),
    (
        service,
        {"deployment": {"bake_time_minutes": -1}},
        "service: deployment.bake_time_minutes=-1: Input should be greater than or equal to 0",
    ),
    (
        service,
        {"deployment": {"bake_time_minutes": 2}},
        "service: deployment.bake_time_minutes=2: must be at least 5 (the deployment alarms' 3 "
        "one-minute periods + 2 min metric delay)",
    ),
    (
        service,
        {"deployment": {"strategy": "ROLLING"}},
        "service: deployment.strategy='ROLLING': Input should be 'BLUE_GREEN', 'CANARY' or",
    ),
    (
        service,
        {"keepalive_seconds": 30},
        "service: keepalive_seconds=30 must exceed idle_timeout_seconds=60",
    ),
    # The collector sidecar may never take more than a quarter of the task (copilot-cli #5900).
    (
        service,
        {"collector": {"cpu": 128}},
        "collector.cpu=128 exceeds a 4th of the task's cpu=256: the app must keep the rest",
    ),
    (
        service,
        {"collector": {"memory_limit_mib": 256}},
        "collector.memory_limit_mib=256 exceeds a 4th of the task's memory=512",
    ),
    (
        service,
        {"collector": {"memory_reservation_mib": 100, "memory_limit_mib": 80}},
        "collector.memory_reservation_mib=100 exceeds collector.memory_limit_mib=80",
    ),
    (
        service,
        {"collector": {"cpu": 16}},
        "service: collector.cpu=16: Input should be greater than or equal to 32",
    ),
    (
        service,
        {"tracing": {"sample_ratio": 1.5}},
        "service: tracing.sample_ratio=1.5: Input should be less than or equal to 1",
    ),
    (network, {"vpc_cidr": "10.0.0.300/16"}, "network: vpc_cidr='10.0.0.300/16': "),
    (
        network,
        {"vpc_cidr": "10.0.0.0/8"},
        "network: vpc_cidr='10.0.0.0/8': prefix must be /16../24",
    ),
    (network, {"az_count": 4}, "network: az_count=4: Input should be less than or equal to 3"),
    (network, {"az_count": 1}, "network: az_count=1: Input should be greater than or equal to 2"),
    (
        network,
        {"nat_gateways": "none"},
        "network: nat_gateways='none': Input should be 'per_az' or",
    ),
    (registry, {"encryption": "ROT13"}, "registry: encryption='ROT13': Input should be 'KMS' or"),
    (registry, {"untagged_expiry_days": 0}, "registry: untagged_expiry_days=0: Input should be"),
    (monitoring, {"availability_slo": 1.5}, "monitoring: availability_slo=1.5: Input should be"),
    (monitoring, {"alarm_email": "not-an-email"}, "monitoring: alarm_email='not-an-email': "),
    (
        monitoring,
        {"monthly_budget_usd": 10},
        "monitoring: unknown key 'monthly_budget_usd' (accepted: ",
    ),
    (budget, {"monthly_budget_usd": 0}, "budget: monthly_budget_usd=0: Input should be greater"),
    (budget, {"alert_email": "nobody"}, "budget: alert_email='nobody': String should match"),
    (budget, {"budget_alert_percent": 120}, "budget: budget_alert_percent=120: Input should be"),
    (pipeline, {}, "pipeline: repository is required"),
]


@pytest.mark.parametrize(("handler", "settings", "expected"), CASES)
def test_bad_settings_are_one_line_naming_stack_and_key(
    handler: Any, settings: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        handler.sceptre_handler({"project": PROJECT, "environment": "dev", **settings})
    message = str(caught.value)
    assert "\n" not in message
    assert expected in message


def _broken_config(tmp_path: Path, stack: str, change: dict[str, Any]) -> Path:
    """A copy of config/ whose dev ``stack`` has ``change`` merged into its user data."""
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    path = config / "dev" / f"{stack}.yaml"
    text = path.read_text()
    addition = yaml.safe_dump({"sceptre_user_data": change}).split("\n", 1)[1]
    path.write_text(text + addition)
    return config


@pytest.mark.parametrize(
    ("stack", "change", "expected"),
    [
        ("service", {"memory": 4096}, "dev/service.yaml: service: cpu=256 memory=4096"),
        ("network", {"az_count": 5}, "dev/network.yaml: network: az_count=5"),
        ("service", {"tpyo": 1}, "dev/service.yaml: service: unknown key 'tpyo'"),
        (
            "service",
            {"deployment": {"bake_time_minutes": 2}},
            "dev/service.yaml: service: deployment.bake_time_minutes=2: must be at least 5",
        ),
    ],
)
def test_render_cli_exits_2_with_one_line(
    tmp_path: Path, stack: str, change: dict[str, Any], expected: str
) -> None:
    config = _broken_config(tmp_path, stack, change)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "delivery.render",
            "--out",
            str(tmp_path / "out"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert expected in lines[0]


def test_unresolved_resolver_in_user_data_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    path = config / "dev" / "registry.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        "template: {type: file, path: registry.py}\n"
        "sceptre_user_data:\n  environment: !stack_output dev/network.yaml::VpcId\n"
    )
    with pytest.raises(SettingsError, match="sceptre_user_data must be plain values"):
        render(tmp_path / "out", ["dev"], config)


def test_unknown_environment_names_the_accepted_ones(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"unknown environment qa \(accepted: dev, local"):
        render(tmp_path, ["qa"])
