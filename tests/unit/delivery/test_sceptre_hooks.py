"""The project's Sceptre hook: prod stacks get termination protection after every launch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sceptre.config.reader import ConfigReader
from sceptre.context import SceptreContext

from delivery.sceptre_hooks import TerminationProtection

ROOT = Path(__file__).resolve().parents[3]


class RecordingConnectionManager:
    """Stands in for Sceptre's connection manager; records the API calls made."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def call(self, service: str, command: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((service, command, kwargs))


class FakeStack:
    external_name = "flask-fargate-prod-service"

    def __init__(self) -> None:
        self.connection_manager = RecordingConnectionManager()


@pytest.mark.parametrize(
    ("argument", "enabled"), [(None, True), ("true", True), ("false", False), ("off", False)]
)
def test_hook_sets_termination_protection_on_its_stack(argument: str | None, enabled: bool) -> None:
    hook = TerminationProtection(argument)
    stack = FakeStack()
    hook.stack = stack
    hook.run()
    assert stack.connection_manager.calls == [
        (
            "cloudformation",
            "update_termination_protection",
            {"StackName": "flask-fargate-prod-service", "EnableTerminationProtection": enabled},
        )
    ]


@pytest.mark.parametrize("path", ["prod", "shared/registry.yaml"])
def test_prod_and_shared_registry_stacks_are_protected_after_launch(path: str) -> None:
    context = SceptreContext(
        project_path=str(ROOT),
        command_path=path,
        user_variables={"image_uri": "x", "app_version": "1.0.0", "connection_arn": "x"},
    )
    stacks, _ = ConfigReader(context).construct_stacks()
    wanted = {"network", "service", "monitoring"} if path == "prod" else {"registry"}
    protected = {
        stack.name.rsplit("/", 1)[-1].removesuffix(".yaml")
        for stack in stacks
        if any(isinstance(h, TerminationProtection) for h in stack.hooks.get("after_launch", []))
    }
    assert wanted <= protected
