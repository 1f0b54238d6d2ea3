"""How fast a deploy's ECS deployment goes: the service stack's ``DeploymentPace`` parameter.

``guarded`` (every deploy, and a rollback by default) runs the canary/linear steps and bake the
environment's settings declare; ``fast`` (``invoke rollback --fast``, for incidents) shifts without
waiting between steps and bakes only as long as the deployment alarms need. The alarms and the
circuit breaker stay on either way; the template decides the waits (stacks/service/pace.py),
and CloudFormation records which pace each update used. The Sceptre variable ``deployment_pace``
carries it to the parameter (config/<env>/service.yaml).
"""

from __future__ import annotations

VARIABLE = "deployment_pace"
GUARDED = "guarded"  # the parameter's AllowedValues: stacks/service/pace.py PACES
FAST = "fast"
PARAMETER = "DeploymentPace"  # the service stack's parameter the variable sets
