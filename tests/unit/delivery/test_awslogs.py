"""A container definition's awslogs log configuration, read in one place (delivery/awslogs.py).

The shapes are the ECS API's (DescribeTaskDefinition's camelCase container definitions) and
CloudFormation's (AWS::ECS::TaskDefinition's PascalCase), as the service stack renders it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from delivery import awslogs
from delivery.awslogs import AwsLogs
from delivery.local.task_definition import resolve
from tests.support.paths import ROOT

OPTIONS = {
    "awslogs-group": "/flask/dev",
    "awslogs-region": "eu-north-1",
    "awslogs-stream-prefix": "app",
    "mode": "non-blocking",
}


def _api(driver: str = "awslogs", **options: str) -> dict[str, Any]:
    """A DescribeTaskDefinition container definition logging with ``driver`` and ``options``."""
    return {"name": "app", "logConfiguration": {"logDriver": driver, "options": options}}


def test_an_awslogs_container_names_its_group_region_and_prefix() -> None:
    assert awslogs.read(_api(**OPTIONS)) == AwsLogs(
        group="/flask/dev", region="eu-north-1", stream_prefix="app"
    )


def test_without_a_region_the_options_name_none() -> None:
    # The caller knows the task's region; an empty option is no region either.
    assert awslogs.read(_api(**{**OPTIONS, "awslogs-region": ""})) == AwsLogs(
        "/flask/dev", None, "app"
    )
    without = {k: v for k, v in OPTIONS.items() if k != "awslogs-region"}
    assert awslogs.read(_api(**without)) == AwsLogs("/flask/dev", None, "app")


@pytest.mark.parametrize(
    "container",
    [
        _api("splunk", **OPTIONS),
        _api("awsfirelens", **OPTIONS),
        {"name": "app"},
        {"name": "app", "logConfiguration": None},
    ],
    ids=["splunk", "awsfirelens", "no log configuration", "null log configuration"],
)
def test_a_container_that_does_not_log_with_awslogs_has_none(container: dict[str, Any]) -> None:
    assert awslogs.read(container) is None
    assert awslogs.options(container) is None


@pytest.mark.parametrize("missing", ["awslogs-group", "awslogs-stream-prefix"])
def test_without_a_group_or_a_prefix_there_is_no_stream_to_name(missing: str) -> None:
    absent = {k: v for k, v in OPTIONS.items() if k != missing}
    assert awslogs.read(_api(**absent)) is None
    assert awslogs.read(_api(**{**OPTIONS, missing: ""})) is None
    # The options are still the driver's: only the target is unknown.
    assert awslogs.options(_api(**absent)) == absent


def test_an_awslogs_container_without_options_has_empty_options_and_no_target() -> None:
    container = {"name": "app", "logConfiguration": {"logDriver": "awslogs"}}
    assert awslogs.options(container) == {}
    assert awslogs.read(container) is None


def test_the_keys_say_which_spelling_is_read() -> None:
    template = {
        "Name": "app",
        "LogConfiguration": {"LogDriver": "awslogs", "Options": dict(OPTIONS)},
    }
    expected = AwsLogs("/flask/dev", "eu-north-1", "app")
    assert awslogs.read(template, awslogs.TEMPLATE) == expected
    assert awslogs.read(template) is None  # camelCase keys find no log configuration
    assert awslogs.read(_api(**OPTIONS), awslogs.TEMPLATE) is None


def test_the_rendered_service_template_logs_each_container_under_its_own_prefix() -> None:
    # The template's values are intrinsic functions: the caller's resolve gives their values.
    template = json.loads((ROOT / "tests" / "golden" / "dev" / "service.json").read_text())
    (task,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ECS::TaskDefinition"
    ]
    known = {"LogGroup": "flask-fargate-dev-service-LogGroup-1", "AWS::Region": "eu-north-1"}
    found = {
        c["Name"]: awslogs.read(c, awslogs.TEMPLATE, lambda value: resolve(value, known))
        for c in task["ContainerDefinitions"]
    }
    assert found == {
        "app": AwsLogs("flask-fargate-dev-service-LogGroup-1", "eu-north-1", "app"),
        "otel-collector": AwsLogs(
            "flask-fargate-dev-service-LogGroup-1", "eu-north-1", "otel-collector"
        ),
    }
    # What cannot be known here (the group before the stack exists) leaves no target.
    app = task["ContainerDefinitions"][0]
    assert awslogs.read(app, awslogs.TEMPLATE, lambda value: resolve(value, {})) is None


def test_options_found_elsewhere_read_the_same() -> None:
    # delivery.ecs.awslogs_options hands over the options alone (diagnosis reads them so).
    assert awslogs.from_options(OPTIONS) == awslogs.read(_api(**OPTIONS))
    assert awslogs.from_options({}) is None
