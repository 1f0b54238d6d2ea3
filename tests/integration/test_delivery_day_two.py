"""Day-two reads on the emulator: the SLO gate, the on-call status, a failed deploy's diagnosis.

The sample project's prod gets a monitoring stack with the burn-rate composite alarms under their
logical ids (``stacks.monitoring.alarms.BURN_RATE_ALARMS``), created by the emulator's
CloudFormation models. Everything is real: ListStackResources, DescribeAlarms, SetAlarmState, the
deploys, ListTasks/DescribeTasks after RunTask/StopTask, GetMetricData, DescribeStackEvents of a
failed update, GetLogEvents.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest

from delivery import deploy, deploy_command, rollback, stacks, status
from delivery.emulator import Emulator
from delivery.environments import StackRef
from delivery.errors import DeliveryError
from stacks.monitoring.alarms import BURN_RATE_ALARMS
from tests.support.deploy_steps import fake_steps
from tests.support.logs import progress_lines
from tests.support.project import SERVICE_TEMPLATE, launch_shared, make_project

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
REGION = "eu-north-1"
MONITORING = StackRef("flask-fargate-prod-monitoring", REGION)
PROD_SERVICE = StackRef("flask-fargate-prod-service", REGION)
DEV_SERVICE = StackRef("flask-fargate-dev-service", REGION)


def monitoring_template() -> dict[str, Any]:
    """Per burn-rate alarm: a metric alarm, and the composite that reads it (as stacks/ has)."""
    resources: dict[str, Any] = {}
    for composite in BURN_RATE_ALARMS:
        child = composite.replace("RateAlarm", "LongAlarm")
        resources[child] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Namespace": "AWS/ApplicationELB",
                "MetricName": "RequestCount",
                "Statistic": "Sum",
                "Period": 3600,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        }
        resources[composite] = {
            "Type": "AWS::CloudWatch::CompositeAlarm",
            "Properties": {"AlarmRule": {"Fn::Sub": f'ALARM("${{{child}}}")'}},
        }
    return {"Resources": resources}


@pytest.fixture
def project(tmp_path: Path, aws: Emulator) -> Path:
    """The sample project, its prod with a monitoring stack; the shared stacks launched."""
    root = make_project(tmp_path)
    service = json.loads(json.dumps(SERVICE_TEMPLATE))
    # As the real service stack: the ALB's full name, which the error budget's metrics need.
    service["Outputs"]["LoadBalancerFullName"] = {
        "Value": {"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]}
    }
    (root / "templates" / "service.json").write_text(json.dumps(service))
    (root / "templates" / "monitoring.json").write_text(json.dumps(monitoring_template()))
    (root / "config" / "prod" / "monitoring.yaml").write_text(
        "template:\n  path: monitoring.json\nsceptre_user_data:\n  availability_slo: 0.995\n"
    )
    launch_shared(root)
    return root


def alarm_name(logical_id: str) -> str:
    """The name CloudFormation gave the monitoring stack's alarm ``logical_id``."""
    return stacks.resource_ids(MONITORING)[logical_id]


def set_state(name: str, state: Literal["ALARM", "OK"]) -> None:
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
        AlarmName=name, StateValue=state, StateReason=f"set to {state} by the test"
    )


def prod_state() -> tuple[str, dict[str, str], list[str]]:
    """What a refused deploy must leave alone: prod's stack status, parameters, revisions."""
    revisions = boto3.client("ecs", region_name=REGION).list_task_definitions()[
        "taskDefinitionArns"
    ]
    return stacks.state(PROD_SERVICE).status, stacks.parameters(PROD_SERVICE), revisions


