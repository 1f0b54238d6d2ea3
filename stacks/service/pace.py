"""How fast this update's deployment goes: ``guarded`` (the settings' canary and bake) or ``fast``.

A fast deployment is for incidents (``invoke rollback --fast``): the same stack update, the same
alarms and circuit breaker, but the canary's or linear steps' waits are cut to nothing and the
bake to the least the deployment alarms need (``MIN_BAKE_TIME_MINUTES``: their window plus the
metric delay), so an alarm can still switch traffic back while the old tasks run. The pace is the
``DeploymentPace`` parameter, so CloudFormation records which one each update used; every normal
deploy passes ``guarded`` again. ECS takes 0-1440 minutes for each of the three bake times
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html,
API_CanaryConfiguration.html, API_LinearConfiguration.html; the AWS::ECS::Service provider
schema cfn-lint ships says the same).
"""

from __future__ import annotations

from troposphere import Equals, If, Parameter, Ref, Template

from stacks.service.settings import MIN_BAKE_TIME_MINUTES

PARAMETER = "DeploymentPace"
GUARDED = "guarded"
FAST = "fast"
PACES = (GUARDED, FAST)
CONDITION = "FastDeployment"
# Fast: traffic shifts without waiting between steps; the bake alone gives the alarms their window.
FAST_STEP_BAKE_MINUTES = 0
FAST_BAKE_MINUTES = MIN_BAKE_TIME_MINUTES


def add_deployment_pace(template: Template) -> None:
    """The ``DeploymentPace`` parameter (default guarded) and the condition the bakes follow."""
    template.add_parameter(
        Parameter(
            PARAMETER,
            Type="String",
            AllowedValues=list(PACES),
            Default=GUARDED,
            Description="guarded: the settings' canary/linear steps and bake; fast (incident "
            "rollback): no waits between steps, the bake the deployment alarms need",
        )
    )
    template.add_condition(CONDITION, Equals(Ref(PARAMETER), FAST))


def paced(guarded: int, fast: int) -> If:
    """``guarded`` for a guarded deployment, ``fast`` for a fast one (never more than guarded)."""
    return If(CONDITION, min(fast, guarded), guarded)


def bake_minutes(guarded: int) -> If:
    """BakeTimeInMinutes: the settings' bake, or the alarms' minimum when fast."""
    return paced(guarded, FAST_BAKE_MINUTES)


def step_bake_minutes(guarded: int) -> If:
    """A canary's or linear step's bake: the settings' wait, or none when fast."""
    return paced(guarded, FAST_STEP_BAKE_MINUTES)
