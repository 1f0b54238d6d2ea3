"""The AWS estimate: the measured time, plus what the templates say AWS waits for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from delivery.rehearsal import definition, estimate
from delivery.rehearsal.actions import SKIPPED, STOPPED, SUCCEEDED, Outcome
from tests.support.pipeline_template import launched, template

GOLDEN = Path(__file__).resolve().parents[3] / "golden"


def service(env: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN / env / "service.json").read_text())
    return loaded


def test_dev_bakes_its_blue_green_deployment_and_prod_waits_out_its_canary_too() -> None:
    dev = estimate.deployment(service("dev"))
    assert (dev.strategy, dev.health_s, dev.shift_s, dev.bake_s, dev.drain_s) == (
        "BLUE_GREEN", 2 * 5.0, 0.0, 5 * 60.0, 30.0
    )  # fmt: skip
    prod = estimate.deployment(service("prod"))
    assert (prod.strategy, prod.shift_s, prod.bake_s) == ("CANARY", 10 * 60.0, 15 * 60.0)
    assert prod.seconds - dev.seconds == pytest.approx(10 * 60.0 + 10 * 60.0)


def test_a_linear_deployment_waits_between_steps_but_not_after_the_last() -> None:
    body = service("dev")
    config = body["Resources"]["Service"]["Properties"]["DeploymentConfiguration"]
    config["Strategy"] = "LINEAR"
    config["LinearConfiguration"] = {"StepPercent": 25.0, "StepBakeTimeInMinutes": 2}
    assert estimate.deployment(body).shift_s == 3 * 2 * 60.0  # 25, 50, 75 then 100: 3 waits


def test_each_stage_adds_what_aws_spends_and_skipped_stages_borrow_their_buildspecs_time() -> None:
    body = template()
    pipeline = definition.read(body, launched(body))
    outcomes = [
        Outcome("Source", "Source", SUCCEEDED, 0.1),
        Outcome("Build", "Build", SUCCEEDED, 40.0),
        Outcome("DeployDev", "Deploy", SUCCEEDED, 8.0),
        Outcome("ApproveProd", "Approval", SKIPPED, 0.0),
        Outcome("DeployProd", "Deploy", SKIPPED, 0.0),
    ]
    deployments = {env: estimate.deployment(service(env)) for env in ("dev", "prod")}
    stages = {e.stage: e for e in estimate.stages(pipeline, outcomes, deployments, True)}
    build = stages["Build"]
    # Measured 40 s, plus AWS's: stage transition 5 s, build host 60 s, Trivy 70 s, the gate 330 s.
    assert build.aws_s == pytest.approx(40.0 + 5.0 + 60.0 + 70.0 + 330.0)
    assert build.adds == "build host 60 s, Trivy 70 s, gate 330 s"
    # Measured 8 s, plus a transition, a build host and dev's blue/green deployment.
    assert stages["DeployDev"].aws_s == pytest.approx(8.0 + 5.0 + 60.0 + deployments["dev"].seconds)
    prod = stages["DeployProd"]
    assert not prod.ran
    assert prod.here_s == 8.0  # DeployDev's time: the same buildspec
    totals = estimate.totals(pipeline, list(stages.values()))
    push = sum(stages[s].aws_s for s in ("Source", "Build", "DeployDev"))
    assert totals.pipeline_s == pytest.approx(push)
    assert totals.production_s == pytest.approx(sum(e.aws_s for e in stages.values()))


def test_without_the_gate_substituted_the_build_adds_no_gate_time() -> None:
    body = template()
    pipeline = definition.read(body, launched(body))
    outcomes = [Outcome("Build", "Build", SUCCEEDED, 300.0), Outcome("X", "Y", STOPPED, 0.0)]
    (build,) = [e for e in estimate.stages(pipeline, outcomes, {}, False) if e.stage == "Build"]
    assert "gate" not in build.adds


def test_a_pipeline_deploy_is_estimated_at_the_guarded_pace() -> None:
    """The bakes are ``Fn::If`` on the fast pace (incident rollbacks); a pipeline never uses it."""
    from stacks.service import pace  # noqa: PLC0415 - the stacks group, this test only

    assert estimate.FAST_PACE_CONDITION == pace.CONDITION
    config = service("prod")["Resources"]["Service"]["Properties"]["DeploymentConfiguration"]
    assert config["BakeTimeInMinutes"] == {"Fn::If": [pace.CONDITION, 5, 15]}
