"""How long each stage would take on AWS: measured here, plus what only AWS spends.

A rehearsed action's time here is its commands' time; on AWS an action also waits for a build
host, and a deploy waits for ECS, which the emulator skips. So, per stage:

- Source: the connection action writes a small JSON reference (the clone is paid inside each
  CodeBuild action's DOWNLOAD_SOURCE, measured here);
- a CodeBuild action: the build host's provisioning, then the commands as measured here, plus
  what the rehearsal substituted (the Trivy install and scans; the quality gate when it was
  told the gate had passed);
- a deploy action: also the CloudFormation update and the ECS blue/green deployment its
  template declares: a new task starts, passes its target group's health checks
  (HealthyThresholdCount x HealthCheckIntervalSeconds), traffic shifts (a canary waits its
  CanaryBakeTimeInMinutes, a linear one its steps), the deployment bakes (BakeTimeInMinutes),
  and the old tasks drain (deregistration delay).

AWS publishes no figure for build-host provisioning, a Fargate task's start or a stage
transition; the constants below are the public measurements' middle (each with its source), and
the table says which part of an estimate is such an assumption.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from delivery.rehearsal.actions import FAILED, SKIPPED, STOPPED, Outcome
from delivery.rehearsal.definition import Pipeline

# Build-host provisioning of a cached standard image, on demand: 30-90 s observed
# (aws/aws-codebuild-docker-images#424, #793; aws/aws-cdk#23096). No AWS figure.
PROVISIONING_S = 60.0
# Between one stage's end and the next one's start; no AWS figure (aws/aws-cdk#14158).
TRANSITION_S = 5.0
# The source action only records the commit (CODEBUILD_CLONE_REF): seconds.
SOURCE_S = 5.0
# Installing Trivy (a 50 MB download) and two scans (the first downloads its database).
TRIVY_S = 10.0 + 45.0 + 15.0
# A Fargate task from same-region ECR to RUNNING: 30-60 s observed (aws/containers-roadmap#696,
# #358); AWS publishes none.
TASK_START_S = 45.0
# CloudFormation's own work around an ECS service update, besides the deployment it waits for.
CLOUDFORMATION_S = 30.0
# Moving listener-rule weights (test, then production traffic): seconds each.
TRAFFIC_SHIFT_S = 10.0
# The quality gate (nox -s lint typecheck tests cfn_lint security), counted when the rehearsal was
# told it already passed: its sessions took about 3 min 50 s in CI on a warm 2-core machine,
# plus about 20 s per session to install its locked environment on a build host's cold cache.
GATE_S = 330.0
# What a pipeline run and a commit's way to production must stay under (the project's targets).
PIPELINE_TARGET_S = 10 * 60.0
PRODUCTION_TARGET_S = 2 * 60 * 60.0
# The service template's condition for an incident rollback's fast pace (stacks/service/pace.py):
# a pipeline deploy is always guarded, so its wait is the condition's false branch.
FAST_PACE_CONDITION = "FastDeployment"


@dataclass(frozen=True)
class Deployment:
    """What an environment's service template says its blue/green deployment waits for."""

    strategy: str
    health_s: float  # HealthyThresholdCount x HealthCheckIntervalSeconds
    shift_s: float  # canary or linear bake between traffic shifts
    bake_s: float  # BakeTimeInMinutes
    drain_s: float  # the target groups' deregistration delay

    @property
    def seconds(self) -> float:
        """The deployment, from the update's start to the old tasks gone."""
        return (
            CLOUDFORMATION_S
            + TASK_START_S
            + self.health_s
            + 2 * TRAFFIC_SHIFT_S
            + self.shift_s
            + self.bake_s
            + self.drain_s
        )


