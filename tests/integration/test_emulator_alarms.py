"""CloudWatch alarms on the emulator, as CloudFormation and CloudWatch make them.

moto 5.2.5's CloudFormation skipped ``AWS::CloudWatch::Alarm`` and
``AWS::CloudWatch::CompositeAlarm`` (the stack completed, Ref gave None), and its CloudWatch had
no PutCompositeAlarm and ignored DescribeAlarms' ``AlarmTypes``.
``delivery.emulator_resources.alarms`` models both types and ``delivery.strict_cloudwatch``
makes the API answer as CloudWatch's reference says (cited there).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from delivery.emulator import Emulator

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

REGION = "eu-north-1"
ACCOUNT = "123456789012"  # moto's
STACK = "alarms"
METRIC = {
    "ComparisonOperator": "GreaterThanThreshold",
    "EvaluationPeriods": 1,
    "Threshold": 1,
}
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Plain": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                **METRIC,
                "AlarmName": "alarms-plain",
                "AlarmDescription": "a metric",
                "Namespace": "AWS/ApplicationELB",
                "MetricName": "HTTPCode_Target_5XX_Count",
                "Dimensions": [{"Name": "LoadBalancer", "Value": "app/lb/1"}],
                "Statistic": "Sum",
                "Period": "60",  # CloudFormation passes template strings on as the API's types
                "TreatMissingData": "notBreaching",
            },
        },
        "MetricMath": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                **METRIC,
                "Metrics": [
                    {
                        "Id": "m0",
                        "MetricStat": {
                            "Metric": {"Namespace": "N", "MetricName": "Errors"},
                            "Period": 60,
                            "Stat": "Sum",
                        },
                        "ReturnData": False,
                    },
                    {"Id": "e0", "Expression": "m0 * 2", "Label": "doubled", "ReturnData": True},
                ],
            },
        },
        "Both": {
            "Type": "AWS::CloudWatch::CompositeAlarm",
            "Properties": {
                "AlarmRule": {
                    "Fn::Sub": [
                        'ALARM("${Plain}") AND ALARM(${Math})',
                        {"Plain": {"Ref": "Plain"}, "Math": {"Ref": "MetricMath"}},
                    ]
                },
                "AlarmDescription": "both",
            },
        },
    },
    "Outputs": {
        "PlainRef": {"Value": {"Ref": "Plain"}},
        "PlainArn": {"Value": {"Fn::GetAtt": ["Plain", "Arn"]}},
        "MathRef": {"Value": {"Ref": "MetricMath"}},
        "BothRef": {"Value": {"Ref": "Both"}},
        "BothArn": {"Value": {"Fn::GetAtt": ["Both", "Arn"]}},
    },
}


def cloudwatch() -> Any:
    """A CloudWatch client, untyped: the tests pass the API's strings as the API takes them."""
    return boto3.client("cloudwatch")


def reasons() -> list[str]:
    """The stack's events' reasons (why a resource failed)."""
    events = boto3.client("cloudformation").describe_stack_events(StackName=STACK)["StackEvents"]
    return [e.get("ResourceStatusReason", "") for e in events]


