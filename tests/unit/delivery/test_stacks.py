"""Sceptre orchestration without AWS: the poll-interval override and failure reasons."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from sceptre.plan import actions

from delivery import stacks
from delivery.errors import DeliveryError


def test_sceptre_still_sleeps_through_its_time_module() -> None:
    """The override relies on this; a Sceptre upgrade that changes it must fail here first."""
    assert actions.time is time
    assert "time.sleep(4)" in Path(actions.__file__).read_text()


def test_poll_interval_caps_sleeps_only_inside_the_block() -> None:
    with stacks.poll_interval(0.01):
        clock = actions.time
        assert isinstance(clock, stacks._PollClock)
        started = time.monotonic()
        clock.sleep(4)
        assert time.monotonic() - started < 1
        assert clock.monotonic() > 0  # everything else is the real time module
        with stacks.poll_interval(0.02):  # nesting restores the outer override
            assert actions.time.interval == 0.02
        assert actions.time.interval == 0.01
    assert actions.time is time


def test_poll_interval_none_leaves_sceptre_alone() -> None:
    with stacks.poll_interval(None):
        assert actions.time is time


def test_poll_interval_restored_on_error() -> None:
    with pytest.raises(RuntimeError), stacks.poll_interval(0.01):
        raise RuntimeError
    assert actions.time is time


def test_negative_interval_is_rejected() -> None:
    with pytest.raises(DeliveryError, match="poll interval"), stacks.poll_interval(-1):
        pass


def test_waiting_for_a_stack_uses_the_short_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sceptre's own wait loop, driven with statuses: 3 polls take ~0.03 s instead of 12 s."""
    statuses = iter(["UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"])
    waiter = actions.StackActions.__new__(actions.StackActions)
    monkeypatch.setattr(waiter, "_get_status", lambda: next(statuses), raising=False)
    monkeypatch.setattr(waiter, "_log_new_events", lambda after: after, raising=False)
    started = time.monotonic()
    with stacks.poll_interval(0.01):
        status = waiter._wait_for_completion()
    assert status == "complete"
    assert time.monotonic() - started < 1


def event(resource: str, status: str, reason: str = "", minute: int = 0) -> dict[str, Any]:
    return {
        "StackId": "id",
        "EventId": f"{resource}-{status}",
        "StackName": "flask-fargate-dev-service",
        "LogicalResourceId": resource,
        "ResourceType": "AWS::ECS::Service",
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "Timestamp": datetime(2026, 1, 1, 0, minute, tzinfo=UTC),
    }


def test_failure_reason_is_the_first_failure() -> None:
    cfn = boto3.client(
        "cloudformation",
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )
    events = [  # newest first, as CloudFormation returns them
        event("flask-fargate-dev-service", "UPDATE_ROLLBACK_COMPLETE", minute=3),
        event("TaskDefinition", "UPDATE_FAILED", "Resource update cancelled", minute=2),
        event("Service", "UPDATE_FAILED", "ECS Deployment Circuit Breaker was triggered", 1),
        event("Service", "UPDATE_IN_PROGRESS", minute=0),
    ]
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": events})
        reason = stacks.failure_reason("flask-fargate-dev-service", cfn)
    assert reason == "Service: ECS Deployment Circuit Breaker was triggered"


def test_change_lines_read_well() -> None:
    assert str(stacks.Change("s", "none")) == "s: no changes"
    assert str(stacks.Change("s", "Create")) == "s: create stack"
    change = stacks.Change("s", "Modify", "TaskDefinition", "AWS::ECS::TaskDefinition", "True")
    assert str(change) == "s: Modify TaskDefinition [AWS::ECS::TaskDefinition] (replacement: True)"
