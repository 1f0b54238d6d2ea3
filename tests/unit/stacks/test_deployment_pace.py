"""``DeploymentPace``: a fast deployment (incident rollback) shortens the waits, nothing else.

Each environment's service template is read as CloudFormation would take it for each value of
the parameter, and the bake times are checked against ECS's ranges as the AWS::ECS::Service
provider schema (shipped by cfn-lint) states them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from delivery.project import NAME as PROJECT
from delivery.render import read_stack_config
from stacks import service
from stacks.common import provider_schemas
from stacks.common.handler import render
from stacks.service import pace
from stacks.service.settings import MIN_BAKE_TIME_MINUTES
from tests.support.cfn import Template, one, with_parameters
from tests.support.paths import ROOT

ENVS = ("local", "dev", "prod")
REGION = "eu-north-1"
# The ECS service's deployment properties that hold a bake time, and where.
BAKES = (
    ("DeploymentConfiguration", "BakeTimeInMinutes"),
    ("CanaryConfiguration", "CanaryBakeTimeInMinutes"),
    ("LinearConfiguration", "StepBakeTimeInMinutes"),
)


def _deployment(template: Template, chosen: str) -> dict[str, Any]:
    resolved = with_parameters(template, {pace.PARAMETER: chosen})
    return dict(one(resolved, "AWS::ECS::Service")["Properties"]["DeploymentConfiguration"])


def _bakes(deployment: dict[str, Any]) -> dict[str, int]:
    found = {"BakeTimeInMinutes": deployment["BakeTimeInMinutes"]}
    for block, key in BAKES[1:]:
        if block in deployment:
            found[key] = deployment[block][key]
    return found


def _settings(env: str) -> dict[str, Any]:
    config = read_stack_config(ROOT / "config" / env / "service.yaml", env)
    return dict(config.user_data["deployment"])


def _template(deployment: dict[str, Any]) -> Template:
    return dict(
        json.loads(
            render(service, {"project": PROJECT, "environment": "dev", "deployment": deployment})
        )
    )


def test_the_pace_is_a_parameter_guarded_by_default(
    rendered: dict[str, dict[str, Template]],
) -> None:
    for env in ENVS:
        parameter = rendered[env]["service"]["Parameters"][pace.PARAMETER]
        assert parameter["AllowedValues"] == ["guarded", "fast"]
        assert parameter["Default"] == "guarded"


@pytest.mark.parametrize("env", ENVS)
def test_guarded_keeps_the_settings_waits(
    rendered: dict[str, dict[str, Template]], env: str
) -> None:
    settings = _settings(env)
    guarded = _deployment(rendered[env]["service"], pace.GUARDED)
    assert guarded["BakeTimeInMinutes"] == settings["bake_time_minutes"]
    if "canary" in settings:
        assert guarded["CanaryConfiguration"] == {
            "CanaryBakeTimeInMinutes": settings["canary"]["bake_minutes"],
            "CanaryPercent": float(settings["canary"]["percent"]),
        }


@pytest.mark.parametrize("env", ENVS)
def test_fast_cuts_the_waits_to_what_the_alarms_need(
    rendered: dict[str, dict[str, Template]], env: str
) -> None:
    template = rendered[env]["service"]
    guarded, fast = _deployment(template, pace.GUARDED), _deployment(template, pace.FAST)
    assert fast["BakeTimeInMinutes"] == MIN_BAKE_TIME_MINUTES
    if "CanaryConfiguration" in fast:
        assert fast["CanaryConfiguration"]["CanaryBakeTimeInMinutes"] == 0
        # The canary still goes first, judged by the same alarms: only the wait is gone.
        assert (
            fast["CanaryConfiguration"]["CanaryPercent"]
            == guarded["CanaryConfiguration"]["CanaryPercent"]
        )

    # Everything but the waits is the same: strategy, alarms, circuit breaker, capacity.
    def without_waits(deployment: dict[str, Any]) -> dict[str, Any]:
        rest = {k: v for k, v in deployment.items() if k != "BakeTimeInMinutes"}
        for block, key in BAKES[1:]:
            if block in rest:
                rest[block] = {k: v for k, v in rest[block].items() if k != key}
        return rest

    assert without_waits(fast) == without_waits(guarded)
    assert fast["Alarms"]["Enable"] is True
    assert fast["Alarms"]["Rollback"] is True
    assert fast["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


def test_prod_fast_takes_minutes_not_half_an_hour(rendered: dict[str, dict[str, Template]]) -> None:
    template = rendered["prod"]["service"]
    waits = {p: sum(_bakes(_deployment(template, p)).values()) for p in pace.PACES}
    assert waits == {"guarded": 25, "fast": MIN_BAKE_TIME_MINUTES}


def test_linear_steps_do_not_wait_when_fast() -> None:
    template = _template(
        {"strategy": "LINEAR", "bake_time_minutes": 30, "linear": {"step_bake_minutes": 4}}
    )
    assert _bakes(_deployment(template, pace.GUARDED)) == {
        "BakeTimeInMinutes": 30,
        "StepBakeTimeInMinutes": 4,
    }
    assert _bakes(_deployment(template, pace.FAST)) == {
        "BakeTimeInMinutes": MIN_BAKE_TIME_MINUTES,
        "StepBakeTimeInMinutes": 0,
    }


def test_fast_is_never_slower_than_guarded() -> None:
    template = _template({"strategy": "CANARY", "canary": {"bake_minutes": 0}})
    guarded, fast = (_bakes(_deployment(template, p)) for p in pace.PACES)
    assert all(fast[key] <= guarded[key] for key in guarded)


@pytest.mark.parametrize("strategy", ["BLUE_GREEN", "CANARY", "LINEAR"])
@pytest.mark.parametrize("chosen", pace.PACES)
def test_every_bake_is_in_the_range_ecs_takes(strategy: str, chosen: str) -> None:
    """ECS's ranges, from the provider schema: 0-1440 for each bake time."""
    schema = provider_schemas.resource_schema("AWS::ECS::Service", REGION)["definitions"]
    deployment = _deployment(_template({"strategy": strategy, "bake_time_minutes": 1440}), chosen)
    for block, key in BAKES:
        holder = deployment if block == "DeploymentConfiguration" else deployment.get(block)
        if holder is None:
            continue
        spec = schema[block]["properties"][key]
        assert spec["type"] == "integer"
        assert spec["minimum"] <= holder[key] <= spec["maximum"], (block, key, holder[key])
    # The schema's own bounds are what the settings model and the fast values rely on.
    assert schema["DeploymentConfiguration"]["properties"]["BakeTimeInMinutes"]["minimum"] == 0
    assert schema["CanaryConfiguration"]["properties"]["CanaryBakeTimeInMinutes"]["minimum"] == 0
    assert schema["LinearConfiguration"]["properties"]["StepBakeTimeInMinutes"]["minimum"] == 0