def launch(template: dict[str, Any], *, update: bool = False) -> dict[str, str]:
    """Create (or update) the stack; its outputs."""
    cfn = boto3.client("cloudformation")
    call = cfn.update_stack if update else cfn.create_stack
    call(StackName=STACK, TemplateBody=json.dumps(template))
    described = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert described["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), reasons()
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def alarms(*names: str) -> dict[str, dict[str, Any]]:
    """The named alarms, both types, as DescribeAlarms answers them."""
    answer = cloudwatch().describe_alarms(
        AlarmNames=list(names), AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    return {a["AlarmName"]: a for a in [*answer["MetricAlarms"], *answer["CompositeAlarms"]]}


def set_state(name: str, state: str) -> None:
    cloudwatch().set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def test_ref_and_getatt_and_what_describe_alarms_answers(aws: Emulator) -> None:
    got = launch(TEMPLATE)
    arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:"
    # No AlarmName: <stack>-<logical id>-<suffix>, as CloudFormation names it.
    assert re.fullmatch(r"alarms-MetricMath-[A-Z0-9]{12}", got["MathRef"])
    assert re.fullmatch(r"alarms-Both-[A-Z0-9]{12}", got["BothRef"])
    assert got["PlainRef"] == "alarms-plain"
    assert got["PlainArn"] == arn + "alarms-plain"
    assert got["BothArn"] == arn + got["BothRef"]

    found = alarms(got["PlainRef"], got["MathRef"], got["BothRef"])
    plain, math, both = found[got["PlainRef"]], found[got["MathRef"]], found[got["BothRef"]]
    assert (plain["Period"], plain["Statistic"], plain["AlarmDescription"]) == (
        60,
        "Sum",
        "a metric",
    )
    assert plain["Dimensions"] == [{"Name": "LoadBalancer", "Value": "app/lb/1"}]
    assert [m["Id"] for m in math["Metrics"]] == ["m0", "e0"]
    assert math["Metrics"][1]["Expression"] == "m0 * 2"
    assert both["AlarmRule"] == f'ALARM("{got["PlainRef"]}") AND ALARM({got["MathRef"]})'
    # New metric alarms start in INSUFFICIENT_DATA; the composite's rule is FALSE: OK.
    assert (plain["StateValue"], math["StateValue"], both["StateValue"]) == (
        "INSUFFICIENT_DATA",
        "INSUFFICIENT_DATA",
        "OK",
    )
    # Without AlarmTypes only metric alarms are answered, as CloudWatch does.
    default = cloudwatch().describe_alarms()
    assert {a["AlarmName"] for a in default["MetricAlarms"]} == {got["PlainRef"], got["MathRef"]}
    assert default["CompositeAlarms"] == []


def test_the_composite_follows_its_children_through_set_alarm_state(aws: Emulator) -> None:
    got = launch(TEMPLATE)
    plain, math, both = got["PlainRef"], got["MathRef"], got["BothRef"]
    set_state(plain, "ALARM")
    assert alarms(both)[both]["StateValue"] == "OK"  # one of two: the AND is FALSE
    set_state(math, "ALARM")
    composite = alarms(both)[both]
    assert composite["StateValue"] == "ALARM"
    assert json.loads(composite["StateReasonData"])["alarmStates"] == {
        plain: "ALARM",
        math: "ALARM",
    }
    set_state(plain, "OK")
    assert alarms(both)[both]["StateValue"] == "OK"
    # StateValue filters together with AlarmTypes.
    answer = cloudwatch().describe_alarms(
        StateValue="ALARM", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    assert [a["AlarmName"] for a in answer["MetricAlarms"]] == [math]
    assert answer["CompositeAlarms"] == []


def test_an_update_keeps_the_state_and_a_new_name_replaces(aws: Emulator) -> None:
    got = launch(TEMPLATE)
    set_state(got["MathRef"], "ALARM")
    changed = copy.deepcopy(TEMPLATE)
    changed["Resources"]["MetricMath"]["Properties"]["Threshold"] = 5
    changed["Resources"]["Plain"]["Properties"]["AlarmName"] = "alarms-renamed"
    after = launch(changed, update=True)
    assert after["MathRef"] == got["MathRef"]
    math = alarms(after["MathRef"])[after["MathRef"]]
    assert (math["Threshold"], math["StateValue"]) == (5.0, "ALARM")
    assert after["PlainRef"] == "alarms-renamed"
    assert alarms("alarms-plain") == {}
    assert alarms("alarms-renamed")["alarms-renamed"]["StateValue"] == "INSUFFICIENT_DATA"

    boto3.client("cloudformation").delete_stack(StackName=STACK)
    remaining = cloudwatch().describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert remaining["MetricAlarms"] == remaining["CompositeAlarms"] == []


@pytest.mark.parametrize(
    ("rule", "states", "expected"),
    [
        ('ALARM("a") OR ALARM("b")', {"a": "ALARM"}, "ALARM"),
        ("NOT ALARM(a)", {}, "ALARM"),
        ('OK("a") AND INSUFFICIENT_DATA("b")', {"a": "OK"}, "ALARM"),
        ("(ALARM(a) OR ALARM(b)) AND NOT OK(b)", {"a": "ALARM", "b": "OK"}, "OK"),
        ("ALARM(a) OR ALARM(b) AND FALSE", {"a": "ALARM"}, "ALARM"),  # AND binds tighter
        ("TRUE", {}, "ALARM"),
        ("FALSE", {}, "OK"),
        (f"ALARM(arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a)", {"a": "ALARM"}, "ALARM"),
    ],
)
def test_the_rule_grammar_is_evaluated_as_cloudwatch_documents(
    aws: Emulator, rule: str, states: dict[str, str], expected: str
) -> None:
    client = cloudwatch()
    for name in ("a", "b"):
        client.put_metric_alarm(
            AlarmName=name, Namespace="N", MetricName="M", Statistic="Sum", Period=60, **METRIC
        )
    for name, state in states.items():
        set_state(name, state)
    client.put_composite_alarm(AlarmName="c", AlarmRule=rule)
    assert alarms("c")["c"]["StateValue"] == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('ALARM("missing")', "do not exist"),
        ('ALARM("a") AND', "expected more"),
        ('AT_LEAST(1, ALARM, ("a"))', "unexpected"),
    ],
)
def test_a_rule_cloudwatch_refuses_is_refused(aws: Emulator, rule: str, message: str) -> None:
    client = cloudwatch()
    client.put_metric_alarm(
        AlarmName="a", Namespace="N", MetricName="M", Statistic="Sum", Period=60, **METRIC
    )
    with pytest.raises(ClientError) as caught:
        client.put_composite_alarm(AlarmName="c", AlarmRule=rule)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert message in caught.value.response["Error"]["Message"]


def test_an_unsupported_property_fails_the_alarm(aws: Emulator) -> None:
    broken = copy.deepcopy(TEMPLATE)
    broken["Resources"]["Plain"]["Properties"]["Colour"] = "blue"
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(broken))
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any("Encountered unsupported property Colour" in r for r in reasons()), reasons()


