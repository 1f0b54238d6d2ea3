"""The termination-protection hook follows each stack's ``deletion_protection`` setting.

Its AWS calls go to a real CloudFormation client under Stubber, so every request and response is
checked against botocore's model of the API (DescribeStacks' ``EnableTerminationProtection``,
UpdateTerminationProtection). The emulator path is in tests/integration/test_delivery_stacks.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from sceptre.config.reader import ConfigReader
from sceptre.context import SceptreContext

from delivery.sceptre_hooks import TerminationProtection, wanted_protection

ROOT = Path(__file__).resolve().parents[3]
NAME = "flask-fargate-prod-service"


class StubbedConnectionManager:
    """Sceptre's connection manager, answering through a stubbed boto3 client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(self, service: str, command: str, kwargs: dict[str, Any]) -> Any:
        assert service == "cloudformation"
        return getattr(self.client, command)(**kwargs)


class FakeStack:
    """What the hook reads of a Sceptre stack."""

    external_name = NAME
    name = "prod/service"

    def __init__(self, client: Any, user_data: dict[str, Any]) -> None:
        self.connection_manager = StubbedConnectionManager(client)
        self.sceptre_user_data = user_data


@pytest.fixture
def cfn() -> Any:
    return boto3.client(
        "cloudformation",
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )


def described(status: str, protected: bool) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": NAME,
                "StackStatus": status,
                "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
                "EnableTerminationProtection": protected,
            }
        ]
    }


def run_hook(cfn: Any, user_data: dict[str, Any], argument: Any = None) -> None:
    hook = TerminationProtection(argument)
    hook.stack = FakeStack(cfn, user_data)
    hook.run()


@pytest.mark.parametrize(
    ("status", "setting", "protected", "wanted"),
    [
        ("CREATE_COMPLETE", True, False, True),
        ("UPDATE_COMPLETE", False, True, False),  # the documented teardown: setting off, deploy
        ("UPDATE_ROLLBACK_COMPLETE", True, False, True),
        ("IMPORT_COMPLETE", True, False, True),
        ("ROLLBACK_COMPLETE", True, True, False),  # a failed create must stay deletable
    ],
)
def test_protection_follows_the_setting_both_ways(
    cfn: Any, status: str, setting: bool, protected: bool, wanted: bool
) -> None:
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described(status, protected), {"StackName": NAME})
        stub.add_response(
            "update_termination_protection",
            {"StackId": f"arn:aws:cloudformation:eu-north-1:123456789012:stack/{NAME}/1"},
            {"StackName": NAME, "EnableTerminationProtection": wanted},
        )
        run_hook(cfn, {"environment": "prod", "deletion_protection": setting})
        stub.assert_no_pending_responses()


def test_no_call_when_protection_is_already_right(cfn: Any) -> None:
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described("UPDATE_COMPLETE", True), None)
        run_hook(cfn, {"deletion_protection": True})
        stub.assert_no_pending_responses()


def test_a_failed_create_is_left_unprotected_and_says_so(
    cfn: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with Stubber(cfn) as stub, caplog.at_level("WARNING", logger="sceptre"):
        stub.add_response("describe_stacks", described("ROLLBACK_COMPLETE", False), None)
        run_hook(cfn, {"deletion_protection": True})
        stub.assert_no_pending_responses()
    assert (
        f"{NAME} - the create failed (ROLLBACK_COMPLETE): termination protection is off so the "
        "stack can be deleted and created again" in caplog.messages
    )


@pytest.mark.parametrize("status", ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"])
def test_unsettled_stacks_are_not_touched(cfn: Any, status: str) -> None:
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described(status, True), None)
        run_hook(cfn, {"deletion_protection": False})
        stub.assert_no_pending_responses()


def test_no_setting_means_unprotected(cfn: Any) -> None:
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described("CREATE_COMPLETE", True), None)
        stub.add_response(
            "update_termination_protection",
            {"StackId": "id"},
            {"StackName": NAME, "EnableTerminationProtection": False},
        )
        run_hook(cfn, {"environment": "dev"})
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("argument", "user_data", "message"),
    [
        ("false", {}, "takes no argument"),
        (None, {"deletion_protection": "yes"}, "deletion_protection must be true or false"),
    ],
)
def test_bad_use_fails_before_any_call(
    cfn: Any, argument: Any, user_data: dict[str, Any], message: str
) -> None:
    with Stubber(cfn), pytest.raises(ValueError, match=message):
        run_hook(cfn, user_data, argument)


def test_the_rule_in_one_table() -> None:
    assert wanted_protection("CREATE_COMPLETE", True) is True
    assert wanted_protection("UPDATE_ROLLBACK_COMPLETE", False) is False
    assert wanted_protection("CREATE_FAILED", True) is False
    assert wanted_protection("DELETE_FAILED", True) is None
    assert wanted_protection("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", True) is None


@pytest.mark.parametrize("path", ["prod", "shared/registry.yaml"])
def test_protected_stacks_run_the_hook_and_set_deletion_protection(path: str) -> None:
    context = SceptreContext(
        project_path=str(ROOT),
        command_path=path,
        user_variables={
            "image_uri": "x",
            "app_version": "1.0.0",
            "connection_arn": "x",
            "production_target_group": "Blue",
            "deployment_pace": "guarded",
        },
    )
    stacks, _ = ConfigReader(context).construct_stacks()
    wanted = {"network", "service", "monitoring"} if path == "prod" else {"registry"}
    hooked = {
        stack.name.rsplit("/", 1)[-1].removesuffix(".yaml"): stack
        for stack in stacks
        if any(isinstance(h, TerminationProtection) for h in stack.hooks.get("after_launch", []))
    }
    assert wanted <= set(hooked)
    # The hook follows the setting: a hooked stack without it would be unprotected.
    assert all(hooked[name].sceptre_user_data.get("deletion_protection") for name in wanted)
