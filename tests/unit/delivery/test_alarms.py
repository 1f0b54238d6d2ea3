"""An environment's alarms: found among its stacks' resources, their states read in batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from delivery import alarms, environments, stacks
from delivery.environments import StackRef
from delivery.errors import DeliveryError
from stacks.monitoring.alarms import BURN_RATE_ALARMS
from tests.support.paths import ROOT
from tests.support.project import make_project

STACK = StackRef("flask-fargate-prod-monitoring", "eu-north-1")
BOTH = ["MetricAlarm", "CompositeAlarm"]


def cloudwatch() -> Any:
    """A real boto3 client (for Stubber) that can never reach AWS."""
    session = boto3.Session(
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )
    return session.client("cloudwatch")


def alarm(index: int) -> stacks.Resource:
    return stacks.Resource(f"Alarm{index}", f"prod-alarm-{index}", "AWS::CloudWatch::Alarm")


def test_states_are_read_100_names_a_call_with_both_alarm_types() -> None:
    found = [alarm(i) for i in range(150)]
    composite = stacks.Resource(
        "FastBurnRateAlarm", "prod-fast-burn", "AWS::CloudWatch::CompositeAlarm"
    )
    client = cloudwatch()
    with Stubber(client) as stub:
        stub.add_response(
            "describe_alarms",
            {
                "MetricAlarms": [
                    {"AlarmName": f"prod-alarm-{i}", "StateValue": "OK"} for i in range(100)
                ]
            },
            {"AlarmNames": [f"prod-alarm-{i}" for i in range(100)], "AlarmTypes": BOTH},
        )
        stub.add_response(
            "describe_alarms",
            {
                "MetricAlarms": [
                    {"AlarmName": f"prod-alarm-{i}", "StateValue": "OK"} for i in range(100, 149)
                ],
                "CompositeAlarms": [
                    {
                        "AlarmName": "prod-fast-burn",
                        "StateValue": "ALARM",
                        "StateReason": "Long and\nshort windows in ALARM",
                    }
                ],
            },
            {
                "AlarmNames": [f"prod-alarm-{i}" for i in range(100, 150)] + ["prod-fast-burn"],
                "AlarmTypes": BOTH,
            },
        )
        states = alarms.states(STACK, [*found, composite], client)
        stub.assert_no_pending_responses()
    assert len(states) == 151
    assert states[-1] == alarms.AlarmState(
        "prod-fast-burn",
        "FastBurnRateAlarm",
        STACK.name,
        "ALARM",
        "Long and short windows in ALARM",
    )
    assert alarms.in_alarm(states) == [states[-1]]
    # The stack names it, CloudWatch does not know it.
    assert states[149].state == alarms.MISSING


def test_a_refused_read_is_one_line_naming_the_permission() -> None:
    client = cloudwatch()
    with Stubber(client) as stub:
        stub.add_client_error("describe_alarms", "AccessDenied", "not authorized")
        with pytest.raises(DeliveryError) as info:
            alarms.states(STACK, [alarm(1)], client)
    assert str(info.value) == (
        "reading the alarms of stack flask-fargate-prod-monitoring failed (AccessDenied: not "
        "authorized): reading composite alarms needs cloudwatch:DescribeAlarms on *"
    )


def test_alarm_resources_are_the_created_alarms_of_an_existing_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed = [
        alarm(1),
        stacks.Resource("Topic", "arn:aws:sns:eu-north-1:1:t", "AWS::SNS::Topic"),
        stacks.Resource("SlowBurnRateAlarm", "slow", "AWS::CloudWatch::CompositeAlarm"),
        stacks.Resource("Failed", "", "AWS::CloudWatch::Alarm"),  # never created
    ]
    status = {"value": "UPDATE_COMPLETE"}
    monkeypatch.setattr(stacks, "state", lambda ref: stacks.StackState(ref.name, status["value"]))
    monkeypatch.setattr(stacks, "resources", lambda ref: listed)
    assert [r.logical_id for r in alarms.resources(STACK)] == ["Alarm1", "SlowBurnRateAlarm"]
    status["value"] = "NOT_CREATED"
    assert alarms.resources(STACK) == []


def test_burn_rate_alarms_are_the_monitoring_stacks_composites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environments.load("prod", make_project(tmp_path))
    asked: list[tuple[StackRef, list[str]]] = []

    def listed(ref: StackRef) -> list[stacks.Resource]:
        return [
            alarm(1),
            *(stacks.Resource(i, f"n-{i}", "AWS::CloudWatch::CompositeAlarm") for i in ("X", "Y")),
            *(
                stacks.Resource(i, f"n-{i}", "AWS::CloudWatch::CompositeAlarm")
                for i in BURN_RATE_ALARMS
            ),
        ]

    def read(ref: StackRef, found: list[stacks.Resource]) -> list[alarms.AlarmState]:
        asked.append((ref, [r.logical_id for r in found]))
        return []

    monkeypatch.setattr(alarms, "resources", listed)
    monkeypatch.setattr(alarms, "states", read)
    alarms.burn_rate(env)
    assert asked == [(STACK, list(BURN_RATE_ALARMS))]
    assert BURN_RATE_ALARMS == ("FastBurnRateAlarm", "SlowBurnRateAlarm")


def test_the_gated_alarms_are_composites_of_the_rendered_monitoring_stack() -> None:
    """What the gate reads by logical id is what the monitoring template creates."""
    template = json.loads((ROOT / "tests" / "golden" / "prod" / "monitoring.json").read_text())
    composites = sorted(
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::CompositeAlarm"
    )
    assert composites == sorted(BURN_RATE_ALARMS)