def _service_alarms_stack(collector: str) -> dict[str, str]:
    """The monitoring stack's alarms on the service's own metrics, as rendered, launched through
    CloudFormation with ``CollectorEnabled=collector``: each created alarm's name by logical id."""
    from stacks.monitoring import Settings, build  # noqa: PLC0415 - the stacks group, these tests only
    from stacks.monitoring.service_alarms import COLLECTOR_PARAMETER, SERVICE_ALARMS  # noqa: PLC0415

    rendered = json.loads(build(Settings(project="flask-fargate", environment="local")).to_json())
    template: dict[str, Any] = {
        "Parameters": {
            "ClusterName": {"Type": "String"},
            "ServiceName": {"Type": "String"},
            COLLECTOR_PARAMETER: rendered["Parameters"][COLLECTOR_PARAMETER],
        },
        "Conditions": rendered["Conditions"],
        "Resources": {},
        "Outputs": {},
    }
    for logical_id in SERVICE_ALARMS:
        resource = copy.deepcopy(rendered["Resources"][logical_id])
        resource["Properties"]["AlarmActions"] = resource["Properties"]["OKActions"] = [TOPIC]
        template["Resources"][logical_id] = resource
        output: dict[str, Any] = {"Value": {"Ref": logical_id}}
        if "Condition" in resource:
            output["Condition"] = resource["Condition"]
        template["Outputs"][logical_id] = output
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": "ClusterName", "ParameterValue": "cluster"},
            {"ParameterKey": "ServiceName", "ParameterValue": "service"},
            {"ParameterKey": COLLECTOR_PARAMETER, "ParameterValue": collector},
        ],
    )
    (described,) = cfn.describe_stacks(StackName=STACK)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE", reasons()
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms"


def test_the_service_alarms_as_cloudformation_makes_them(aws: Emulator) -> None:
    """What DescribeAlarms answers is what the template asked for. (What PutMetricAlarm would
    refuse and moto accepts is checked on every alarm in tests/unit/stacks/test_service_alarms.py.)
    """
    names = _service_alarms_stack("true")
    found = alarms(*names.values())

    latency = found[names["MainRouteLatencyP99Alarm"]]
    assert (latency["ExtendedStatistic"], latency.get("Statistic")) == ("p99", None)
    assert latency["Dimensions"] == [{"Name": "route", "Value": "/"}]
    assert latency["TreatMissingData"] == "notBreaching"

    restarts = found[names["WorkerRestartsAlarm"]]
    assert (restarts["Statistic"], restarts["Period"], restarts["Threshold"]) == ("Sum", 300, 0)

    missing = found[names["ServiceMetricsMissingAlarm"]]
    assert missing["TreatMissingData"] == "breaching"
    queries = {m["Id"]: m for m in missing["Metrics"]}
    assert queries["m0"]["MetricStat"]["Stat"] == "SampleCount"
    assert queries["m1"]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "ClusterName", "Value": "cluster"},
        {"Name": "ServiceName", "Value": "service"},
    ]
    assert queries["e0"]["Expression"].startswith("m1 - FILL(m0, 0)")
    assert {a["StateValue"] for a in found.values()} == {"INSUFFICIENT_DATA"}
    assert {tuple(a["AlarmActions"]) for a in found.values()} == {(TOPIC,)}


def test_without_a_collector_only_the_access_log_alarm_is_made(aws: Emulator) -> None:
    """No collector in the tasks: no service metrics to miss, so no alarm that would page for
    ever; the main route's p99 reads the access lines and stays."""
    names = _service_alarms_stack("false")
    assert set(names) == {"MainRouteLatencyP99Alarm"}
    every = cloudwatch().describe_alarms()["MetricAlarms"]
    assert [a["AlarmName"] for a in every] == [names["MainRouteLatencyP99Alarm"]]