def test_the_slo_gate_holds_a_prod_deploy_while_a_burn_rate_alarm_is_in_alarm(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    first = deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    second = deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.1.0"))
    deploy.deploy("prod", first.digest, root=project)
    assert stacks.state(MONITORING).status == "CREATE_COMPLETE"
    fast = alarm_name("FastBurnRateAlarm")

    set_state(fast, "ALARM")
    before = prod_state()
    request = deploy_command.Request(env="prod", image=second.digest, root=project)
    refusal = (
        rf"^the SLO gate of prod refuses: FastBurnRateAlarm \({fast}\) in ALARM, the error "
        r"budget burns too fast; fix or wait, roll back \(never gated\), or pass --force$"
    )
    with pytest.raises(DeliveryError, match=refusal):
        deploy_command.run(request)
    with pytest.raises(DeliveryError, match=refusal):  # invoke check: the same verdict
        deploy_command.dry_run(request)
    assert prod_state() == before  # nothing changed

    # The incident's rollback is never held by the incident's alarms.
    back = rollback.rollback("prod", "1.0.0", root=project)
    assert back.version == "1.0.0"

    since = len(delivery_log.records)
    lines = deploy_command.run(
        deploy_command.Request(env="prod", image=second.digest, force=True, root=project)
    )
    warning = (
        f"WARNING: the SLO gate of prod was forced (--force): FastBurnRateAlarm ({fast}) in ALARM"
    )
    assert lines[:2] == [f"deployed 1.1.0 to prod: {second.image_uri}", warning]
    assert warning in progress_lines(delivery_log, since)
    assert stacks.parameters(PROD_SERVICE)["AppVersion"] == "1.1.0"

    set_state(fast, "OK")
    checked = deploy_command.dry_run(
        deploy_command.Request(env="prod", image="1.0.0", root=project)
    )
    assert "slo gate: open (FastBurnRateAlarm OK, SlowBurnRateAlarm OK)" in checked
    assert checked[-1] == "nothing was changed"


def test_force_is_refused_where_nothing_is_gated(project: Path) -> None:
    with pytest.raises(DeliveryError, match=r"environment 'dev' has none .* drop --force$"):
        deploy_command.run(
            deploy_command.Request(env="dev", image="1.0.0", force=True, root=project)
        )


def stop_a_task(service: StackRef, reason: str) -> str:
    """A task of the stack's service that ran and stopped; its id."""
    outputs = stacks.outputs(service)
    ecs = boto3.client("ecs", region_name=REGION)
    task = ecs.run_task(
        cluster=outputs["ClusterName"],
        taskDefinition=outputs["TaskDefinitionArn"],
        launchType="FARGATE",
        group=f"service:{outputs['ServiceName']}",
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-12345678"]}},
    )["tasks"][0]
    ecs.stop_task(cluster=outputs["ClusterName"], task=task["taskArn"], reason=reason)
    return str(task["taskArn"]).rsplit("/", 1)[-1]


def test_status_puts_alarms_first_and_shows_traffic_tasks_and_budget(project: Path) -> None:
    first = deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    deploy.deploy("prod", first.digest, root=project)
    slow = alarm_name("SlowBurnRateAlarm")
    set_state(slow, "ALARM")
    task = stop_a_task(PROD_SERVICE, "Essential container in task exited")

    lines = status.status("prod", project).lines()
    assert lines[:2] == [
        "environment prod",
        f"  ALARM SlowBurnRateAlarm ({slow}) ALARM: set to ALARM by the test",
    ]
    assert "  production traffic: Blue target group" in lines
    stopped = lines.index("  stopped tasks:")
    assert lines[stopped + 1].startswith(f"    stopped task {task} (flask-fargate-prod-service:")
    assert lines[stopped + 1].endswith(": Essential container in task exited")
    # The emulator's load balancer served nothing; the SLO is prod's monitoring setting.
    assert "  error budget: no requests measured (SLO 99.50% over 30 days)" in lines
    # The metric alarms have no data; a composite whose rule does not hold is OK.
    assert lines[-2] == "  other alarms: 2 INSUFFICIENT_DATA, 1 OK"


def test_a_failed_deploy_explains_itself_before_its_error(
    project: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    task = stop_a_task(DEV_SERVICE, "Essential container in task exited")
    # The task's log stream, where its task definition's awslogs options would put it.
    group, stream = "/flask-fargate/dev", f"app/app/{task}"
    logs = boto3.client("logs", region_name=REGION)
    now = int(time.time() * 1000)
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        # Recent: PutLogEvents rejects events older than 14 days, as AWS does.
        logEvents=[
            {"timestamp": now, "message": "booting"},
            {"timestamp": now + 1, "message": "boom"},
        ],
    )
    # The next update fails: a new repository whose name the shared registry already holds.
    service = json.loads((project / "templates" / "service.json").read_text())
    service["Resources"]["Clash"] = {
        "Type": "AWS::ECR::Repository",
        "Properties": {"RepositoryName": "flask-fargate"},
    }
    (project / "templates" / "service.json").write_text(json.dumps(service))
    options = {"awslogs-group": group, "awslogs-stream-prefix": "app"}
    since = len(delivery_log.records)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("delivery.ecs.awslogs_options", lambda client, arn: {"app": options})
        with pytest.raises(DeliveryError) as info:
            deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.1.0"))
    assert str(info.value).startswith("stack flask-fargate-dev-service failed")
    shown = [line for line in progress_lines(delivery_log, since) if line.startswith("diagnosis: ")]
    assert shown[0] == "diagnosis: what AWS recorded of this failure:"
    assert shown[1].startswith(
        "diagnosis: stack flask-fargate-dev-service: CREATE_FAILED Clash (AWS::ECR::Repository): "
    )
    assert "already exists" in shown[1]
    assert shown[2].startswith(f"diagnosis: stopped task {task} ")
    assert shown[-3:] == [
        f"diagnosis:   last 2 log lines of app ({group} {stream}):",
        "diagnosis:     booting",
        "diagnosis:     boom",
    ]
