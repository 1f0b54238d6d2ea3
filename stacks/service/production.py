"""Which target group serves production: ECS-native blue/green alternates it every deployment.

A deployment starts the new version in the group that does not serve production and shifts the
production listener rule to it, so after an even number of deployments blue serves production
and after an odd number green does. The stack cannot know which: the deploy reads the live group
from the production listener rule's weights and passes it as the ``ProductionTargetGroup``
parameter (the group serving production *before* this update), and the template picks per group
with ``Fn::If`` on the ``BlueServesProduction`` condition.
"""

from __future__ import annotations

from typing import Any

from troposphere import Equals, If, Parameter, Ref, Template

PARAMETER = "ProductionTargetGroup"
BLUE_SERVES_PRODUCTION = "BlueServesProduction"
COLOURS = ("Blue", "Green")


def add_production_target_group(template: Template) -> None:
    """The ``ProductionTargetGroup`` parameter and the condition the template branches on."""
    template.add_parameter(
        Parameter(
            PARAMETER,
            Type="String",
            AllowedValues=list(COLOURS),
            Default=COLOURS[0],
            Description="the target group that serves production before this update",
        )
    )
    template.add_condition(BLUE_SERVES_PRODUCTION, Equals(Ref(PARAMETER), COLOURS[0]))


def for_live(blue: Any, green: Any) -> If:
    """``blue`` when blue serves production before this update, else ``green``."""
    return If(BLUE_SERVES_PRODUCTION, blue, green)


def for_new(blue: Any, green: Any) -> If:
    """The value for the group this update's deployment shifts to (the one not serving)."""
    return If(BLUE_SERVES_PRODUCTION, green, blue)
