"""The `local` environment's stacks launch on the emulator with Sceptre and chain their outputs.

moto proves wiring (dependency order, ``!stack_output`` parameters, outputs, stack tags), not
AWS semantics: it skips autoscaling, budgets, metric filters and topic policies (server log:
"No Moto CloudFormation support"); alarms and secrets it creates through the models in
delivery/emulator_resources. cfn-lint and tests/unit/stacks prove the templates themselves.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from click.testing import CliRunner
from sceptre.cli import cli
from sceptre.plan import actions

from delivery.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
APP_VERSION = "1.2.3"
DIGEST = "0123456789abcdef" * 4

pytestmark = [
    pytest.mark.emulator,
    pytest.mark.slow,
    # Sceptre's python template handler loads templates/*.py with the deprecated load_module().
    pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning"),
]


@pytest.fixture
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sceptre polls stack status every 4 s; against the emulator 0.2 s is plenty."""
    real_sleep: Callable[[float], None] = time.sleep
    shim = types.SimpleNamespace(sleep=lambda seconds: real_sleep(min(seconds, 0.2)))
    monkeypatch.setattr(actions, "time", shim)


def _outputs(client: Any, stack: str) -> dict[str, str]:
    (described,) = client.describe_stacks(StackName=stack)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE", described["StackStatus"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _parameters(client: Any, stack: str) -> dict[str, str]:
    (described,) = client.describe_stacks(StackName=stack)["Stacks"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}


def test_sceptre_launch_local(aws: Emulator, fast_polling: None) -> None:
    account = boto3.client("sts").get_caller_identity()["Account"]
    image = f"{account}.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate-local@sha256:{DIGEST}"
    started = time.perf_counter()
    result = CliRunner().invoke(
        cli,
        [
            "--dir",
            str(ROOT),
            "--var",
            f"image_uri={image}",
            "--var",
            f"app_version={APP_VERSION}",
            "--var",
            "production_target_group=Blue",
            "--var",
            "deployment_pace=guarded",
            "launch",
            "-y",
            "local",
        ],
        catch_exceptions=False,
    )
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    print(f"sceptre launch -y local: {elapsed:.1f} s (poll interval shortened to 0.2 s)")

    cfn = boto3.client("cloudformation")
    network = _outputs(cfn, "flask-fargate-local-network")
    registry = _outputs(cfn, "flask-fargate-local-registry")
    service = _outputs(cfn, "flask-fargate-local-service")
    _outputs(cfn, "flask-fargate-local-monitoring")

    # Outputs chain into the next stack's parameters.
    service_parameters = _parameters(cfn, "flask-fargate-local-service")
    assert service_parameters["RepositoryArn"] == registry["RepositoryArn"]
    assert service_parameters["VpcId"] == network["VpcId"]
    for name in ("PrivateSubnetIds", "PublicSubnetIds"):
        assert sorted(service_parameters[name].strip("[]").replace("'", "").split(", ")) == sorted(
            network[name].split(",")
        )
    monitoring_parameters = _parameters(cfn, "flask-fargate-local-monitoring")
    for name in ("ClusterName", "ServiceName", "LogGroupName", "LoadBalancerFullName"):
        assert monitoring_parameters[name] == service[name]

    # The resources exist where delivery will look for them.
    assert registry["RepositoryUri"].endswith("/flask-fargate-local")
    ecs = boto3.client("ecs")
    (svc,) = ecs.describe_services(
        cluster=service["ClusterName"], services=[service["ServiceName"]]
    )["services"]
    assert svc["taskDefinition"] == service["TaskDefinitionArn"]
    containers = ecs.describe_task_definition(taskDefinition=service["TaskDefinitionArn"])[
        "taskDefinition"
    ]["containerDefinitions"]
    # The app, and the ADOT collector beside it (stacks/service/collector.py).
    assert [c["name"] for c in containers] == ["app", "otel-collector"]
    # The collector's configuration as the emulator holds it (what the local runner starts it
    # with): CloudFormation filled in the metrics log group and the region.
    sidecar = {e["name"]: e["value"] for e in containers[1]["environment"]}
    emf = yaml.safe_load(sidecar["AOT_CONFIG_CONTENT"])["exporters"]["awsemf"]
    assert emf["log_group_name"] == service["MetricsLogGroupName"]
    assert emf["region"] == cfn.meta.region_name
    container = containers[0]
    assert container["image"] == image
    assert {"name": "APP_VERSION", "value": APP_VERSION} in container["environment"]
    assert service["ServiceUrl"].startswith("http://")
    tags = boto3.client("cloudformation").describe_stacks(StackName="flask-fargate-local-service")[
        "Stacks"
    ][0]["Tags"]
    assert {"Key": "Environment", "Value": "local"} in tags

    # The app's secret exists, generated as declared, and the task definition reads it.
    (secret,) = container["secrets"]
    assert secret["name"] == "SECRET_KEY"
    value = boto3.client("secretsmanager").get_secret_value(SecretId=secret["valueFrom"])
    assert len(value["SecretString"]) == 64  # PasswordLength 64, ExcludePunctuation
    assert value["SecretString"].isalnum()

    _assert_alarms(cfn, ["flask-fargate-local-service", "flask-fargate-local-monitoring"])


def _assert_alarms(cfn: Any, stack_names: list[str]) -> None:
    """Every alarm the stacks declare exists, and a composite follows its children's states."""
    declared: dict[str, str] = {}
    for stack in stack_names:
        summaries = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        declared |= {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in summaries
            if r["ResourceType"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
        }
    assert {"FastBurnRateAlarm", "DeploymentBlueErrorRateAlarm"} <= set(declared)
    cloudwatch: Any = boto3.client("cloudwatch")
    types = ["MetricAlarm", "CompositeAlarm"]
    answer = cloudwatch.describe_alarms(AlarmNames=list(declared.values()), AlarmTypes=types)
    found = {a["AlarmName"] for a in [*answer["MetricAlarms"], *answer["CompositeAlarms"]]}
    assert found == set(declared.values())

    composite = declared["FastBurnRateAlarm"]
    for child in ("FastBurnLongAlarm", "FastBurnShortAlarm"):
        cloudwatch.set_alarm_state(
            AlarmName=declared[child], StateValue="ALARM", StateReason="rehearsal"
        )
    (state,) = cloudwatch.describe_alarms(AlarmNames=[composite], AlarmTypes=types)[
        "CompositeAlarms"
    ]
    assert state["StateValue"] == "ALARM"