def _resources(template: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    return [
        r.get("Properties", {})
        for r in template.get("Resources", {}).values()
        if r.get("Type") == kind
    ]


def _guarded(value: Any) -> Any:
    """A bake time as a pipeline (guarded) deploy gets it: the pace's ``Fn::If`` decided."""
    if isinstance(value, Mapping) and list(value) == ["Fn::If"]:
        condition, _fast, guarded = value["Fn::If"]
        if condition == FAST_PACE_CONDITION:
            return guarded
    return value


def deployment(template: Mapping[str, Any]) -> Deployment:
    """The blue/green deployment a service template declares."""
    (service,) = _resources(template, "AWS::ECS::Service")
    groups = _resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    group = groups[0] if groups else {}
    config = service.get("DeploymentConfiguration", {})
    strategy = str(config.get("Strategy", "ROLLING"))
    shift = 0.0
    if strategy == "CANARY":
        shift = 60.0 * float(
            _guarded(config.get("CanaryConfiguration", {}).get("CanaryBakeTimeInMinutes", 10))
        )
    elif strategy == "LINEAR":
        linear = config.get("LinearConfiguration", {})
        step = float(linear.get("StepPercent", 10.0))
        # The bake is not applied after 100 %: (100/step) - 1 waits when it divides evenly.
        waits = math.ceil(100.0 / step) - 1
        shift = 60.0 * waits * float(_guarded(linear.get("StepBakeTimeInMinutes", 6)))
    attributes = {a["Key"]: a["Value"] for a in group.get("TargetGroupAttributes", [])}
    return Deployment(
        strategy=strategy,
        health_s=float(group.get("HealthyThresholdCount", 5))
        * float(group.get("HealthCheckIntervalSeconds", 30)),
        shift_s=shift,
        bake_s=60.0 * float(_guarded(config.get("BakeTimeInMinutes", 0))),
        drain_s=float(attributes.get("deregistration_delay.timeout_seconds", 300)),
    )


@dataclass(frozen=True)
class StageEstimate:
    """One stage: measured here, and estimated on AWS with what that adds."""

    stage: str
    here_s: float
    aws_s: float
    adds: str  # what the AWS estimate adds to the measured time, in words
    ran: bool  # False when the stage was skipped or never reached here


def _deploy_environment(outcome_stage: str, pipeline: Pipeline) -> str | None:
    for stage in pipeline.stages:
        if stage.name != outcome_stage:
            continue
        for action in stage.actions:
            for variable in action.environment_overrides():
                if variable["name"] == "DEPLOY_ENV":
                    return variable["value"]
    return None


def stages(
    pipeline: Pipeline,
    outcomes: Sequence[Outcome],
    deployments: Mapping[str, Deployment],
    gate_skipped: bool,
) -> list[StageEstimate]:
    """Every stage of ``pipeline``: how long here, and how long it would be on AWS."""
    by_stage: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_stage.setdefault(outcome.stage, []).append(outcome)
    measured = _measured_by_buildspec(pipeline, by_stage)
    found = []
    for stage in pipeline.stages:
        ran = [o for o in by_stage.get(stage.name, []) if o.result not in (SKIPPED, STOPPED)]
        here = sum(o.seconds for o in ran)
        adds: list[str] = []
        if not ran:
            # Not run here (skipped, or after a stop): as long as an action of the same buildspec.
            here = sum(measured.get(a.project.buildspec, 0.0) for a in stage.actions if a.project)
        aws = here + TRANSITION_S
        kinds = {a.provider for a in stage.actions}
        if "CodeStarSourceConnection" in kinds:
            aws += SOURCE_S
        if "Manual" in kinds:
            adds.append("a person's approval (not counted)")
        if "CodeBuild" in kinds:
            aws += PROVISIONING_S
            adds.append(f"build host {PROVISIONING_S:.0f} s")
            if any(a.project is not None and a.project.privileged for a in stage.actions):
                aws += TRIVY_S
                adds.append(f"Trivy {TRIVY_S:.0f} s")
                if gate_skipped:
                    aws += GATE_S
                    adds.append(f"gate {GATE_S:.0f} s")
        environment = _deploy_environment(stage.name, pipeline)
        if environment is not None and environment in deployments:
            plan = deployments[environment]
            aws += plan.seconds
            adds.append(f"ECS {plan.strategy.lower()} {plan.seconds / 60:.1f} min")
        found.append(StageEstimate(stage.name, here, aws, ", ".join(adds), bool(ran)))
    return found


def _measured_by_buildspec(
    pipeline: Pipeline, by_stage: Mapping[str, Sequence[Outcome]]
) -> dict[str, float]:
    """Seconds one successful action of each buildspec took here."""
    found: dict[str, float] = {}
    for stage in pipeline.stages:
        for outcome in by_stage.get(stage.name, []):
            action = next((a for a in stage.actions if a.name == outcome.action), None)
            if action is not None and action.project is not None and outcome.result != FAILED:
                found.setdefault(action.project.buildspec, outcome.seconds)
    return found


@dataclass(frozen=True)
class Totals:
    """The two figures the project's targets are about."""

    pipeline_s: float  # a push to the branch: every stage not limited to releases
    production_s: float  # a release: every stage, without the time a person takes to approve


def totals(pipeline: Pipeline, estimates: Sequence[StageEstimate]) -> Totals:
    """A push run (release-only stages skipped) and a release's way to production."""
    releases_only = {s.name for s in pipeline.stages if s.entry}
    push = sum(e.aws_s for e in estimates if e.stage not in releases_only)
    return Totals(push, sum(e.aws_s for e in estimates))


__all__ = ["FAILED", "Deployment", "StageEstimate", "Totals", "deployment", "stages", "totals"]
